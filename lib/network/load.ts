/** Reading the network description and a participant's secrets back from disk, zod-validated. */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fromSeed } from '@nats-io/nkeys';
import { privateToAddress } from '@ethereumjs/util';
import { z } from 'zod';
import { ACTORS, NetworkDescription, ParticipantSecrets } from './description.js';

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${what} ${file}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function invalid(what: string, file: string, error: z.ZodError): Error {
  return new Error(`${what} ${file} is invalid:\n${z.prettifyError(error)}`);
}

/** Cross-field checks zod does not express: unique ids, ports, keys. Throws with a clear message. */
export function checkNetwork(network: NetworkDescription): void {
  const dup = (values: string[], what: string) => {
    const seen = new Set<string>();
    for (const v of values) {
      if (seen.has(v)) throw new Error(`network ${network.name}: duplicate ${what} ${v}`);
      seen.add(v);
    }
  };
  dup(network.participants.map((p) => p.id), 'participant id');
  dup(network.participants.flatMap((p) => [String(p.rpcPort), String(p.tmPort)]), 'rpc/tm port');
  dup(network.participants.map((p) => p.privacyPublicKey), 'privacy public key');
  dup(network.participants.map((p) => p.validatorKey), 'validator key');
  dup(network.participants.flatMap((p) => ACTORS.map((a) => p.nkeys[a])), 'nkey');
  for (const p of network.participants) {
    for (const a of ACTORS) if (!p.nkeys[a]) throw new Error(`participant ${p.id} has no nkey for actor ${a}`);
  }
}

export async function loadNetwork(file: string): Promise<NetworkDescription> {
  const parsed = NetworkDescription.safeParse(await readJson(file, 'network description'));
  if (!parsed.success) throw invalid('network description', file, parsed.error);
  checkNetwork(parsed.data);
  return parsed.data;
}

/**
 * Loads one participant's secrets. With `network`, also checks that they belong to it: the
 * participant exists and every NKEY seed matches the public key in the description.
 */
export async function loadSecrets(file: string, network?: NetworkDescription): Promise<ParticipantSecrets> {
  try {
    const st = await stat(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      process.emitWarning(`secrets file ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); expected 600`);
    }
  } catch {
    /* readJson reports the missing file */
  }
  const parsed = ParticipantSecrets.safeParse(await readJson(file, 'secrets file'));
  if (!parsed.success) throw invalid('secrets file', file, parsed.error);
  if (network) checkSecrets(network, parsed.data, file);
  return parsed.data;
}

export function checkSecrets(network: NetworkDescription, secrets: ParticipantSecrets, file = 'secrets'): void {
  const p = network.participants.find((x) => x.id === secrets.participant);
  if (!p) throw new Error(`${file}: participant ${secrets.participant} is not in network ${network.name}`);
  for (const a of ACTORS) {
    const seed = secrets.nkeySeeds[a];
    if (!seed) throw new Error(`${file}: no nkey seed for actor ${a}`);
    let pub: string;
    try {
      pub = fromSeed(new TextEncoder().encode(seed)).getPublicKey();
    } catch (err) {
      throw new Error(`${file}: nkey seed for ${a} is malformed: ${(err as Error).message}`);
    }
    if (pub !== p.nkeys[a]) throw new Error(`${file}: nkey seed for ${secrets.participant}/${a} does not match the network description`);
  }
  if (secrets.accountKeys.length !== p.accounts.length) {
    throw new Error(`${file}: ${secrets.accountKeys.length} account keys for ${p.accounts.length} accounts in the description`);
  }
  secrets.accountKeys.forEach((k, i) => {
    const addr = '0x' + Buffer.from(privateToAddress(Buffer.from(k.slice(2), 'hex'))).toString('hex');
    if (addr !== p.accounts[i].toLowerCase()) throw new Error(`${file}: account key ${i} does not match account ${p.accounts[i]}`);
  });
  if (secrets.enclaveKey.publicKey !== p.privacyPublicKey) throw new Error(`${file}: enclave key does not match privacyPublicKey of ${p.id}`);
  let validatorPub: string | undefined;
  try {
    const priv = createPrivateKey({ key: Buffer.from(secrets.validatorPrivateKey, 'hex'), format: 'der', type: 'pkcs8' });
    const x = createPublicKey(priv).export({ format: 'jwk' }).x;
    validatorPub = x ? Buffer.from(x, 'base64url').toString('hex') : undefined;
  } catch (err) {
    throw new Error(`${file}: validator private key is not a PKCS8 Ed25519 key: ${(err as Error).message}`);
  }
  if (validatorPub !== p.validatorKey) throw new Error(`${file}: validator private key does not match validatorKey of ${p.id}`);
}
