/**
 * The gateways' JSON-RPC security in the container deployment (on by default there; the devnet keeps it off):
 *
 * - TLS: a certificate authority of the deployment (ECDSA P-256, made with openssl), and per gateway a certificate
 *   it signs for the names a client uses: `localhost` and 127.0.0.1 (the published port) and the compose service
 *   name. Clients trust the one CA file (e.g. NODE_EXTRA_CA_CERTS=infra/generated/tls/ca.crt).
 * - Bearer tokens: the issuer's ES256 key pair. Gateways get the public key; the private key stays with the
 *   operator, who mints tokens with `npm run token -- --key <it> --scope ...`.
 * - The health token: a long-lived token whose scope is `eth_blockNumber` alone, which the gateways' health checks
 *   send (a leaked one reads the head, nothing else).
 *
 * Kept across runs like the keys of the network (clients already trust the CA; issued tokens stay valid); a file
 * that is missing is made anew.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateTokenKeys, mintToken } from '../../actors/gateway/auth/mint.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import { GeneratedFile, serviceName } from './layout.js';

const execFileP = promisify(execFile);

/** The health checks' token: long-lived, since nothing renews it inside a running container. */
const HEALTH_TOKEN_TTL_SECONDS = 10 * 365 * 24 * 3600;
const HEALTH_TOKEN_SCOPE = 'eth_blockNumber';
const CA_DAYS = 3650;
/** What browsers and most TLS stacks accept as a leaf's longest life. */
const LEAF_DAYS = 825;

export interface RpcSecurityFilesOptions {
  /** The uid/gid the gateway containers run as: their TLS key and the health token are handed to it (when root). */
  owner?: { uid: number; gid: number };
  now?: Date;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed (apt-get install -y openssl): it makes the gateways\' TLS certificates');
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim().slice(0, 500)}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makeCa(keyFile: string, certFile: string, networkName: string): Promise<void> {
  await openssl([
    'req', '-x509', ...EC_KEY, '-keyout', keyFile, '-out', certFile, '-days', String(CA_DAYS), '-sha256',
    '-subj', `/CN=${networkName} JSON-RPC CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

async function makeGatewayCert(o: { keyFile: string; certFile: string; caKey: string; caCert: string; host: string }): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rpc-cert-'));
  try {
    const csr = path.join(tmp, 'gateway.csr');
    const ext = path.join(tmp, 'gateway.ext');
    await openssl(['req', '-new', ...EC_KEY, '-keyout', o.keyFile, '-out', csr, '-subj', `/CN=${o.host}`]);
    await writeFile(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=DNS:localhost,DNS:${o.host},IP:127.0.0.1`,
      ].join('\n') + '\n',
    );
    const serial = '0x' + randomBytes(16).toString('hex');
    await openssl(['x509', '-req', '-in', csr, '-CA', o.caCert, '-CAkey', o.caKey, '-set_serial', serial, '-days', String(LEAF_DAYS), '-sha256', '-extfile', ext, '-out', o.certFile]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function writeIfMissing(file: string, make: () => Promise<string>, mode: number): Promise<void> {
  if (existsSync(file)) return;
  await writeFile(file, await make(), { mode });
  await chmod(file, mode);
}

/** Writes (or keeps) the files listed in GeneratedFile.rpc under `dir`; returns them, relative to `dir`. */
export async function writeRpcSecurityFiles(dir: string, network: NetworkDescription, opts: RpcSecurityFilesOptions = {}): Promise<string[]> {
  const at = (rel: string) => path.join(dir, rel);
  const rpc = GeneratedFile.rpc;
  await mkdir(at(path.dirname(rpc.caCert)), { recursive: true, mode: 0o755 });
  await mkdir(at(path.dirname(rpc.issuerPublicKey)), { recursive: true, mode: 0o755 });
  const files: string[] = [];

  // the token issuer
  if (!existsSync(at(rpc.issuerPrivateKey)) || !existsSync(at(rpc.issuerPublicKey))) {
    const keys = generateTokenKeys('ES256');
    await writeFile(at(rpc.issuerPrivateKey), keys.privateKeyPem, { mode: 0o600 });
    await chmod(at(rpc.issuerPrivateKey), 0o600);
    await writeFile(at(rpc.issuerPublicKey), keys.publicKeyPem, { mode: 0o644 });
    await chmod(at(rpc.issuerPublicKey), 0o644);
    await rm(at(rpc.healthToken), { force: true }); // signed by the old key
  }
  files.push(rpc.issuerPrivateKey, rpc.issuerPublicKey);
  const issuerKey = await readFile(at(rpc.issuerPrivateKey), 'utf8');
  await writeIfMissing(at(rpc.healthToken), async () => (await mintToken({ privateKey: issuerKey, scope: HEALTH_TOKEN_SCOPE, ttlSeconds: HEALTH_TOKEN_TTL_SECONDS, now: opts.now ?? new Date(), subject: 'healthcheck' })) + '\n', 0o600);
  files.push(rpc.healthToken);

  // TLS: the CA, then a certificate per gateway (all made anew when the CA is)
  if (!existsSync(at(rpc.caKey)) || !existsSync(at(rpc.caCert))) {
    await makeCa(at(rpc.caKey), at(rpc.caCert), network.name);
    for (const p of network.participants) await rm(at(rpc.gatewayCert(p.id)), { force: true });
  }
  await chmod(at(rpc.caKey), 0o600);
  await chmod(at(rpc.caCert), 0o644);
  files.push(rpc.caKey, rpc.caCert);
  for (const p of network.participants) {
    const keyFile = at(rpc.gatewayKey(p.id));
    const certFile = at(rpc.gatewayCert(p.id));
    if (!existsSync(keyFile) || !existsSync(certFile)) {
      await makeGatewayCert({ keyFile, certFile, caKey: at(rpc.caKey), caCert: at(rpc.caCert), host: serviceName(p.id, 'gateway') });
    }
    await chmod(keyFile, 0o600);
    await chmod(certFile, 0o644);
    files.push(rpc.gatewayKey(p.id), rpc.gatewayCert(p.id));
  }

  // What the gateways read, theirs alone; the CA key and the issuer's private key stay with whoever ran this.
  if (opts.owner) {
    for (const f of [rpc.healthToken, ...network.participants.map((p) => rpc.gatewayKey(p.id))]) await chown(at(f), opts.owner.uid, opts.owner.gid);
  }
  return files;
}
