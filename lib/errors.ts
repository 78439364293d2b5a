import { isDatabaseUnavailable } from './event-store/postgres-errors.js';

/**
 * Errors as values with a stable code. A CodedError crosses process boundaries as
 * { code, message, data } (NATS reply headers, JSON-RPC error objects) and is mapped once at each edge.
 */
export const ErrorCode = {
  InvalidInput: 'INVALID_INPUT',
  NotFound: 'NOT_FOUND',
  Rejected: 'REJECTED', // a well-formed request the actor refuses (bad nonce, wrong chain...)
  NotLeader: 'NOT_LEADER',
  Unavailable: 'UNAVAILABLE', // a dependency did not answer in time, or is away for a moment (the database)
  Conflict: 'CONFLICT', // optimistic concurrency (expected stream position) failed
  ExecutionReverted: 'EXECUTION_REVERTED',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CodedError';
  }

  toWire(): WireError {
    return { code: this.code, message: this.message, ...(this.data === undefined ? {} : { data: this.data }) };
  }

  static fromWire(wire: WireError): CodedError {
    return new CodedError(wire.code, wire.message, wire.data);
  }
}

export interface WireError {
  code: ErrorCode;
  message: string;
  data?: unknown;
}

/**
 * Any thrown value as a CodedError. A database that is away (restarting, unreachable) is Unavailable, not
 * Internal: the request may be asked again in a moment, and the caller's edge says so (JSON-RPC -32000).
 */
export function asCodedError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isDatabaseUnavailable(err)) return new CodedError(ErrorCode.Unavailable, `database unavailable: ${message}`, undefined, { cause: err });
  return new CodedError(ErrorCode.Internal, message, undefined, { cause: err });
}
