#!/usr/bin/env node
/**
 * Bearer tokens for a gateway's JSON-RPC endpoint (see README "Securing the JSON-RPC endpoint").
 *
 *   npm run token -- --generate-keys <dir> [--alg ES256|EdDSA]
 *       writes <dir>/rpc-jwt-private.pem (0600, keep it with the token issuer) and <dir>/rpc-jwt-public.pem
 *       (give it to gateways: QUORUM_RPC_JWT_PUBLIC_KEY_FILE); never overwrites.
 *   npm run token -- --key <private key file> --scope "eth_* net_*" [--ttl 3600] [--issuer X] [--audience Y] [--subject Z]
 *       prints a JWT (exp = now + ttl seconds) whose scope names the methods it may call.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateTokenKeys, mintToken } from '../actors/gateway/auth/mint.js';

const USAGE = `usage:
  token --generate-keys <dir> [--alg ES256|EdDSA]
  token --key <private key file> --scope "eth_* net_* web3_*" [--ttl 3600] [--issuer X] [--audience Y] [--subject Z]
scope entries: method names, patterns (eth_*, raft_*, istanbul_*), aliases (private, admin), or * for everything`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'generate-keys': { type: 'string' },
      alg: { type: 'string', default: 'ES256' },
      key: { type: 'string' },
      scope: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      subject: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  const dir = values['generate-keys'];
  if (dir !== undefined) {
    if (values.alg !== 'ES256' && values.alg !== 'EdDSA') throw new UsageError(`--alg must be ES256 or EdDSA, got ${values.alg}`);
    const { privateKeyPem, publicKeyPem } = generateTokenKeys(values.alg);
    mkdirSync(dir, { recursive: true });
    const priv = path.join(dir, 'rpc-jwt-private.pem');
    const pub = path.join(dir, 'rpc-jwt-public.pem');
    writeFileSync(priv, privateKeyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(pub, publicKeyPem, { mode: 0o644, flag: 'wx' });
    console.log(`${values.alg} key pair: ${priv} (issuer only) and ${pub} (QUORUM_RPC_JWT_PUBLIC_KEY_FILE)`);
    return;
  }
  if (!values.key || !values.scope) throw new UsageError('--key and --scope are required (or --generate-keys <dir>)');
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new UsageError(`--ttl must be a positive number of seconds, got ${values.ttl}`);
  const token = await mintToken({
    privateKey: readFileSync(values.key, 'utf8'),
    scope: values.scope,
    ttlSeconds: ttl,
    now: new Date(),
    issuer: values.issuer,
    audience: values.audience,
    subject: values.subject,
  });
  console.log(token);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`token: ${err instanceof Error ? err.message : String(err)}${usage ? `\n${USAGE}` : ''}`);
  process.exit(usage ? 2 : 1);
});
