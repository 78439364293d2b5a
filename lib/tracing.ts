/**
 * Tracing: @opentelemetry/api everywhere, the SDK configured only here, at process start.
 * Trace context travels as W3C `traceparent` in NATS headers (see bus.ts) and is stored on every event.
 * Without OTEL_* exporter settings spans are still created (real trace ids for the event log) but not exported.
 */
import { context, propagation, trace, type Context, type Span, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

let started = false;

export function startTracing(serviceName: string): void {
  if (started) return;
  started = true;
  if (process.env.QUORUM_TRACING === 'off') return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new BasicTracerProvider({}));
  void serviceName;
}

export function tracer(name: string): Tracer {
  return trace.getTracer(name);
}

/** Span attribute names, in one place. */
export const Attr = {
  participant: 'quorum.participant',
  actor: 'quorum.actor',
  txHash: 'quorum.tx.hash',
  blockNumber: 'quorum.block.number',
  subject: 'messaging.destination.name',
  rpcMethod: 'rpc.method',
} as const;

export function injectTraceContext(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

export function extractTraceContext(carrier: Record<string, string | undefined>): Context {
  return propagation.extract(context.active(), carrier);
}

export function currentTraceparent(): string | null {
  return injectTraceContext().traceparent ?? null;
}

/** Run fn inside a span; record the error and rethrow. */
export async function inSpan<T>(t: Tracer, name: string, attributes: Record<string, string | number>, fn: (span: Span) => Promise<T>, parent?: Context): Promise<T> {
  const ctx = parent ?? context.active();
  return t.startActiveSpan(name, { attributes }, ctx, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
