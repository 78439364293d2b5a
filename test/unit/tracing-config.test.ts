import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linksTo, otelConfigFromEnv, parseResourceAttributes, spanContextOf } from '../../lib/tracing.js';

const who = { participant: 'p1', actor: 'gateway' };

test('no OTLP endpoint: no exporter; service name quorum-<participant>-<actor> and our resource attributes', () => {
  const c = otelConfigFromEnv({}, who);
  assert.equal(c.exporter, null);
  assert.equal(c.serviceName, 'quorum-p1-gateway');
  assert.deepEqual(c.resource, { 'service.name': 'quorum-p1-gateway', 'quorum.participant': 'p1', 'quorum.actor': 'gateway' });
});

test('OTEL_EXPORTER_OTLP_ENDPOINT: OTLP http/protobuf by default, batch settings from OTEL_BSP_*', () => {
  const c = otelConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_BSP_MAX_QUEUE_SIZE: '4096' }, who);
  assert.deepEqual(c.exporter, { protocol: 'http/protobuf', endpointFrom: 'OTEL_EXPORTER_OTLP_ENDPOINT', url: 'http://collector:4318/v1/traces', batch: { scheduledDelayMillis: 200, maxQueueSize: 4096 } });
});

test('the traces-specific endpoint and protocol win; http/json is supported', () => {
  const c = otelConfigFromEnv(
    { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
    who,
  );
  assert.equal(c.exporter?.endpointFrom, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  assert.equal(c.exporter?.protocol, 'http/json');
  assert.equal(c.exporter?.url, 'http://c/v1/traces');
});

test('OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; ours cannot be overridden by the latter', () => {
  const c = otelConfigFromEnv({ OTEL_SERVICE_NAME: 'ledger', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,quorum.actor=x,team=a%20b' }, who);
  assert.equal(c.serviceName, 'ledger');
  assert.deepEqual(c.resource, { 'deployment.environment': 'prod', 'quorum.actor': 'gateway', team: 'a b', 'service.name': 'ledger', 'quorum.participant': 'p1' });
});

test('OTEL_TRACES_EXPORTER=none turns the exporter off; grpc and bad numbers are refused at start', () => {
  assert.equal(otelConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' }, who).exporter, null);
  assert.throws(() => otelConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, who), /grpc is not supported/);
  assert.throws(() => otelConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_BSP_SCHEDULE_DELAY: 'soon' }, who), /OTEL_BSP_SCHEDULE_DELAY/);
  assert.throws(() => otelConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'zipkin' }, who), /only otlp/);
});

test('parseResourceAttributes skips malformed pairs', () => {
  assert.deepEqual(parseResourceAttributes('a=1,,=x,b,c=%E0%A4%A,d= 2 '), { a: '1', d: '2' });
});

test('links: one per distinct valid traceparent; invalid ones are ignored', () => {
  const a = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const b = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  assert.deepEqual(spanContextOf(a), { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true });
  assert.equal(spanContextOf('00-00000000000000000000000000000000-b7ad6b7169203331-01'), null);
  assert.equal(spanContextOf('garbage'), null);
  const links = linksTo([a, null, 'x', b, a]);
  assert.deepEqual(links.map((l) => l.context.spanId), ['b7ad6b7169203331', '00f067aa0ba902b7']);
});
