/**
 * Bearer-token verification (JWT, RFC 7519, verified with `jose`) → the methods the caller may use.
 * Time is an argument (`now`), so tests need no clock.
 *
 * Keys are asymmetric only: the gateway holds the issuer's public key, the private key stays with whoever mints
 * tokens (an operator, an identity provider). A shared HS256 secret would let every gateway that verifies tokens
 * also mint them, and one leaked node config would forge tokens for all nodes. The accepted algorithm is fixed
 * by the key's type (ES256 for P-256, ES384 for P-384, EdDSA/Ed25519 for Ed25519, RS256 for RSA), so a token can
 * neither choose `none` nor swap algorithms.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import { compileScope, ScopeClaim, type Scope } from './scope.js';

/** Clock skew allowed on exp / nbf, in seconds. */
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

export type VerificationAlgorithm = 'ES256' | 'ES384' | 'EdDSA' | 'RS256';

export interface VerificationKey {
  key: KeyObject;
  /** The header `alg` values accepted with this key (both spellings for Ed25519). */
  algorithms: readonly string[];
  algorithm: VerificationAlgorithm;
}

/** The algorithm a key type signs with; throws for a type we do not accept (symmetric, DSA, other curves). */
export function algorithmFor(key: KeyObject): VerificationAlgorithm {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return 'ES256';
      if (curve === 'secp384r1' || curve === 'P-384') return 'ES384';
      throw new Error(`unsupported EC curve for JWT verification: ${curve ?? 'unknown'} (use P-256 or P-384)`);
    }
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('RSA keys for JWT verification must be at least 2048 bits');
      return 'RS256';
    default:
      throw new Error(`unsupported key type for JWT verification: ${key.asymmetricKeyType ?? key.type} (use ES256, EdDSA or RS256)`);
  }
}

/** A public key given as PEM (SPKI, "BEGIN PUBLIC KEY") or as a JWK (JSON). Private keys are refused: keep them with the issuer. */
export function parseVerificationKey(text: string): VerificationKey {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('{')) {
    let jwk: Record<string, unknown>;
    try {
      jwk = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw new Error('the JWT verification key is neither a PEM public key nor a JSON JWK');
    }
    if ('d' in jwk || 'k' in jwk) throw new Error('the JWT verification key must be a public key (this JWK holds private or symmetric key material)');
    key = createPublicKey({ key: jwk as never, format: 'jwk' });
  } else {
    if (/PRIVATE KEY-----/.test(trimmed)) throw new Error('the JWT verification key must be a public key (got a PEM private key; keep it with the token issuer)');
    key = createPublicKey(trimmed);
  }
  const algorithm = algorithmFor(key);
  return { key, algorithm, algorithms: algorithm === 'EdDSA' ? ['EdDSA', 'Ed25519'] : [algorithm] };
}

export type AuthFailureReason = 'missing' | 'malformed' | 'expired' | 'signature' | 'algorithm' | 'claims' | 'scope';

export type AuthResult = { ok: true; scope: Scope; expiresAt: number } | { ok: false; reason: AuthFailureReason; message: string };

export interface TokenVerifierOptions {
  key: VerificationKey;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud` (one of), when set. */
  audience?: string | readonly string[];
  clockToleranceSeconds?: number;
}

export interface TokenVerifier {
  /** Checks an `Authorization` header value at time `now`. Never throws. */
  verify(authorization: string | undefined, now: Date): Promise<AuthResult>;
}

const fail = (reason: AuthFailureReason, detail: string): AuthResult => ({ ok: false, reason, message: `unauthorized: ${detail}` });

export function createTokenVerifier(o: TokenVerifierOptions): TokenVerifier {
  const clockTolerance = o.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  return {
    async verify(authorization, now) {
      if (!authorization?.trim()) return fail('missing', 'missing bearer token (Authorization: Bearer <JWT>)');
      const m = /^Bearer\s+([A-Za-z0-9_\-.~+/=]+)\s*$/i.exec(authorization.trim());
      if (!m) return fail('malformed', 'expected an Authorization header of the form "Bearer <JWT>"');
      try {
        const { payload } = await jwtVerify(m[1], o.key.key, {
          algorithms: [...o.key.algorithms],
          currentDate: now,
          clockTolerance,
          requiredClaims: ['exp'],
          ...(o.issuer !== undefined ? { issuer: o.issuer } : {}),
          ...(o.audience !== undefined ? { audience: typeof o.audience === 'string' ? o.audience : [...o.audience] } : {}),
        });
        const scope = ScopeClaim.safeParse(payload.scope);
        if (!scope.success) return fail('scope', payload.scope === undefined ? 'token has no scope claim' : 'token scope claim is not a list of methods');
        return { ok: true, scope: compileScope(scope.data), expiresAt: payload.exp! };
      } catch (err) {
        if (err instanceof errors.JWTExpired) return fail('expired', 'token expired');
        if (err instanceof errors.JWTClaimValidationFailed) return fail('claims', `token claim check failed: ${err.message}`);
        if (err instanceof errors.JOSEAlgNotAllowed) return fail('algorithm', `token algorithm not allowed (expected ${o.key.algorithms.join(' or ')})`);
        if (err instanceof errors.JWSSignatureVerificationFailed) return fail('signature', 'token signature verification failed');
        return fail('malformed', 'malformed token');
      }
    },
  };
}
