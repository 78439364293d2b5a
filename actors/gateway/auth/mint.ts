/**
 * The issuer's side, for operators and tests (cli/token.ts): a key pair, and a token for a scope and a lifetime.
 * The private key never goes to a gateway; the gateway gets the public one (QUORUM_RPC_JWT_PUBLIC_KEY_FILE).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { ScopeClaim } from './scope.js';
import { algorithmFor } from './token.js';

export type KeyPairAlgorithm = 'ES256' | 'EdDSA';

/** A new key pair as PEM: PKCS#8 private key, SPKI public key. */
export function generateTokenKeys(algorithm: KeyPairAlgorithm = 'ES256'): { privateKeyPem: string; publicKeyPem: string } {
  const pair = algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface MintOptions {
  /** PEM private key (or a KeyObject). */
  privateKey: string | KeyObject;
  /** Space-separated or a list: `eth_* net_*`, `private`, `*`. */
  scope: string | readonly string[];
  ttlSeconds: number;
  now: Date;
  issuer?: string;
  audience?: string;
  subject?: string;
}

export async function mintToken(o: MintOptions): Promise<string> {
  if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds <= 0) throw new Error(`ttl must be a positive number of seconds, got ${o.ttlSeconds}`);
  const scope = ScopeClaim.safeParse(o.scope);
  if (!scope.success) throw new Error('scope must name at least one method or pattern');
  const key = typeof o.privateKey === 'string' ? createPrivateKey(o.privateKey) : o.privateKey;
  const alg = algorithmFor(createPublicKey(key));
  const iat = Math.floor(o.now.getTime() / 1000);
  let jwt = new SignJWT({ scope: scope.data.join(' ') }).setProtectedHeader({ alg, typ: 'JWT' }).setIssuedAt(iat).setExpirationTime(iat + o.ttlSeconds);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  if (o.subject) jwt = jwt.setSubject(o.subject);
  return jwt.sign(key);
}
