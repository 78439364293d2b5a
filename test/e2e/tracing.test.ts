/**
 * Tracing an SRE can use: a 4-participant network exports its spans over OTLP/HTTP JSON to a collector this
 * test runs; one private transaction from p1 to p2 is one trace (following span links through the gateway's
 * submit batch, consensus's block and every executor's block span) with spans from p1's gateway, tm and
 * enclave, p2's tm, consensus and all four executors. Then `npm run trace` rebuilds its path from the
 * events' stored trace ids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { useNetwork, waitFor } from '../support/network.js';

const run = promisify(execFile);
const T = 180_000;

interface CollectedSpan {
  service: string;
  participant: string;
  actor: string;
  name: string;
  traceId: string;
  spanId: string;
  startNs: bigint;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

/** OTLP/JSON ids are hex strings; attribute values are { stringValue | intValue | ... }. */
function valueOf(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  return v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue;
}
function attrs(list: { key: string; value: Record<string, unknown> }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));
}

/** A tiny OTLP/HTTP JSON collector: POST /v1/traces, resourceSpans decoded into `spans`. */
function startCollector(): Promise<{ server: Server; port: number; spans: CollectedSpan[]; requests: number[] }> {
  const spans: CollectedSpan[] = [];
  const requests: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        requests.push(Date.now());
        for (const rs of body.resourceSpans ?? []) {
          const r = attrs(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                service: String(r['service.name']),
                participant: String(r['quorum.participant']),
                actor: String(r['quorum.actor']),
                name: s.name,
                traceId: String(s.traceId).toLowerCase(),
                spanId: String(s.spanId).toLowerCase(),
                startNs: BigInt(s.startTimeUnixNano ?? 0),
                attributes: attrs(s.attributes),
                links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: String(l.traceId).toLowerCase(), spanId: String(l.spanId).toLowerCase() })),
              });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port, spans, requests })));
}

const collector = await startCollector();
after(() => new Promise<void>((r) => collector.server.close(() => r())));

const h = useNetwork('tracing', {
  testKeys: 2,
  env: {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
  },
});

/** The spans that submitted the transaction (receipt polls carry its hash attribute too, in traces of their own). */
const submitted = (s: CollectedSpan, txHash: string) =>
  String(s.attributes['quorum.tx.hash'] ?? '').toLowerCase() === txHash.toLowerCase() && s.attributes['rpc.method'] === 'eth_sendTransaction';

/**
 * The spans of one transaction: those of the trace its submission started, and of every trace with a
 * span linked to one of those (a batch, a block), and so on until nothing new.
 */
function spansOf(spans: CollectedSpan[], txHash: string): { traces: Set<string>; spans: CollectedSpan[] } {
  const traces = new Set(spans.filter((s) => submitted(s, txHash)).map((s) => s.traceId));
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of spans)
      if (!traces.has(s.traceId) && s.links.some((l) => traces.has(l.traceId))) {
        traces.add(s.traceId);
        grew = true;
      }
  }
  return { traces, spans: spans.filter((s) => traces.has(s.traceId)) };
}

const where = (s: CollectedSpan) => `${s.participant}/${s.actor}`;

let txHash = '';

test('one private transaction p1 → p2 is one trace across gateway, tm, enclave, p2 tm, consensus and every executor', { timeout: T }, async () => {
  const t = h.t;
  const net = t.net.network;
  const from = net.participants[0].accounts[0];
  txHash = await t.rpc<string>(0, 'eth_sendTransaction', [{ from, to: from, data: '0x', privateFor: [net.participants[1].privacyPublicKey] }]);
  await Promise.all([0, 1, 2, 3].map((i) => waitFor(() => t.rpc(i, 'eth_getTransactionReceipt', [txHash]), 60_000, `receipt of ${txHash} on p${i + 1}`)));

  const needed = ['p1/gateway', 'p1/tm', 'p1/enclave', 'p2/tm', ...[1, 2, 3, 4].flatMap((i) => [`p${i}/executor`, `p${i}/state`])];
  const found = await waitFor(
    () => {
      const r = spansOf(collector.spans, txHash);
      const seen = new Set(r.spans.map(where));
      return needed.every((n) => seen.has(n)) && r.spans.some((s) => s.actor === 'consensus') ? r : false;
    },
    30_000,
    `spans of ${txHash} from ${needed.join(', ')} and consensus (collected ${collector.spans.length} spans in ${collector.requests.length} requests)`,
    200,
  );
  // One trace: the transaction's own (the batch and block spans continue it, being single-member here) ...
  const own = new Set(collector.spans.filter((s) => submitted(s, txHash)).map((s) => s.traceId));
  assert.equal(own.size, 1, `eth_sendTransaction of the tx is one trace, not ${[...own].join(', ')}`);
  const [traceId] = own;
  assert.deepEqual(found.traces, own, 'no other trace is needed to reach every actor: links point into this one');
  // ... and every actor's span is reached from it: in it, or linked to it.
  for (const n of needed) assert.ok(found.spans.some((s) => where(s) === n), `a span of ${n} in the transaction's trace`);
  const linked = found.spans.filter((s) => s.links.some((l) => l.traceId === traceId));
  assert.ok(linked.some((s) => s.actor === 'executor'), 'executor block spans link the transaction');
  assert.ok(linked.some((s) => s.actor === 'consensus'), 'consensus block span links the transaction');
  assert.ok(linked.some((s) => s.actor === 'gateway' && s.name === 'gateway submit batch'), 'the gateway submit batch span links the transaction');
  // Service names follow quorum-<participant>-<actor>.
  for (const s of found.spans) assert.equal(s.service, `quorum-${s.participant}-${s.actor}`);
  // The executors' block spans carry the block number.
  for (const s of found.spans.filter((x) => x.actor === 'executor' && x.name === 'executor blocks')) assert.ok(Number(s.attributes['quorum.block.number']) > 0);
});

test('npm run trace rebuilds the same path from the stored trace ids, in time order', { timeout: T }, async () => {
  assert.ok(txHash, 'the first test sent a transaction');
  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const { stdout } = await run(process.execPath, [path.join(dist, 'cli/trace.js'), txHash, '--dir', h.t.net.dir, '--participant', 'p1', '--json'], { timeout: 60_000 });
  const out = JSON.parse(stdout) as { steps: { participant: string; actor: string; type: string; at: string; sincePreviousMs: number; via: string }[] };
  const actors = new Set(out.steps.map((s) => s.actor));
  for (const a of ['tm', 'consensus', 'executor']) assert.ok(actors.has(a), `p1's ${a} in the timeline: ${[...actors].join(', ')}`);
  assert.ok(out.steps.some((s) => s.actor === 'executor' && s.type === 'BlockExecuted'), 'the BlockExecuted of its block');
  const times = out.steps.map((s) => Date.parse(s.at));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in time order');
  for (let i = 1; i < out.steps.length; i++) assert.equal(out.steps[i].sincePreviousMs, times[i] - times[i - 1]);
  // The text form too (what an operator reads).
  const text = await run(process.execPath, [path.join(dist, 'cli/trace.js'), txHash, '--dir', h.t.net.dir, '--participant', 'p1'], { timeout: 60_000 });
  assert.match(text.stdout, /BlockExecuted/);
  assert.match(text.stdout, new RegExp(`transaction ${txHash}`));
});
