/**
 * JSON-RPC 2.0 framing: parse, validate request objects, batches (answered in order, notifications left
 * out), one span per call, errors mapped through errors.ts.
 */
import { context, SpanKind, SpanStatusCode, type Context, type Tracer } from '@opentelemetry/api';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import { Attr } from '../../../lib/tracing.js';
import { RpcCode, invalidRequest, methodNotFound, parseError, toRpcError, type RpcErrorObject } from './errors.js';
import type { CallContext, Method } from './methods.js';

export type RpcId = string | number | null;
export type RpcResponse = { jsonrpc: '2.0'; id: RpcId; result: unknown } | { jsonrpc: '2.0'; id: RpcId; error: RpcErrorObject };

const MAX_BATCH = 1000;

export interface DispatcherOptions {
  log: Logger;
  tracer?: Tracer;
  participant?: string;
  maxBatch?: number;
}

export interface Dispatcher {
  /** The response for a request body: an object, an array (batch), or undefined when nothing is owed. */
  handle(body: string, parent?: Context): Promise<RpcResponse | RpcResponse[] | undefined>;
}

const isId = (v: unknown): v is RpcId => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
const errorResponse = (id: RpcId, error: RpcErrorObject): RpcResponse => ({ jsonrpc: '2.0', id, error });

export function createDispatcher(methods: Record<string, Method>, opts: DispatcherOptions): Dispatcher {
  const { log, tracer } = opts;
  const maxBatch = opts.maxBatch ?? MAX_BATCH;

  const fail = (id: RpcId, err: unknown, method?: string): RpcResponse => {
    const { error, internal } = toRpcError(err);
    if (internal) {
      if (err instanceof CodedError && err.code === ErrorCode.Unavailable) log.warn('rpc call failed: dependency unavailable', { method, reason: err.message });
      else log.error('rpc call failed', { method }, err);
    }
    return errorResponse(id, error);
  };

  async function invoke(method: string, fn: Method, params: unknown, parent: Context): Promise<unknown> {
    if (!tracer) return fn(params, { setAttribute: () => undefined });
    return tracer.startActiveSpan(
      `rpc ${method}`,
      { kind: SpanKind.SERVER, attributes: { [Attr.rpcMethod]: method, ...(opts.participant ? { [Attr.participant]: opts.participant } : {}) } },
      parent,
      async (span) => {
        const ctx: CallContext = { setAttribute: (k, v) => span.setAttribute(k, v) };
        try {
          return await fn(params, ctx);
        } catch (err) {
          const { error } = toRpcError(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
          if (err instanceof Error) span.recordException(err);
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  async function one(req: unknown, parent: Context): Promise<RpcResponse | undefined> {
    if (typeof req !== 'object' || req === null || Array.isArray(req)) return errorResponse(null, invalidRequest().toObject());
    const r = req as Record<string, unknown>;
    const hasId = 'id' in r;
    const id: RpcId = hasId && isId(r.id) ? r.id : null;
    if (r.jsonrpc !== '2.0') return errorResponse(id, invalidRequest('invalid request: jsonrpc must be "2.0"').toObject());
    if (typeof r.method !== 'string' || r.method.length === 0) return errorResponse(id, invalidRequest('invalid request: method must be a string').toObject());
    if (hasId && !isId(r.id)) return errorResponse(null, invalidRequest('invalid request: id must be a string, a number or null').toObject());
    if (r.params !== undefined && (typeof r.params !== 'object' || r.params === null)) {
      return errorResponse(id, invalidRequest('invalid request: params must be an array or an object').toObject());
    }
    const method = r.method;
    const fn = Object.hasOwn(methods, method) ? methods[method] : undefined;
    let response: RpcResponse;
    if (!fn) response = fail(id, methodNotFound(method), method);
    else {
      try {
        const result = await invoke(method, fn, r.params, parent);
        response = { jsonrpc: '2.0', id, result: result === undefined ? null : result };
      } catch (err) {
        response = fail(id, err, method);
      }
    }
    return hasId ? response : undefined;
  }

  return {
    async handle(body, parent = context.active()) {
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        return errorResponse(null, parseError().toObject());
      }
      if (!Array.isArray(payload)) return one(payload, parent);
      if (payload.length === 0) return errorResponse(null, invalidRequest('empty batch').toObject());
      if (payload.length > maxBatch) return errorResponse(null, { code: RpcCode.InvalidRequest, message: `batch too large: ${payload.length} requests, max ${maxBatch}` });
      const responses = await Promise.all(payload.map((req) => one(req, parent)));
      const owed = responses.filter((r): r is RpcResponse => r !== undefined);
      return owed.length ? owed : undefined;
    },
  };
}
