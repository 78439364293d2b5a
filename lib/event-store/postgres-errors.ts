/**
 * Which failures of a Postgres call mean "the database is away for a moment" (restarting, unreachable, shutting
 * down, still recovering) rather than "this request is wrong" or "our code is wrong". Only the `code` of the error
 * (or of an error in its `cause` chain) is looked at: the node socket errors, the postgres.js client's own
 * connection errors, and the SQLSTATEs a server sends while it goes down or comes back. No imports, so the one
 * place that turns unknown errors into coded ones (lib/errors.ts asCodedError) can use it.
 */

/** Node socket / DNS errors: the server is not there or the connection broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** postgres.js: a connection that closed under a query, a pool already ended, a connect that timed out. */
const CLIENT_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** SQLSTATEs: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting / recovering), 53300 too_many_connections. */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Class 08: connection exception (08000, 08001, 08003, 08004, 08006, ...). */
const isConnectionClass = (code: string) => /^08[0-9A-Z]{3}$/.test(code);

/** True when `err` (or an error it was caused by) says the database could not be reached or went away. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    if (SOCKET_CODES.has(code) || CLIENT_CODES.has(code) || SERVER_CODES.has(code) || isConnectionClass(code)) return true;
  }
  return false;
}
