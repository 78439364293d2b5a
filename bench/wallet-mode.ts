/**
 * The wallet mode: how wallets and dapps send, measured first. N clients (default 50), each its own test-owned
 * key funded in genesis, client c on gateway c mod gateways; one eth_sendRawTransaction per HTTP request
 * (locally signed EIP-155 legacy transactions, no JSON-RPC batches), in nonce order (the next request leaves
 * once the previous one is answered), at most `window` transactions per client awaiting a receipt; receipts as
 * ethers' tx.wait() gets them (eth_blockNumber polled every `pollMs` per gateway, eth_getTransactionReceipt on
 * each new block). Latency = submit → receipt. The same runs go to our network and to hardhat's node:
 *
 *   transfer  closed loop, value transfers (1 wei, each to a fresh address)
 *   set       closed loop, SimpleStorage.set
 *   paced     set at a fixed rate, job k to client k mod N at start + k/rate
 *   serial    one client, window 1, set: one transaction at a time on an idle network
 *
 * Each run is preceded by an unmeasured warm-up with the same clients (`warmup` transactions per client).
 */
import type { CpuUse } from './cpu.js';
import { call, sleep } from './rpc.js';
import { createAddress, hexToBytes, signLegacyTx, type Key } from './sign.js';
import { fmt, table } from './stats.js';
import { pacedSchedule, rawSender, runClients, share, summarizeClients, type ClientsOptions, type Sender, type WalletRunSummary } from './wallet.js';

export type WalletRunName = 'transfer' | 'set' | 'paced' | 'serial';
const WALLET_RUNS: readonly WalletRunName[] = ['transfer', 'set', 'paced', 'serial'];

export interface WalletModeConfig {
  clients: number;
  window: number;
  pollMs: number;
  /** transactions per closed-loop run */
  txs: number;
  /** unmeasured transactions per client before each run */
  warmup: number;
  pacedTps: number;
  /** 0 skips the paced run */
  pacedSeconds: number;
  /** 0 skips the serial run */
  serialTxs: number;
  runTimeoutS: number;
  /** only these runs (default: all that their settings do not skip) */
  only?: readonly WalletRunName[];
}

/** Where the load goes. */
export interface WalletTarget {
  name: string;
  urls: string[];
  chainId: number;
  /** client c signs with keys[c] */
  keys: Key[];
  /** SimpleStorage contracts; client c calls contracts[c mod length] */
  contracts: string[];
  /** the network's database prefix for the CPU figures ('' when none) */
  dbPrefix: string;
}

/** What the warm-up before a run saw (not in the run's figures, but its failures count against the targets). */
export interface WarmupSummary {
  txs: number;
  included: number;
  refused: number;
  failedRequests: number;
  failedReads: number;
  lost: number;
  reverted: number;
  errors: Record<string, number>;
}

export interface WalletModeRun extends WalletRunSummary {
  run: WalletRunName;
  clients: number;
  window: number;
  /** paced: the rate asked for, and whether answered submissions kept up with it (≥ 95 %) */
  targetTps?: number;
  sustained?: boolean;
  /** blocks made during the measured run (head on the first gateway before and after): txs ÷ blocks is the block size */
  blocks: number;
  warmup: WarmupSummary | null;
}

export interface WalletModeResults {
  target: string;
  gateways: number;
  runs: WalletModeRun[];
}

const RUN_LABEL: Record<WalletRunName, string> = {
  transfer: 'transfers, closed loop',
  set: 'set, closed loop',
  paced: 'set, paced',
  serial: 'set, one at a time',
};

/** A fresh account per transfer (as the in-process rate does: new accounts, the trie grows). */
const freshRecipient = (n: bigint) => '0x' + (0xbf00000000n + n).toString(16).padStart(40, '0');

function senders(t: WalletTarget, clients: number, kind: 'transfer' | 'set'): Sender[] {
  if (t.keys.length < clients) throw new Error(`${t.name}: ${clients} clients but ${t.keys.length} funded keys`);
  return Array.from({ length: clients }, (_, c) => {
    const g = c % t.urls.length;
    return rawSender(t.urls[g], g, t.keys[c], t.chainId, kind === 'transfer' ? { kind: 'transfer', to: freshRecipient } : { kind: 'set', to: t.contracts[c % t.contracts.length] });
  });
}

async function waitReceipt(url: string, hash: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call<any>(url, 'eth_getTransactionReceipt', [hash]).catch(() => null);
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`no receipt for ${hash} within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/**
 * `count` SimpleStorage contracts (constructor argument c + 1) from `deployer`, signed locally and sent with
 * eth_sendRawTransaction to urls[0]; returns their addresses once every URL has their code. The same on our
 * network and on hardhat's node.
 */
export async function deploySimpleStorage(urls: string[], chainId: number, deployer: Key, bytecode: string, count: number): Promise<string[]> {
  const nonce0 = Number(BigInt(await call<string>(urls[0], 'eth_getTransactionCount', [deployer.address, 'pending'])));
  const sent: { hash: string; address: string }[] = [];
  for (let c = 0; c < count; c++) {
    const data = hexToBytes(bytecode + (c + 1).toString(16).padStart(64, '0'));
    const tx = signLegacyTx(deployer, chainId, { nonce: nonce0 + c, gasLimit: 1_000_000, to: null, value: 0n, data });
    await call(urls[0], 'eth_sendRawTransaction', [tx.raw]);
    sent.push({ hash: tx.hash, address: createAddress(deployer.address, nonce0 + c) });
  }
  for (const d of sent) {
    const r = await waitReceipt(urls[0], d.hash, 60_000);
    if (r.status !== '0x1') throw new Error(`SimpleStorage deployment ${d.hash} failed: ${JSON.stringify(r)}`);
    if (r.contractAddress && r.contractAddress.toLowerCase() !== d.address) throw new Error(`deployment ${d.hash} created ${r.contractAddress}, expected ${d.address}`);
  }
  for (const u of urls) {
    for (const d of sent) {
      const deadline = Date.now() + 60_000;
      while ((await call<string>(u, 'eth_getCode', [d.address, 'latest']).catch(() => '0x')) === '0x') {
        if (Date.now() > deadline) throw new Error(`no code at ${d.address} on ${u} within 60 s`);
        await sleep(50);
      }
    }
  }
  return sent.map((d) => d.address);
}

export async function runWalletMode(t: WalletTarget, cfg: WalletModeConfig, log: (m: string) => void): Promise<WalletModeResults> {
  const runs: WalletModeRun[] = [];
  for (const run of WALLET_RUNS) {
    if (cfg.only && !cfg.only.includes(run)) continue;
    if (run === 'transfer' || run === 'set') {
      if (cfg.txs === 0) continue;
    } else if (run === 'paced') {
      if (cfg.pacedSeconds === 0 || cfg.pacedTps === 0) continue;
    } else if (cfg.serialTxs === 0) continue;
    const r = await runOne(t, cfg, run, log);
    runs.push(r);
    const problems = r.refused + r.failedRequests + r.failedReads + r.lost + r.abandoned + r.reverted;
    log(
      `${t.name} ${RUN_LABEL[run]}${r.targetTps ? ` ${r.targetTps} TPS` : ''}: ${r.included}/${r.txs} included in ${fmt(r.seconds, 2)} s, ` +
        `${fmt(run === 'paced' ? r.submitRate : r.tps)} TPS, p50 ${fmt(r.latencyMs.p50)} ms, p95 ${fmt(r.latencyMs.p95)} ms` +
        (problems
          ? `; ${r.refused} refused, ${r.failedRequests} failed submissions, ${r.failedReads} failed reads, ${r.lost + r.abandoned} lost, ${r.reverted} reverted: ` +
            Object.entries(r.errors).map(([k, v]) => `${v}× ${k}`).join('; ')
          : ''),
    );
  }
  return { target: t.name, gateways: t.urls.length, runs };
}

async function runOne(t: WalletTarget, cfg: WalletModeConfig, run: WalletRunName, log: (m: string) => void): Promise<WalletModeRun> {
  const clients = run === 'serial' ? 1 : cfg.clients;
  const window = run === 'serial' ? 1 : cfg.window;
  const ss = senders(t, clients, run === 'transfer' ? 'transfer' : 'set');
  const opts: ClientsOptions = { urls: t.urls, window, pollMs: cfg.pollMs, runTimeoutS: cfg.runTimeoutS, dbPrefix: t.dbPrefix };
  let warmup: WarmupSummary | null = null;
  if (cfg.warmup > 0) {
    const w = await runClients(ss, () => new Array(cfg.warmup).fill(0), opts);
    warmup = {
      txs: w.planned,
      included: w.included,
      refused: w.refused,
      failedRequests: w.failedRequests,
      failedReads: w.failedReads,
      lost: w.lost + w.abandoned,
      reverted: w.reverted,
      errors: Object.fromEntries(w.errors),
    };
  }
  const wp = warmup ? warmup.refused + warmup.failedRequests + warmup.failedReads + warmup.lost + warmup.reverted : 0;
  log(
    `${t.name} ${RUN_LABEL[run]}: ${clients} client${clients > 1 ? 's' : ''}, window ${window}` +
      (warmup ? ` (warm-up: ${warmup.included}/${warmup.txs} included${wp ? `; ${Object.entries(warmup.errors).map(([k, v]) => `${v}× ${k}`).join('; ') || `${wp} problems`}` : ''})` : ''),
  );
  let dueAt: (c: number) => number[];
  let targetTps: number | undefined;
  if (run === 'paced') {
    targetTps = cfg.pacedTps;
    const total = cfg.pacedTps * cfg.pacedSeconds;
    const start = performance.now() + 100;
    dueAt = (c) => pacedSchedule(total, cfg.pacedTps, clients, c, start);
  } else if (run === 'serial') {
    dueAt = () => new Array(cfg.serialTxs).fill(0);
  } else {
    dueAt = (c) => new Array(share(cfg.txs, clients, c)).fill(0);
  }
  const headOf = async () => Number(BigInt(await call<string>(t.urls[0], 'eth_blockNumber')));
  const h0 = await headOf();
  const s = summarizeClients(await runClients(ss, dueAt, opts));
  const blocks = (await headOf()) - h0;
  return {
    run,
    clients,
    window,
    ...s,
    blocks,
    ...(targetTps ? { targetTps, sustained: s.submitRate >= 0.95 * targetTps } : {}),
    warmup,
  };
}

export interface Target {
  value: number | null;
  target: string;
  met: boolean;
  note?: string;
}

export interface WalletComparison {
  /** in-process execution rate (tx/s) by kind */
  inProcess: Partial<Record<'transfer' | 'set', number>>;
  /** network TPS ÷ in-process rate, network TPS ÷ hardhat TPS; null when a side is missing */
  ratios: Record<'transfer' | 'set', { toInProcess: number | null; toHardhat: number | null }>;
  /** network p50 and p95 ÷ hardhat's */
  latency: Partial<Record<'paced' | 'serial', { p50: number | null; p95: number | null }>>;
  targets: Record<string, Target>;
}

const finite = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : x);
const div = (a: number | undefined, b: number | undefined) => finite(a !== undefined && b !== undefined ? a / b : null);

/** Problems counted against the "0 failed reads / refused submissions" target: every run and its warm-up. */
export function walletProblems(res: WalletModeResults): { failedReads: number; refused: number; failedRequests: number; lostOrReverted: number } {
  let failedReads = 0;
  let refused = 0;
  let failedRequests = 0;
  let lostOrReverted = 0;
  for (const r of res.runs) {
    failedReads += r.failedReads + (r.warmup?.failedReads ?? 0);
    refused += r.refused + (r.warmup?.refused ?? 0);
    failedRequests += r.failedRequests + (r.warmup?.failedRequests ?? 0);
    lostOrReverted += r.lost + r.abandoned + r.reverted + (r.warmup ? r.warmup.lost + r.warmup.reverted : 0);
  }
  return { failedReads, refused, failedRequests, lostOrReverted };
}

export function compareWallet(net: WalletModeResults, hh: WalletModeResults | undefined, inProcess: Partial<Record<'transfer' | 'set', number>>): WalletComparison {
  const get = (res: WalletModeResults | undefined, run: WalletRunName) => res?.runs.find((r) => r.run === run);
  const ratios = {} as WalletComparison['ratios'];
  for (const kind of ['transfer', 'set'] as const) {
    const n = get(net, kind);
    ratios[kind] = { toInProcess: div(n?.tps, inProcess[kind]), toHardhat: div(n?.tps, get(hh, kind)?.tps) };
  }
  const latency: WalletComparison['latency'] = {};
  for (const run of ['paced', 'serial'] as const) {
    const n = get(net, run);
    const h = get(hh, run);
    if (n) latency[run] = { p50: div(n.latencyMs.p50, h?.latencyMs.p50), p95: div(n.latencyMs.p95, h?.latencyMs.p95) };
  }
  const targets: Record<string, Target> = {};
  for (const kind of ['transfer', 'set'] as const) {
    const v = ratios[kind].toInProcess;
    targets[`${kind === 'transfer' ? 'transfers' : 'set'}: network TPS ÷ in-process rate`] = { value: v, target: '≥ 0.35', met: v !== null && v >= 0.35 };
  }
  const paced = get(net, 'paced');
  const pacedNote = paced && !paced.sustained ? { note: `rate not kept: ${fmt(paced.submitRate)} submissions/s answered` } : {};
  const p50 = finite(paced?.latencyMs.p50);
  const p95 = finite(paced?.latencyMs.p95);
  const pacedName = `paced${paced ? ` ${paced.targetTps} TPS` : ''}`;
  targets[`${pacedName} p50 (ms)`] = { value: p50, target: '≤ 100', met: p50 !== null && p50 <= 100 && !!paced?.sustained, ...pacedNote };
  targets[`${pacedName} p95 (ms)`] = { value: p95, target: '≤ 300', met: p95 !== null && p95 <= 300 && !!paced?.sustained, ...pacedNote };
  const serial = finite(get(net, 'serial')?.latencyMs.p50);
  targets['one at a time p50 (ms)'] = { value: serial, target: '≤ 60', met: serial !== null && serial <= 60 };
  const pr = walletProblems(net);
  targets['failed reads (network, runs and warm-ups)'] = { value: pr.failedReads, target: '0', met: pr.failedReads === 0 };
  const ref = pr.refused + pr.failedRequests;
  targets['refused or unanswered submissions (network, runs and warm-ups)'] = { value: ref, target: '0', met: ref === 0 };
  targets['lost or reverted transactions (network, runs and warm-ups)'] = { value: pr.lostOrReverted, target: '0', met: pr.lostOrReverted === 0 };
  return { inProcess, ratios, latency, targets };
}

function runRows(res: WalletModeResults): string[][] {
  return res.runs.map((r) => [
    RUN_LABEL[r.run] + (r.targetTps ? ` ${r.targetTps} TPS` : ''),
    `${r.clients}/${r.window}`,
    String(r.txs),
    String(r.included),
    String(r.refused),
    String(r.failedRequests),
    String(r.failedReads),
    String(r.lost + r.abandoned),
    String(r.reverted),
    fmt(r.seconds, 2),
    String(r.blocks),
    fmt(r.run === 'paced' ? r.submitRate : r.tps),
    fmt(r.latencyMs.p50),
    fmt(r.latencyMs.p95),
    fmt(r.latencyMs.p99),
    fmt(r.submitMs.p50),
    fmt(r.missesPerTx, 2),
    r.cpu ? `${fmt(r.cpu.benchCores, 2)} / ${fmt(r.cpu.foreignCores, 2)}` : '—',
  ]);
}

const RUN_HEADERS = ['run', 'clients/win', 'txs', 'included', 'refused', 'failed req', 'failed reads', 'lost', 'reverted', 'seconds', 'blocks', 'TPS', 'p50 ms', 'p95 ms', 'p99 ms', 'submit p50', 'misses/tx', 'cores bench/other'];

function cpuLine(label: string, cpu: CpuUse | null): string | null {
  if (!cpu) return null;
  const groups = Object.entries(cpu.groups).sort((x, y) => y[1] - x[1]).filter(([, v]) => v >= 0.005);
  return `  ${label}: ${groups.map(([g, v]) => `${g} ${fmt(v, 2)}`).join(', ')}; other processes ${fmt(cpu.foreignCores, 2)}`;
}

export function formatWalletMode(
  cfg: WalletModeConfig,
  net: WalletModeResults | undefined,
  hh: WalletModeResults | undefined,
  hhNote: string | undefined,
  cmp: WalletComparison | undefined,
): string[] {
  const out: string[] = [];
  out.push('Wallet mode — how wallets and dapps send:');
  out.push(`${cfg.clients} clients, each its own key (funded in genesis), client c on gateway c mod gateways; one eth_sendRawTransaction per HTTP request`);
  out.push(`(EIP-155 legacy, signed locally, no batches), in nonce order, ≤ ${cfg.window} per client awaiting a receipt; receipts as ethers' tx.wait():`);
  out.push(`eth_blockNumber every ${cfg.pollMs} ms per gateway, eth_getTransactionReceipt on each new block; latency = submit → receipt.`);
  out.push(`Each run after an unmeasured warm-up of ${cfg.warmup} tx per client. Transfers: 1 wei to a fresh address each; set: SimpleStorage.set.`);
  for (const [res, title] of [
    [net, 'Our network'],
    [hh, 'Hardhat node (one in-memory process, automine, all clients on its one URL)'],
  ] as const) {
    if (!res) continue;
    out.push('');
    out.push(`${title}, ${res.gateways} gateway${res.gateways > 1 ? 's' : ''}:`);
    out.push(table(RUN_HEADERS, runRows(res)));
    for (const r of res.runs) {
      const errs = Object.entries(r.errors);
      if (errs.length) out.push(`  ${r.run} errors: ${errs.map(([k, v]) => `${v}× ${k}`).join('; ')}`);
      if (r.warmup && r.warmup.refused + r.warmup.failedRequests + r.warmup.failedReads + r.warmup.lost + r.warmup.reverted) {
        const we = Object.entries(r.warmup.errors);
        out.push(
          `  ${r.run} warm-up: ${r.warmup.refused} refused, ${r.warmup.failedRequests} failed submissions, ${r.warmup.failedReads} failed reads, ${r.warmup.lost} lost, ${r.warmup.reverted} reverted` +
            (we.length ? `: ${we.map(([k, v]) => `${v}× ${k}`).join('; ')}` : ''),
        );
      }
    }
    const paced = res.runs.find((r) => r.run === 'paced');
    if (paced?.lagMs && paced.fromScheduleMs) {
      out.push(
        `  paced: ${fmt(paced.submitRate)} submissions/s answered (${paced.sustained ? 'rate kept' : 'rate NOT kept'}); late start p50/p95 ${fmt(paced.lagMs.p50, 0)}/${fmt(paced.lagMs.p95, 0)} ms; scheduled → receipt p50/p95 ${fmt(paced.fromScheduleMs.p50, 0)}/${fmt(paced.fromScheduleMs.p95, 0)} ms`,
      );
    }
    out.push('  cores by process group:');
    for (const r of res.runs) {
      const l = cpuLine(RUN_LABEL[r.run], r.cpu);
      if (l) out.push('  ' + l);
    }
  }
  if (!hh && hhNote) out.push('', `Hardhat node: ${hhNote}`);
  if (net && cmp) {
    const get = (res: WalletModeResults | undefined, run: WalletRunName) => res?.runs.find((r) => r.run === run);
    out.push('');
    out.push('Comparison (one run):');
    const tpsRows = (['transfer', 'set'] as const)
      .filter((k) => get(net, k))
      .map((k) => [
        RUN_LABEL[k],
        fmt(get(net, k)?.tps),
        fmt(get(hh, k)?.tps),
        fmt(cmp.inProcess[k]),
        fmt(cmp.ratios[k].toInProcess, 3),
        fmt(cmp.ratios[k].toHardhat, 3),
      ]);
    if (tpsRows.length) out.push(table(['run', 'network TPS', 'hardhat TPS', 'in-process tx/s', 'network ÷ in-process', 'network ÷ hardhat'], tpsRows));
    const latRows = (['paced', 'serial'] as const)
      .filter((k) => get(net, k))
      .map((k) => {
        const n = get(net, k)!;
        const h = get(hh, k);
        return [
          RUN_LABEL[k] + (n.targetTps ? ` ${n.targetTps} TPS` : ''),
          `${fmt(n.latencyMs.p50)} / ${fmt(n.latencyMs.p95)}`,
          h ? `${fmt(h.latencyMs.p50)} / ${fmt(h.latencyMs.p95)}` : '—',
          `${fmt(cmp.latency[k]?.p50, 2)} / ${fmt(cmp.latency[k]?.p95, 2)}`,
        ];
      });
    if (latRows.length) {
      out.push('');
      out.push(table(['run', 'network p50 / p95 ms', 'hardhat p50 / p95 ms', 'network ÷ hardhat p50 / p95'], latRows));
    }
    out.push('');
    out.push('Targets (network):');
    for (const [name, t] of Object.entries(cmp.targets)) {
      const v = t.value === null ? '—' : Number.isInteger(t.value) ? String(t.value) : fmt(t.value, t.value < 10 ? 3 : 1);
      out.push(`  ${name}: ${v} (target ${t.target}) ${t.met ? 'met' : 'NOT met'}${t.note ? ` — ${t.note}` : ''}`);
    }
    if (hh) {
      const p = walletProblems(hh);
      out.push(`  hardhat: ${p.failedReads} failed reads, ${p.refused + p.failedRequests} refused or unanswered submissions, ${p.lostOrReverted} lost or reverted (runs and warm-ups)`);
    }
  }
  return out;
}
