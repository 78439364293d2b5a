/**
 * Where the endpoint's security is configured: environment variables of the gateway process (off when unset,
 * so the devnet is unchanged; easy to set per container). An empty value counts as unset.
 *
 *   QUORUM_RPC_TLS_CERT              PEM certificate (chain) file: serve HTTPS instead of HTTP (with QUORUM_RPC_TLS_KEY)
 *   QUORUM_RPC_TLS_KEY               PEM private key file of that certificate
 *   QUORUM_RPC_JWT_PUBLIC_KEY_FILE   the token issuer's public key (PEM SPKI or JWK JSON): every request needs
 *                                    `Authorization: Bearer <JWT>` signed by its private key
 *   QUORUM_RPC_JWT_ISSUER            optional: required `iss` claim
 *   QUORUM_RPC_JWT_AUDIENCE          optional: required `aud` claim (comma-separated: any of them)
 *
 * (QUORUM_RPC_HOST / _PORT / _CORS stay in main.ts.)
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createTokenVerifier, parseVerificationKey, type TokenVerifier, type VerificationAlgorithm } from './token.js';

const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const Path = z.preprocess(unsetIfEmpty, z.string().trim().min(1).optional());

const RpcSecurityEnv = z
  .object({
    QUORUM_RPC_TLS_CERT: Path,
    QUORUM_RPC_TLS_KEY: Path,
    QUORUM_RPC_JWT_PUBLIC_KEY_FILE: Path,
    QUORUM_RPC_JWT_ISSUER: Path,
    QUORUM_RPC_JWT_AUDIENCE: Path,
  })
  .refine((e) => (e.QUORUM_RPC_TLS_CERT === undefined) === (e.QUORUM_RPC_TLS_KEY === undefined), {
    message: 'QUORUM_RPC_TLS_CERT and QUORUM_RPC_TLS_KEY go together',
  })
  .refine((e) => e.QUORUM_RPC_JWT_PUBLIC_KEY_FILE !== undefined || (e.QUORUM_RPC_JWT_ISSUER === undefined && e.QUORUM_RPC_JWT_AUDIENCE === undefined), {
    message: 'QUORUM_RPC_JWT_ISSUER / QUORUM_RPC_JWT_AUDIENCE need QUORUM_RPC_JWT_PUBLIC_KEY_FILE',
  });

const RpcSecurityConfig = z.object({
  tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  jwt: z
    .object({
      publicKeyFile: z.string().min(1),
      issuer: z.string().min(1).optional(),
      audience: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
});
export type RpcSecurityConfig = z.infer<typeof RpcSecurityConfig>;

/** The configuration named by the environment; throws a readable error when it is inconsistent. */
export function rpcSecurityFromEnv(env: Record<string, string | undefined>): RpcSecurityConfig {
  const r = RpcSecurityEnv.safeParse(env);
  if (!r.success) throw new Error(`invalid RPC security configuration: ${r.error.issues.map((i) => i.message).join('; ')}`);
  const e = r.data;
  const audience = e.QUORUM_RPC_JWT_AUDIENCE?.split(',').map((s) => s.trim()).filter(Boolean);
  return RpcSecurityConfig.parse({
    ...(e.QUORUM_RPC_TLS_CERT && e.QUORUM_RPC_TLS_KEY ? { tls: { certFile: e.QUORUM_RPC_TLS_CERT, keyFile: e.QUORUM_RPC_TLS_KEY } } : {}),
    ...(e.QUORUM_RPC_JWT_PUBLIC_KEY_FILE
      ? {
          jwt: {
            publicKeyFile: e.QUORUM_RPC_JWT_PUBLIC_KEY_FILE,
            ...(e.QUORUM_RPC_JWT_ISSUER ? { issuer: e.QUORUM_RPC_JWT_ISSUER } : {}),
            ...(audience?.length ? { audience } : {}),
          },
        }
      : {}),
  });
}

/** What the HTTP layer uses: the TLS material and a token verifier, each present only when configured. */
export interface RpcSecurity {
  tls?: { cert: Buffer; key: Buffer };
  verifier?: TokenVerifier;
  /** For the startup log line. */
  jwtAlgorithm?: VerificationAlgorithm;
}

/** Reads the files a configuration names (at startup: a missing or bad file stops the gateway with its path). */
export function loadRpcSecurity(c: RpcSecurityConfig, read: (file: string) => Buffer = (f) => readFileSync(f)): RpcSecurity {
  const load = (what: string, file: string) => {
    try {
      return read(file);
    } catch (err) {
      throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
    }
  };
  const out: RpcSecurity = {};
  if (c.tls) out.tls = { cert: load('TLS certificate', c.tls.certFile), key: load('TLS key', c.tls.keyFile) };
  if (c.jwt) {
    const text = load('JWT public key', c.jwt.publicKeyFile).toString('utf8');
    let key;
    try {
      key = parseVerificationKey(text);
    } catch (err) {
      throw new Error(`${c.jwt.publicKeyFile}: ${(err as Error).message}`);
    }
    out.verifier = createTokenVerifier({ key, issuer: c.jwt.issuer, audience: c.jwt.audience });
    out.jwtAlgorithm = key.algorithm;
  }
  return out;
}

const isLoopback = (address: string) => /^127\./.test(address) || address === '::1' || address === 'localhost' || address === '::ffff:127.0.0.1';

/** What an operator should hear about at startup: an endpoint others can reach without tokens, or tokens in the clear. */
export function securityWarnings(boundAddress: string, s: RpcSecurity): string[] {
  if (isLoopback(boundAddress)) return [];
  const out: string[] = [];
  if (!s.verifier) out.push('the JSON-RPC endpoint listens beyond loopback without authentication: set QUORUM_RPC_JWT_PUBLIC_KEY_FILE');
  if (s.verifier && !s.tls) out.push('bearer tokens travel unencrypted: set QUORUM_RPC_TLS_CERT / QUORUM_RPC_TLS_KEY (or terminate TLS in front)');
  return out;
}
