/**
 * The bus: typed request/reply and publish/subscribe over NATS for one actor of one participant.
 * - Payloads are JSON, validated with a zod schema on arrival (every NATS boundary is checked).
 * - Failures travel as a CodedError: header `Quorum-Error: <code>` and the wire error as the body.
 * - W3C trace context travels in headers; handlers run inside a span that continues the caller's trace.
 * - The broker may die and come back (the launcher restarts it): publishes are kept and sent again, requests wait
 *   for the link or fail at once when it drops (lib/nats/link.ts).
 */
import { headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, NoRespondersError, TimeoutError, RequestError } from '@nats-io/nats-core';
import type { ZodType } from 'zod';
import { context, SpanKind } from '@opentelemetry/api';
import { CodedError, ErrorCode, asCodedError, type WireError } from './errors.js';
import { decodeJson, encodeJson } from './codec.js';
import { Attr, extractTraceContext, injectTraceContext, tracer } from './tracing.js';
import type { Scope } from './subjects.js';
import type { Logger } from './logger.js';
import { followLink } from './nats/link.js';

const ERROR_HEADER = 'Quorum-Error';

export interface HandlerContext {
  subject: string;
  /** traceparent of the message, when it carried one */
  traceparent: string | null;
}

export interface Bus {
  readonly scope: Scope;
  readonly connection: NatsConnection;
  request<T>(subject: string, payload: unknown, reply: ZodType<T>, opts?: { timeoutMs?: number }): Promise<T>;
  publish(subject: string, payload: unknown): void;
  /**
   * Resolves true once the broker has read everything published before the call (false after `timeoutMs`):
   * what an outbox waits for before it marks events published.
   */
  published(timeoutMs: number): Promise<boolean>;
  serve<Req, Res>(subject: string, schema: ZodType<Req>, handler: (req: Req, ctx: HandlerContext) => Promise<Res> | Res, opts?: { queue?: string }): void;
  subscribe<T>(subject: string, schema: ZodType<T>, handler: (msg: T, ctx: HandlerContext) => Promise<void> | void): void;
  close(): Promise<void>;
}

function headersWithTrace(): MsgHdrs {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(injectTraceContext())) h.set(k, v);
  return h;
}

function carrierOf(msg: Msg): Record<string, string | undefined> {
  const tp = msg.headers?.get('traceparent');
  const ts = msg.headers?.get('tracestate');
  return { traceparent: tp || undefined, tracestate: ts || undefined };
}

function zodMessage(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/**
 * The broker answered that nobody listens on the subject: the request reached no actor, so sending it again
 * cannot do anything twice (even a write). An Unavailable CodedError; the distinction is local to the process
 * that asked (on the wire it is a plain Unavailable, like any other).
 */
export class NoResponderError extends CodedError {
  constructor(readonly subject: string) {
    super(ErrorCode.Unavailable, `no responder on ${subject}`);
    this.name = 'NoResponderError';
  }
}

/**
 * The broker could not be reached for the whole of the request's timeout: it was never sent, so sending it again
 * cannot do anything twice (a NoResponderError, so callers that retry only undelivered writes retry it too).
 */
export class NotSentError extends NoResponderError {
  constructor(subject: string, waitedMs: number) {
    super(subject);
    this.message = `broker unreachable: request on ${subject} not sent (waited ${waitedMs} ms for the connection)`;
    this.name = 'NotSentError';
  }
}

/** How long a closing actor waits for its subscriptions to drain. */
const DRAIN_TIMEOUT_MS = 2000;

export function parseWith<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new CodedError(ErrorCode.InvalidInput, `invalid ${what}: ${zodMessage(r.error)}`);
  return r.data;
}

export function createBus(connection: NatsConnection, scope: Scope, actor: string, log: Logger): Bus {
  const t = tracer(`quorum.${actor}`);
  const link = followLink(connection, log);

  const decodeMsg = <T>(msg: Msg, schema: ZodType<T>): T => {
    let body: unknown;
    try {
      body = decodeJson(msg.data);
    } catch {
      throw new CodedError(ErrorCode.InvalidInput, `malformed JSON on ${msg.subject}`);
    }
    return parseWith(schema, body, `message on ${msg.subject}`);
  };

  const respondError = (msg: Msg, err: CodedError) => {
    const h = natsHeaders();
    h.set(ERROR_HEADER, err.code);
    msg.respond(encodeJson(err.toWire()), { headers: h });
  };

  return {
    scope,
    connection,

    async request<T>(subject: string, payload: unknown, reply: ZodType<T>, opts?: { timeoutMs?: number }): Promise<T> {
      const timeoutMs = opts?.timeoutMs ?? 5000;
      const deadline = Date.now() + timeoutMs;
      // Into a dead link it would be dropped unseen (nats.js discards its buffer on reconnect): wait for the link.
      if (!link.up() && !(await link.waitUp(timeoutMs))) throw new NotSentError(subject, timeoutMs);
      let msg: Msg;
      let off = () => {};
      try {
        const lost = new Promise<never>((_, reject) => {
          // It may have been received (the actor may be acting on it): a plain Unavailable, like a timeout.
          off = link.onLost(() => reject(new CodedError(ErrorCode.Unavailable, `connection to the broker lost while waiting for ${subject}`)));
        });
        msg = await Promise.race([connection.request(subject, encodeJson(payload), { timeout: Math.max(1, deadline - Date.now()), headers: headersWithTrace() }), lost]);
        off();
      } catch (err) {
        off();
        if (err instanceof CodedError) throw err;
        if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
          throw new NoResponderError(subject);
        }
        if (err instanceof TimeoutError || (err instanceof RequestError && (err.cause instanceof TimeoutError))) {
          throw new CodedError(ErrorCode.Unavailable, `timed out waiting for ${subject}`);
        }
        throw new CodedError(ErrorCode.Unavailable, `request on ${subject} failed: ${(err as Error).message}`);
      }
      const code = msg.headers?.get(ERROR_HEADER);
      if (code) {
        const wire = decodeJson(msg.data) as WireError;
        throw CodedError.fromWire({ code: wire.code ?? ErrorCode.Internal, message: wire.message ?? 'remote error', data: wire.data });
      }
      return decodeMsg(msg, reply);
    },

    publish(subject: string, payload: unknown): void {
      link.publish(subject, encodeJson(payload), headersWithTrace());
    },

    serve<Req, Res>(subject: string, schema: ZodType<Req>, handler: (req: Req, ctx: HandlerContext) => Promise<Res> | Res, opts?: { queue?: string }): void {
      connection.subscribe(subject, {
        queue: opts?.queue,
        callback: (subErr, msg) => {
          if (subErr) {
            log.error('subscription failed', { subject }, subErr);
            return;
          }
          const parent = extractTraceContext(carrierOf(msg));
          void context.with(parent, () =>
            t.startActiveSpan(`${actor} ${subject.split('.').slice(2).join('.')}`, { kind: SpanKind.SERVER, attributes: { [Attr.subject]: subject, [Attr.participant]: scope.participant } }, async (span) => {
              try {
                const req = decodeMsg(msg, schema);
                const res = await handler(req, { subject: msg.subject, traceparent: msg.headers?.get('traceparent') || null });
                if (msg.reply) msg.respond(encodeJson(res ?? null));
              } catch (err) {
                const coded = asCodedError(err);
                if (coded.code === ErrorCode.Internal) log.error('handler failed', { subject }, err);
                span.recordException(coded);
                if (msg.reply) respondError(msg, coded);
              } finally {
                span.end();
              }
            }),
          );
        },
      });
    },

    subscribe<T>(subject: string, schema: ZodType<T>, handler: (msg: T, ctx: HandlerContext) => Promise<void> | void): void {
      connection.subscribe(subject, {
        callback: (subErr, msg) => {
          if (subErr) {
            log.error('subscription failed', { subject }, subErr);
            return;
          }
          const parent = extractTraceContext(carrierOf(msg));
          void context.with(parent, async () => {
            try {
              await handler(decodeMsg(msg, schema), { subject: msg.subject, traceparent: msg.headers?.get('traceparent') || null });
            } catch (err) {
              log.error('event handler failed', { subject }, err);
            }
          });
        },
      });
    },

    published(timeoutMs: number): Promise<boolean> {
      return link.settled(timeoutMs);
    },

    async close(): Promise<void> {
      // A connection the broker dropped (a revoked participant, a broker that died) is reconnecting, and
      // drain() would wait for it: bounded, then closed outright.
      // What this actor published is read by the broker first (kept messages included), within the same bound.
      await link.settled(DRAIN_TIMEOUT_MS);
      let timer: NodeJS.Timeout | undefined;
      const bounded = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)));
      await Promise.race([connection.drain().catch(() => {}), bounded]);
      clearTimeout(timer);
      if (!connection.isClosed()) await connection.close().catch(() => {});
    },
  };
}
