/**
 * The private-transaction part of the benchmark: wallet-style clients (bench/wallet.ts) calling
 * SimpleStorage.set, measured in one run with the same clients and the same client shape as
 *   - public   set on a public contract,
 *   - private1 set privateFor one recipient (participant g+1 for clients of participant g),
 *   - private3 set privateFor the three other participants,
 * then a paced run (one tx per request at a fixed rate) public vs private1. Each participant gets one
 * SimpleStorage per kind, deployed first (the private ones privateFor the same recipients as the load).
 */
import type { RunningNetwork } from '../cli/launcher/network-runner.js';
import { compileSimpleStorage } from '../test/support/contracts.js';
import { call, sleep } from './rpc.js';
import { deriveKeys } from './sign.js';
import { fmt, table } from './stats.js';
import { nodeSender, pacedSchedule, rawSender, runClients, share, summarizeClients, type Sender, type WalletRunSummary } from './wallet.js';

export type PrivateKind = 'public' | 'private1' | 'private3';
const PRIVATE_KINDS: readonly PrivateKind[] = ['public', 'private1', 'private3'];

export interface PrivateConfig {
  /** 'node': node-managed accounts + eth_sendTransaction; 'raw': test-owned keys + /storeraw + eth_sendRawPrivateTransaction */
  signer: 'node' | 'raw';
  /** transactions per kind */
  txs: number;
  clients: number;
  /** transactions per client waiting for a receipt at a time */
  window: number;
  pollMs: number;
  /** unmeasured transactions per client and kind before the measured runs */
  warmup: number;
  /** paced runs, one per rate (public and private1 each) */
  pacedTps: number[];
  pacedSeconds: number;
  runTimeoutS: number;
}

export interface WalletRunResult extends WalletRunSummary {
  kind: PrivateKind;
  recipients: number;
  /** paced runs: the rate asked for */
  targetTps?: number;
  /** paced runs: answered submissions kept up with the schedule (≥ 95 % of the rate) */
  sustained?: boolean;
}

export interface PrivateResults {
  signer: string;
  clients: number;
  window: number;
  pollMs: number;
  runs: WalletRunResult[];
  paced: WalletRunResult[];
  /** private TPS ÷ public TPS (targets: private1 ≥ 0.8, private3 ≥ 0.6) */
  tpsRatio: Partial<Record<PrivateKind, number>>;
  /** private p50 ÷ public p50 in the paced run (target ≤ 1.5) */
  pacedP50Ratio: number | null;
  targets: Record<string, { value: number | null; target: string; met: boolean; note?: string }>;
}

/** The test-owned keys (to fund in genesis) of `clients` raw clients; the wallet mode's clients use the same keys. */
export function rawWalletKeys(clients: number) {
  return deriveKeys('wallet', clients);
}

const recipientsOf = (kind: PrivateKind, g: number, n: number): number[] =>
  kind === 'public' ? [] : kind === 'private1' ? [(g + 1) % n] : Array.from({ length: n }, (_, i) => i).filter((i) => i !== g);

async function waitReceipt(url: string, hash: string, timeoutMs: number, what: string): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call<any>(url, 'eth_getTransactionReceipt', [hash]).catch(() => null);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`${what}: no receipt for ${hash} within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** One SimpleStorage per participant and kind, from the participant's first account; returns [kind][participant] → address. */
async function deploy(net: RunningNetwork, log: (m: string) => void): Promise<Record<PrivateKind, string[]>> {
  const ss = compileSimpleStorage();
  const ps = net.network.participants;
  const urls = net.rpcUrls;
  const out = { public: [], private1: [], private3: [] } as Record<PrivateKind, string[]>;
  await Promise.all(
    ps.map(async (p, g) => {
      for (const kind of PRIVATE_KINDS) {
        const data = ss.bytecode + BigInt(g + 1).toString(16).padStart(64, '0');
        const privateFor = recipientsOf(kind, g, ps.length).map((i) => ps[i].privacyPublicKey);
        const hash = await call<string>(urls[g], 'eth_sendTransaction', [
          { from: p.accounts[0], data, gas: '0xf4240', ...(kind === 'public' ? {} : { privateFor }) },
        ]);
        const r = await waitReceipt(urls[g], hash, 60_000, `${kind} SimpleStorage deployment on p${g + 1}`);
        if (r.status !== '0x1' || !r.contractAddress) throw new Error(`${kind} SimpleStorage deployment on p${g + 1} failed: ${JSON.stringify(r)}`);
        out[kind][g] = r.contractAddress;
        // every participant has the block (the recipients hold the contract) before the load starts
        for (const u of urls) await waitReceipt(u, hash, 60_000, `${kind} deployment seen everywhere`);
      }
    }),
  );
  log(`deployed ${PRIVATE_KINDS.length * ps.length} SimpleStorage contracts (public, privateFor 1, privateFor 3; one per participant each)`);
  return out;
}

function senders(net: RunningNetwork, cfg: PrivateConfig, kind: PrivateKind, contracts: Record<PrivateKind, string[]>): Sender[] {
  const ps = net.network.participants;
  const n = ps.length;
  const keys = cfg.signer === 'raw' ? rawWalletKeys(cfg.clients) : [];
  const out: Sender[] = [];
  for (let c = 0; c < cfg.clients; c++) {
    const g = c % n;
    const to = contracts[kind][g];
    const privateFor = kind === 'public' ? undefined : recipientsOf(kind, g, n).map((i) => ps[i].privacyPublicKey);
    if (cfg.signer === 'node') {
      const from = ps[g].accounts[Math.floor(c / n)];
      out.push(nodeSender(net.rpcUrls[g], g, from, to, privateFor));
    } else {
      out.push(
        rawSender(
          net.rpcUrls[g],
          g,
          keys[c],
          net.network.chainId,
          privateFor ? { kind: 'private', to, tmUrl: net.tmUrls[g], from: ps[g].privacyPublicKey, privateFor } : { kind: 'set', to },
        ),
      );
    }
  }
  return out;
}

/** All clients at once; dueAt(c) gives client c's schedule. */
const runAll = (net: RunningNetwork, cfg: PrivateConfig, ss: Sender[], dueAt: (c: number) => number[]) =>
  runClients(ss, dueAt, { urls: net.rpcUrls, window: cfg.window, pollMs: cfg.pollMs, runTimeoutS: cfg.runTimeoutS, dbPrefix: net.dbPrefix });

const summarize = (kind: PrivateKind, n: number, s: Awaited<ReturnType<typeof runAll>>): WalletRunResult => ({
  kind,
  recipients: kind === 'public' ? 0 : kind === 'private1' ? 1 : n - 1,
  ...summarizeClients(s),
});

export async function runPrivateBench(net: RunningNetwork, cfg: PrivateConfig, log: (m: string) => void): Promise<PrivateResults> {
  const n = net.network.participants.length;
  const maxNode = net.network.participants.reduce((a, p) => a + p.accounts.length, 0);
  if (cfg.signer === 'node' && cfg.clients > maxNode) throw new Error(`BENCH_PRIVATE_CLIENTS=${cfg.clients}: only ${maxNode} node-managed accounts; use BENCH_PRIVATE_SIGNER=raw for more clients`);
  for (let c = 0; c < cfg.clients && cfg.signer === 'node'; c++) {
    if (!net.network.participants[c % n].accounts[Math.floor(c / n)]) throw new Error(`no node-managed account for client ${c + 1}`);
  }
  const contracts = await deploy(net, log);
  const shape = `${cfg.clients} clients (${cfg.signer === 'node' ? 'node-managed accounts, eth_sendTransaction' : 'test-owned keys, /storeraw + eth_sendRawPrivateTransaction'}), window ${cfg.window}, new blocks polled every ${cfg.pollMs} ms`;
  log(`wallet-style load: ${shape}`);

  if (cfg.warmup > 0) {
    for (const kind of PRIVATE_KINDS) {
      const s = await runAll(net, cfg, senders(net, cfg, kind, contracts), () => new Array(cfg.warmup).fill(0));
      log(`warm-up ${kind}: ${s.included}/${s.planned} included${s.refused + s.failedRequests ? `, ${s.refused} refused, ${s.failedRequests} failed` : ''}`);
    }
  }

  const runs: WalletRunResult[] = [];
  for (const kind of PRIVATE_KINDS) {
    log(`wallet ${kind}: ${cfg.txs} set calls`);
    const s = await runAll(net, cfg, senders(net, cfg, kind, contracts), (c) => new Array(share(cfg.txs, cfg.clients, c)).fill(0));
    const r = summarize(kind, n, s);
    runs.push(r);
    log(`wallet ${kind}: ${r.included}/${r.txs} included, ${fmt(r.tps)} TPS, p50 ${fmt(r.latencyMs.p50)} ms, p95 ${fmt(r.latencyMs.p95)} ms, ${r.refused} refused, ${r.failedRequests} failed`);
  }

  const paced: WalletRunResult[] = [];
  for (const tps of cfg.pacedSeconds > 0 ? cfg.pacedTps.filter((t) => t > 0) : []) {
    const total = tps * cfg.pacedSeconds;
    for (const kind of ['public', 'private1'] as const) {
      log(`wallet paced ${kind}: ${total} set calls at ${tps} TPS`);
      const start = performance.now() + 100;
      const s = await runAll(net, cfg, senders(net, cfg, kind, contracts), (c) => pacedSchedule(total, tps, cfg.clients, c, start));
      const sum = summarize(kind, n, s);
      const r = { ...sum, targetTps: tps, sustained: sum.submitRate >= 0.95 * tps };
      paced.push(r);
      log(`wallet paced ${kind}: ${r.included}/${r.txs} included, p50 ${fmt(r.latencyMs.p50)} ms, p95 ${fmt(r.latencyMs.p95)} ms`);
    }
  }

  const pub = runs.find((r) => r.kind === 'public');
  const tpsRatio: Partial<Record<PrivateKind, number>> = {};
  for (const r of runs) if (r.kind !== 'public' && pub) tpsRatio[r.kind] = r.tps / pub.tps;
  // the ratio's target is about the first rate asked for (50 TPS by default)
  const pp = paced.find((r) => r.kind === 'public');
  const pv = paced.find((r) => r.kind === 'private1' && r.targetTps === pp?.targetTps);
  const pacedP50Ratio = pp && pv ? pv.latencyMs.p50 / pp.latencyMs.p50 : null;
  const pacedSustained = !!pp?.sustained && !!pv?.sustained;
  const problems = [...runs, ...paced].reduce((a, r) => a + r.refused + r.failedRequests + r.lost + r.abandoned + r.reverted, 0);
  const finite = (x: number | undefined | null) => (x === undefined || x === null || !Number.isFinite(x) ? null : x);
  const targets: PrivateResults['targets'] = {
    'private1 TPS ÷ public TPS': { value: finite(tpsRatio.private1), target: '≥ 0.8', met: (tpsRatio.private1 ?? 0) >= 0.8 },
    'private3 TPS ÷ public TPS': { value: finite(tpsRatio.private3), target: '≥ 0.6', met: (tpsRatio.private3 ?? 0) >= 0.6 },
    [pp ? `paced (${pp.targetTps} TPS) private1 p50 ÷ public p50` : 'paced private1 p50 ÷ public p50 (no paced run)']: {
      value: finite(pacedP50Ratio),
      target: '≤ 1.5, both runs at the rate',
      met: pacedP50Ratio !== null && pacedP50Ratio <= 1.5 && pacedSustained,
      ...(pp && pv && !pacedSustained ? { note: `rate not sustained: public ${fmt(pp.submitRate)}, private ${fmt(pv.submitRate)} submissions/s answered` } : {}),
    },
    'failed, refused, lost or reverted transactions': { value: problems, target: '0', met: problems === 0 },
  };
  return { signer: cfg.signer, clients: cfg.clients, window: cfg.window, pollMs: cfg.pollMs, runs, paced, tpsRatio, pacedP50Ratio, targets };
}

const KIND_LABEL: Record<PrivateKind, string> = { public: 'public set', private1: 'private set, privateFor 1', private3: 'private set, privateFor 3' };

export function formatPrivate(p: PrivateResults, cfg: PrivateConfig): string[] {
  const out: string[] = [];
  const how =
    p.signer === 'node'
      ? 'node-managed accounts, eth_sendTransaction {privateFor} (the gateway signs, seals via its tm, pushes to recipients, submits)'
      : 'test-owned keys, web3js-quorum flow: POST /storeraw, sign v=37/38, eth_sendRawPrivateTransaction {privateFor}';
  out.push('');
  out.push(`Wallet-style SimpleStorage set (${how}):`);
  out.push(`${p.clients} clients, each one account on one gateway, one tx per HTTP request in nonce order, ≤ ${p.window} awaiting a receipt;`);
  out.push(`receipts as ethers' tx.wait() gets them: eth_blockNumber polled every ${p.pollMs} ms per gateway, eth_getTransactionReceipt of the oldest pending tx on each new block; latency = submit → receipt`);
  const pub = p.runs.find((r) => r.kind === 'public');
  const row = (r: WalletRunResult, ref: WalletRunResult | undefined, tps: boolean) => [
    KIND_LABEL[r.kind],
    String(r.txs),
    String(r.included),
    String(r.refused),
    String(r.failedRequests),
    String(r.lost + r.abandoned),
    String(r.reverted),
    fmt(r.seconds, 2),
    fmt(tps ? r.tps : r.submitRate),
    fmt(r.latencyMs.p50),
    fmt(r.latencyMs.p95),
    fmt(r.latencyMs.p99),
    fmt(r.submitMs.p50),
    r.kind === 'public' || !ref ? '—' : fmt(tps ? r.tps / ref.tps : r.latencyMs.p50 / ref.latencyMs.p50, 2),
    fmt(r.missesPerTx, 2),
    r.cpu ? `${fmt(r.cpu.benchCores, 2)} / ${fmt(r.cpu.foreignCores, 2)}` : '—',
  ];
  if (p.runs.length) {
    out.push(
      table(
        ['kind', 'txs', 'included', 'refused', 'failed req', 'lost', 'reverted', 'seconds', 'TPS', 'p50 ms', 'p95 ms', 'p99 ms', 'submit p50', 'TPS ÷ public', 'misses/tx', 'cores bench/other'],
        p.runs.map((r) => row(r, pub, true)),
      ),
    );
  }
  if (p.paced.length) {
    out.push('');
    out.push(`Wallet-style paced runs (${cfg.pacedSeconds} s each, same clients; job k to client k mod ${p.clients} at start + k/rate):`);
    out.push(
      table(
        ['kind', 'rate', 'txs', 'included', 'refused', 'failed req', 'lost', 'reverted', 'seconds', 'achieved TPS', 'p50 ms', 'p95 ms', 'p99 ms', 'submit p50', 'p50 ÷ public', 'misses/tx', 'cores bench/other', 'late p50/p95', 'sched→receipt p50/p95'],
        p.paced.map((r) => {
          const ref = p.paced.find((x) => x.kind === 'public' && x.targetTps === r.targetTps);
          const cells = row(r, ref, false);
          cells.splice(1, 0, String(r.targetTps ?? '—'));
          cells.push(r.lagMs ? `${fmt(r.lagMs.p50, 0)}/${fmt(r.lagMs.p95, 0)}` : '—');
          cells.push(r.fromScheduleMs ? `${fmt(r.fromScheduleMs.p50, 0)}/${fmt(r.fromScheduleMs.p95, 0)}` : '—');
          return cells;
        }),
      ),
    );
    out.push('  achieved TPS: answered submissions per second; late: ms a submission started after its scheduled time because');
    out.push('  its client was still busy (waiting for its previous answer, or for a receipt when its window was full);');
    out.push('  p50/p95 are from the submission request; sched→receipt adds the lateness (what a user who clicked at the scheduled time waits)');
  }
  for (const r of [...p.runs, ...p.paced]) {
    const errs = Object.entries(r.errors);
    if (errs.length) out.push(`  ${r.kind} errors: ${errs.map(([k, v]) => `${v}× ${k}`).join('; ')}`);
    if (r.failedReads) out.push(`  ${r.kind}: ${r.failedReads} reads failed`);
  }
  out.push('  submit p50: ms until the submission request(s) answered with the hash (part of the latency)');
  out.push('  misses/tx: receipt requests answered null per included tx; cores: average CPU cores used during the run by the');
  out.push('  benchmark (load generator, actors, nats-server, its Postgres backends) / by other processes on the machine');
  out.push('Cores by process group during each run (all participants together):');
  for (const r of [...p.runs, ...p.paced]) {
    if (!r.cpu) continue;
    const groups = Object.entries(r.cpu.groups).sort((x, y) => y[1] - x[1]).filter(([, v]) => v >= 0.005);
    out.push(`  ${KIND_LABEL[r.kind]}${r.targetTps ? ` @${r.targetTps} TPS` : ''}: ${groups.map(([g, v]) => `${g} ${fmt(v, 2)}`).join(', ')}; other processes ${fmt(r.cpu.foreignCores, 2)}`);
  }
  out.push('');
  out.push('Targets:');
  for (const [name, t] of Object.entries(p.targets)) {
    out.push(`  ${name}: ${t.value === null ? '—' : Number.isInteger(t.value) ? String(t.value) : fmt(t.value, 2)} (target ${t.target}) ${t.met ? 'met' : 'NOT met'}${t.note ? ` — ${t.note}` : ''}`);
  }
  return out;
}
