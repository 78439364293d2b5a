/**
 * The one place where errors become JSON-RPC error objects. Protocol errors (parse, invalid request,
 * unknown method, invalid params) are RpcErrors; everything the actors report is a CodedError, mapped here
 * once. Internal details never reach the client: an Internal error is reported as 'internal error'.
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';

export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  /** geth's generic server error: rejected transactions, missing headers, ... */
  Server: -32000,
  /** geth's code for a reverted eth_call / eth_estimateGas, with the revert data as `data`. */
  ExecutionReverted: 3,
} as const;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** A protocol-level error raised by the gateway itself. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toObject(): RpcErrorObject {
    return { code: this.code, message: this.message, ...(this.data === undefined ? {} : { data: this.data }) };
  }
}

export const invalidParams = (message: string) => new RpcError(RpcCode.InvalidParams, message);
export const serverError = (message: string) => new RpcError(RpcCode.Server, message);
export const methodNotFound = (method: string) => new RpcError(RpcCode.MethodNotFound, `the method ${method} does not exist/is not available`);
export const invalidRequest = (message = 'invalid request') => new RpcError(RpcCode.InvalidRequest, message);
export const parseError = (message = 'parse error') => new RpcError(RpcCode.ParseError, message);

const ERROR_STRING_SELECTOR = '08c379a0'; // Error(string)
const PANIC_SELECTOR = '4e487b71'; // Panic(uint256)

/** The human part of revert data, as geth prints it after 'execution reverted: '. Undefined when none. */
export function revertReason(data: string): string | undefined {
  const hex = data.startsWith('0x') ? data.slice(2).toLowerCase() : data.toLowerCase();
  if (!/^([0-9a-f]{2})*$/.test(hex)) return undefined;
  if (hex.startsWith(ERROR_STRING_SELECTOR) && hex.length >= 8 + 128) {
    try {
      const offset = Number(BigInt('0x' + hex.slice(8, 8 + 64)));
      const start = 8 + offset * 2;
      const length = Number(BigInt('0x' + hex.slice(start, start + 64)));
      const body = hex.slice(start + 64, start + 64 + length * 2);
      if (body.length !== length * 2) return undefined;
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(body, 'hex'));
    } catch {
      return undefined;
    }
  }
  if (hex.startsWith(PANIC_SELECTOR) && hex.length === 8 + 64) {
    return `panic: 0x${BigInt('0x' + hex.slice(8)).toString(16)}`;
  }
  return undefined;
}

function revertError(err: CodedError): RpcErrorObject {
  const data = typeof err.data === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(err.data) ? err.data : undefined;
  const reason = data ? revertReason(data) : undefined;
  return {
    code: RpcCode.ExecutionReverted,
    message: reason !== undefined ? `execution reverted: ${reason}` : 'execution reverted',
    ...(data && data !== '0x' ? { data } : {}),
  };
}

/**
 * Maps any thrown value to a JSON-RPC error object. `internal` is true when the cause should be logged
 * by the caller (the client only sees a generic message).
 */
export function toRpcError(err: unknown): { error: RpcErrorObject; internal: boolean } {
  if (err instanceof RpcError) {
    return { error: err.toObject(), internal: false };
  }
  if (err instanceof CodedError) {
    switch (err.code) {
      case ErrorCode.InvalidInput:
        return { error: { code: RpcCode.InvalidParams, message: err.message }, internal: false };
      case ErrorCode.Rejected:
      case ErrorCode.NotFound:
      case ErrorCode.NotLeader:
      case ErrorCode.Conflict:
        return { error: { code: RpcCode.Server, message: err.message }, internal: false };
      case ErrorCode.ExecutionReverted:
        return { error: revertError(err), internal: false };
      case ErrorCode.Unavailable:
        // A dependency is away for a moment (restarting, busy, broker reconnecting, the database restarting: see
        // lib/event-store/postgres-errors.ts): the client should retry, and it is a server-side condition, not an
        // internal error. Which subject or connection failed is logged, not sent.
        return { error: { code: RpcCode.Server, message: 'temporarily unavailable, retry' }, internal: true };
      case ErrorCode.Internal:
      default:
        return { error: { code: RpcCode.Internal, message: 'internal error' }, internal: true };
    }
  }
  return { error: { code: RpcCode.Internal, message: 'internal error' }, internal: true };
}
