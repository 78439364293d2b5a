/**
 * Tracing: @opentelemetry/api everywhere, the SDK configured only here, at process start, from the standard
 * OTEL_* variables (see `otelConfigFromEnv`). Trace context travels as W3C `traceparent` in NATS headers (see
 * bus.ts) and is stored on every event. Without an OTLP endpoint spans are still created (real trace ids for the
 * event log) but not exported.
 */
import { context, propagation, trace, type Context, type Link, type Span, SpanStatusCode, type SpanContext, type Tracer, TraceFlags } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** What the process's tracing SDK is set up with, read from the environment. */
export interface OtelConfig {
  serviceName: string;
  /** Resource attributes: OTEL_RESOURCE_ATTRIBUTES, then ours (participant, actor, service.name) on top. */
  resource: Record<string, string>;
  /** null: spans are made but not exported. */
  exporter: null | {
    protocol: OtlpProtocol;
    /** Which variable named the endpoint (the exporter itself reads it, with OTEL_EXPORTER_OTLP_HEADERS etc.). */
    endpointFrom: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_EXPORTER_OTLP_ENDPOINT';
    /** Where spans are POSTed: the traces endpoint as given, or the general one + `/v1/traces`. */
    url: string;
    batch: { scheduledDelayMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number; exportTimeoutMillis?: number };
  };
}

type Env = Record<string, string | undefined>;

const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v.trim() !== '' ? v.trim() : undefined);

function positiveInt(env: Env, name: string): number | undefined {
  const v = nonEmpty(env[name]);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}

/** OTEL_RESOURCE_ATTRIBUTES: `key=value,key2=value2`, values percent-encoded. Malformed pairs are skipped. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const key = pair.slice(0, i).trim();
    let value = pair.slice(i + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    if (key) out[key] = value;
  }
  return out;
}

/**
 * The tracing setup the standard variables ask for: OTEL_SERVICE_NAME (else `quorum-<participant>-<actor>`),
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL
 * (`http/protobuf` by default, or `http/json`), OTEL_TRACES_EXPORTER=none, OTEL_BSP_* (batch processor).
 * Throws on what cannot work (grpc, a malformed number), so a misconfigured actor says so at start.
 */
export function otelConfigFromEnv(env: Env, who: { participant: string; actor: string }): OtelConfig {
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME) ?? `quorum-${who.participant}-${who.actor}`;
  const resource = { ...parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES), 'service.name': serviceName, [Attr.participant]: who.participant, [Attr.actor]: who.actor };
  const endpointFrom = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT) ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : null;
  const exporters = (nonEmpty(env.OTEL_TRACES_EXPORTER) ?? 'otlp').split(',').map((s) => s.trim());
  if (!endpointFrom || exporters.includes('none')) return { serviceName, resource, exporter: null };
  if (!exporters.includes('otlp')) throw new Error(`OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: only otlp (or none) is supported`);
  const protocol = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? 'http/protobuf';
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') throw new Error(`OTLP protocol ${protocol} is not supported: use http/protobuf or http/json`);
  const batch = {
    scheduledDelayMillis: positiveInt(env, 'OTEL_BSP_SCHEDULE_DELAY'),
    maxQueueSize: positiveInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: positiveInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    exportTimeoutMillis: positiveInt(env, 'OTEL_BSP_EXPORT_TIMEOUT'),
  };
  for (const k of Object.keys(batch) as (keyof typeof batch)[]) if (batch[k] === undefined) delete batch[k];
  const url = endpointFrom === 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' ? nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)! : nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT)!.replace(/\/+$/, '') + '/v1/traces';
  return { serviceName, resource, exporter: { protocol, endpointFrom, url, batch } };
}

let started = false;
let provider: TracerProvider | null = null;

/**
 * Sets up the SDK for this process (once): context manager, W3C propagator, a tracer provider with the
 * service's resource and, when an OTLP endpoint is configured, an OTLP exporter behind a batch processor.
 * QUORUM_TRACING=off (or OTEL_SDK_DISABLED=true) leaves the no-op API: no spans, no trace ids on events.
 */
export async function startTracing(who: { participant: string; actor: string }, env: Env = process.env): Promise<OtelConfig | null> {
  if (started) return null;
  started = true;
  if (env.QUORUM_TRACING === 'off' || env.OTEL_SDK_DISABLED === 'true') return null;
  const config = otelConfigFromEnv(env, who);
  const spanProcessors: SpanProcessor[] = [];
  if (config.exporter) {
    const { OTLPTraceExporter } =
      config.exporter.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
    spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.exporter.url }), ...config.exporter.batch }));
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  provider = new TracerProvider({ resource: resourceFromAttributes(config.resource), spanProcessors });
  trace.setGlobalTracerProvider(provider);
  return config;
}

/** Exports what is still buffered and stops the SDK (on actor stop), bounded so a dead collector cannot hold it. */
export async function shutdownTracing(timeoutMs = 3000): Promise<void> {
  const p = provider;
  provider = null;
  if (!p) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.shutdown().catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
  clearTimeout(timer);
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
  /** A span covering consecutive blocks: the last one (blockNumber is the first). */
  lastBlockNumber: 'quorum.block.last_number',
  /** How many transactions a batch or block span stands for (each linked). */
  batchSize: 'quorum.batch.size',
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
export async function inSpan<T>(t: Tracer, name: string, attributes: Record<string, string | number>, fn: (span: Span) => Promise<T>, parent?: Context, links?: Link[]): Promise<T> {
  const ctx = parent ?? context.active();
  return t.startActiveSpan(name, { attributes, ...(links?.length ? { links } : {}) }, ctx, async (span) => {
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

/** A W3C traceparent as the span context it names, or null when it is not one. */
export function spanContextOf(traceparent: string | null | undefined): SpanContext | null {
  if (!traceparent) return null;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent.trim());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]) || /^0+$/.test(m[3])) return null;
  return { traceId: m[2], spanId: m[3], traceFlags: parseInt(m[4], 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** Span links to the members of a group (a batch, a block): one per distinct valid traceparent. */
export function linksTo(traceparents: readonly (string | null | undefined)[]): Link[] {
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const tp of traceparents) {
    const sc = spanContextOf(tp);
    if (!sc || seen.has(sc.spanId)) continue;
    seen.add(sc.spanId);
    links.push({ context: sc });
  }
  return links;
}

/** The context to continue as parent from a traceparent (the active context when there is none). */
export function contextOf(traceparent: string | null | undefined): Context {
  return traceparent ? extractTraceContext({ traceparent }) : context.active();
}
