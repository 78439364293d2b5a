/**
 * The JSON-RPC errors of the endpoint's security: a request without a valid token is answered HTTP 401 with a
 * JSON-RPC error body (and an RFC 6750 WWW-Authenticate header); a call its token's scope does not cover gets a
 * per-call error, so the rest of a batch still runs.
 */
import { RpcError, type RpcErrorObject } from '../rpc/errors.js';

export const AuthCode = {
  /** Missing or invalid token, and a method outside the token's scope (Besu answers both as "Unauthorized"). */
  Unauthorized: -32001,
} as const;

export const SCOPE_DENIED_MESSAGE = 'method not allowed by token scope';

export const scopeDenied = (method: string) => new RpcError(AuthCode.Unauthorized, SCOPE_DENIED_MESSAGE, { method });

export function unauthorizedBody(message: string): { jsonrpc: '2.0'; id: null; error: RpcErrorObject } {
  return { jsonrpc: '2.0', id: null, error: { code: AuthCode.Unauthorized, message } };
}

/** RFC 6750 §3: the challenge a 401 carries; no error code when the request had no token at all. */
export function bearerChallenge(tokenGiven: boolean, message: string): string {
  const realm = 'Bearer realm="quorum-rpc"';
  return tokenGiven ? `${realm}, error="invalid_token", error_description="${message.replace(/["\\]/g, '')}"` : realm;
}
