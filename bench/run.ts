/**
 * The benchmark, in three sections on one 4-participant network from the launcher:
 *   1. wallet mode (bench/wallet-mode.ts): how wallets and dapps send — N clients, each its own key, one
 *      eth_sendRawTransaction per HTTP request in nonce order, receipts polled; closed-loop value transfers and
 *      SimpleStorage set calls, a paced run, one transaction at a time. Then the same runs against hardhat's
 *      node (bench/hardhat/), started and stopped here, with the network gone;
 *   2. batched mode: pre-signed transactions in JSON-RPC batches (value transfers, then set calls), then a
 *      paced run at a fixed rate;
 *   3. private transactions, wallet-style (bench/private.ts: public vs private set with the same clients, and
 *      a paced public vs private run);
 * finally the in-process raw execution rate of the same kinds (the ceiling), and the ratios between them.
 *
 *   npm run bench                 (scripts/bench.sh: build, then node dist/bench/run.js)
 *   BENCH_ONLY=wallet npm run bench   (the wallet mode, hardhat and the in-process rate only)
 *   npm run bench -- --consensus ibft (Raft and QBFT side by side under the wallet load: bench/consensus-compare.ts)
 *   npm run bench -- --soak       (a long run: memory, consensus restart and executor cold start every 10,000: bench/soak.ts)
 *
 * Env: BENCH_ONLY (comma-separated sections: wallet, batched, private; default all).
 * Wallet mode: BENCH_WALLET (1; 0 skips), BENCH_WALLET_CLIENTS (50), BENCH_WALLET_WINDOW (4), BENCH_WALLET_POLL_MS (10),
 * BENCH_WALLET_TXS (4000 per closed-loop run), BENCH_WALLET_WARMUP (5 per client and run), BENCH_WALLET_PACED_TPS (50),
 * BENCH_WALLET_PACED_SECONDS (20; 0 skips), BENCH_WALLET_SERIAL_TXS (100; 0 skips), BENCH_PEER (1; 0 skips hardhat).
 * Batched mode: BENCH_TXS (10000 per kind), BENCH_KINDS (transfer,set), BENCH_SENDERS (200), BENCH_BATCH (20),
 * BENCH_INFLIGHT (4 batches per gateway), BENCH_CONTRACTS (4, also the wallet mode's), BENCH_PACED_TPS (50), BENCH_PACED_SECONDS
 * (20; 0 skips the paced run), BENCH_RAW_TXS (= BENCH_TXS; 0 skips), BENCH_RUN_TIMEOUT_S (600 per run),
 * BENCH_TIMEOUT_S (1800 for everything), BENCH_PARTICIPANTS (4).
 * Private part: BENCH_PRIVATE (1; 0 skips), BENCH_PRIVATE_SIGNER (node | raw), BENCH_PRIVATE_TXS (2000 per
 * kind), BENCH_PRIVATE_CLIENTS (8), BENCH_PRIVATE_WINDOW (4), BENCH_PRIVATE_POLL_MS (50), BENCH_PRIVATE_WARMUP
 * (5 per client and kind), BENCH_PRIVATE_PACED_TPS (= BENCH_PACED_TPS; a list runs each rate), BENCH_PRIVATE_PACED_SECONDS
 * (= BENCH_PACED_SECONDS; 0 skips). See scripts/bench.sh.
 *
 * Results: a table on stdout and bench/results/latest.json. Every process is stopped at the end, on
 * error, on SIGINT/SIGTERM, and when the overall timeout fires.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Transaction } from 'ethers';
import type { RunningNetwork } from '../cli/launcher/network-runner.js';
import { startBenchNetwork } from './network.js';
import { LEDGER_HARDFORK } from '../lib/ethereum/chain.js';
import { DEFAULT_FUND_BALANCE } from '../cli/network/generate.js';
import { compileSimpleStorage } from '../test/support/contracts.js';
import { measureExecutionRate } from './execution-rate.js';
import { startHardhatNode, type HardhatNode } from './hardhat/node.js';
import { formatPrivate, rawWalletKeys, runPrivateBench, type PrivateConfig, type PrivateResults } from './private.js';
import { submitBurst, submitPaced, type Ack, type Lane, type PacedItem, type SubmitStats } from './load.js';
import { call, sleep } from './rpc.js';
import { deriveKeys, encodeSet, signLegacyTx, type Key } from './sign.js';
import { distribution, fmt, table, type Distribution } from './stats.js';
import { compareWallet, deploySimpleStorage, formatWalletMode, runWalletMode, walletProblems, type WalletComparison, type WalletModeConfig, type WalletModeResults } from './wallet-mode.js';
import { BlockWatcher } from './watch.js';
import { envInt } from './env.js';
import { runConsensusComparison } from './consensus-compare.js';
import { runSoak } from './soak.js';
import { loadReplayData, measureReplay, type ReplaySpeed } from './replay-speed.js';
import type { AuditData } from '../cli/audit/format.js';

type Kind = 'transfer' | 'set';


/** How often each gateway's block watcher polls: finely when latency is the figure, coarser at saturation. */
const PACED_POLL_MS = 10;
const SATURATED_POLL_MS = 25;
const SECTIONS = ['wallet', 'batched', 'private'] as const;
const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of only) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section ${s} (${SECTIONS.join(', ')})`);
const section = (s: (typeof SECTIONS)[number]) => only.length === 0 || only.includes(s);
const config = {
  only: only.length ? only : [...SECTIONS],
  wallet: section('wallet') && envInt('BENCH_WALLET', 1) !== 0,
  /** hardhat's node under the wallet mode's load */
  peer: envInt('BENCH_PEER', 1) !== 0,
  participants: envInt('BENCH_PARTICIPANTS', 4),
  /** the auditor's replay of p1's record, timed after the network is gone */
  replay: envInt('BENCH_REPLAY', 1) !== 0,
  txs: envInt('BENCH_TXS', 10_000),
  /** batched mode: the saturating runs (empty: none) */
  kinds: (section('batched') ? (process.env.BENCH_KINDS ?? 'transfer,set') : '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as Kind[],
  /** batched mode: its paced run */
  batchedPaced: section('batched'),
  senders: envInt('BENCH_SENDERS', 200),
  batchSize: envInt('BENCH_BATCH', 20),
  inFlight: envInt('BENCH_INFLIGHT', 4),
  contracts: envInt('BENCH_CONTRACTS', 4),
  pacedTps: envInt('BENCH_PACED_TPS', 50),
  pacedSeconds: envInt('BENCH_PACED_SECONDS', 20),
  rawTxs: envInt('BENCH_RAW_TXS', envInt('BENCH_TXS', 10_000)),
  runTimeoutS: envInt('BENCH_RUN_TIMEOUT_S', 600),
  timeoutS: envInt('BENCH_TIMEOUT_S', 1800),
  private: section('private') && envInt('BENCH_PRIVATE', 1) !== 0,
};
const walletConfig: WalletModeConfig = {
  clients: envInt('BENCH_WALLET_CLIENTS', 50),
  window: envInt('BENCH_WALLET_WINDOW', 4),
  pollMs: envInt('BENCH_WALLET_POLL_MS', 10),
  txs: envInt('BENCH_WALLET_TXS', 4000),
  warmup: envInt('BENCH_WALLET_WARMUP', 5),
  pacedTps: envInt('BENCH_WALLET_PACED_TPS', 50),
  pacedSeconds: envInt('BENCH_WALLET_PACED_SECONDS', 20),
  serialTxs: envInt('BENCH_WALLET_SERIAL_TXS', 100),
  runTimeoutS: envInt('BENCH_RUN_TIMEOUT_S', 600),
};
if (config.wallet && (walletConfig.clients < 1 || walletConfig.window < 1 || walletConfig.pollMs < 1)) {
  throw new Error('BENCH_WALLET_CLIENTS, BENCH_WALLET_WINDOW and BENCH_WALLET_POLL_MS must be ≥ 1');
}
const privateConfig: PrivateConfig = {
  signer: (process.env.BENCH_PRIVATE_SIGNER || 'node') as PrivateConfig['signer'],
  txs: envInt('BENCH_PRIVATE_TXS', 2000),
  clients: envInt('BENCH_PRIVATE_CLIENTS', 8),
  window: envInt('BENCH_PRIVATE_WINDOW', 4),
  pollMs: envInt('BENCH_PRIVATE_POLL_MS', 50),
  warmup: envInt('BENCH_PRIVATE_WARMUP', 5),
  pacedTps: (process.env.BENCH_PRIVATE_PACED_TPS || String(config.pacedTps)).split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 0) throw new Error(`BENCH_PRIVATE_PACED_TPS: comma-separated non-negative integers, got ${JSON.stringify(x)}`);
    return n;
  }),
  pacedSeconds: envInt('BENCH_PRIVATE_PACED_SECONDS', config.pacedSeconds),
  runTimeoutS: config.runTimeoutS,
};
if (privateConfig.signer !== 'node' && privateConfig.signer !== 'raw') throw new Error(`BENCH_PRIVATE_SIGNER: node or raw, got ${privateConfig.signer}`);
if (config.private && (privateConfig.clients < 1 || privateConfig.window < 1 || privateConfig.pollMs < 1)) {
  throw new Error('BENCH_PRIVATE_CLIENTS, BENCH_PRIVATE_WINDOW and BENCH_PRIVATE_POLL_MS must be ≥ 1');
}
for (const k of config.kinds) if (k !== 'transfer' && k !== 'set') throw new Error(`BENCH_KINDS: unknown kind ${k} (transfer, set)`);
if (config.senders < 1 || config.batchSize < 1 || config.inFlight < 1) throw new Error('BENCH_SENDERS, BENCH_BATCH and BENCH_INFLIGHT must be ≥ 1');

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

interface RunResult {
  kind: Kind;
  txs: number;
  acked: number;
  included: number;
  failed: number;
  complete: boolean;
  seconds: number;
  tps: number;
  submitRate: number;
  latencyMs: Distribution;
  blocks: number;
  txsPerBlock: { mean: number; max: number };
  errors: Record<string, number>;
}

interface PacedResult {
  kind: Kind;
  targetTps: number;
  seconds: number;
  txs: number;
  acked: number;
  included: number;
  achievedTps: number;
  latencyMs: Distribution;
  errors: Record<string, number>;
}

/** What the watchers learn, for the run in progress. */
class Tracker {
  /** hash → { gateway sent to, submit time, first visibility anywhere, visibility on its own gateway } */
  readonly txs = new Map<string, { gateway: number; submitAt?: number; firstSeen?: number; seenOwn?: number }>();
  ownSeen = 0;
  expect(hash: string, gateway: number): void {
    this.txs.set(hash, { gateway });
  }
  ack(a: Ack): void {
    const t = this.txs.get(a.hash);
    if (t) t.submitAt = a.submitAt;
  }
  seen(hash: string, gateway: number, at: number): void {
    const t = this.txs.get(hash);
    if (!t) return;
    if (t.firstSeen === undefined || at < t.firstSeen) t.firstSeen = at;
    if (gateway === t.gateway && t.seenOwn === undefined) {
      t.seenOwn = at;
      this.ownSeen++;
    }
  }
}

async function main(): Promise<void> {
  if (process.argv.includes('--soak')) return runSoak();
  const consensusFlag = process.argv.indexOf('--consensus');
  if (consensusFlag >= 0) {
    const which = process.argv[consensusFlag + 1];
    if (which !== 'ibft' && which !== 'qbft') throw new Error(`--consensus: expected ibft (or qbft), got ${JSON.stringify(which)}`);
    return runConsensusComparison();
  }
  const started = new Date();
  const senders = deriveKeys('sender', config.senders);
  const [deployer] = deriveKeys('deployer', 1);
  const recipients = deriveKeys('recipient', 64).map((k) => k.address);
  /** test-owned keys of the wallet mode's clients (and of the private part's raw signer: the same keys) */
  const walletKeys = rawWalletKeys(Math.max(config.wallet ? walletConfig.clients : 0, config.private && privateConfig.signer === 'raw' ? privateConfig.clients : 0));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-bench-'));
  let net: RunningNetwork | undefined;
  let hardhat: HardhatNode | undefined;
  let watchers: BlockWatcher[] = [];
  let cleaning: Promise<void> | undefined;
  /** set when a run saw errors: the actors' logs are copied out before the network is destroyed */
  let keepLogs = false;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await Promise.allSettled(watchers.map((w) => w.stop()));
      if (net && (keepLogs || process.env.BENCH_KEEP_LOGS === '1')) {
        const to = path.join(os.tmpdir(), `quorum-bench-logs-${process.pid}`);
        await net.stop().catch(() => {});
        await cp(path.join(dir, 'logs'), to, { recursive: true }).then(
          () => log(`actor logs kept in ${to}`),
          (e) => log(`could not keep the logs: ${(e as Error).message}`),
        );
      }
      if (net) {
        log('destroying the network');
        await net.destroy().catch((e) => log(`destroy failed: ${(e as Error).message}`));
      }
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    })());
  /** everything still running: the network (once) and hardhat's node (started after the network is gone) */
  const stopAll = () => Promise.allSettled([cleanup(), hardhat?.stop()]);
  /** set by SIGINT/SIGTERM: nothing new is started while everything stops */
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = true;
    log(`${sig}: stopping`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const watchdog = setTimeout(() => {
    log(`overall timeout of ${config.timeoutS} s: stopping`);
    void stopAll().finally(() => process.exit(2));
  }, config.timeoutS * 1000);

  const runs: RunResult[] = [];
  let paced: PacedResult | undefined;
  let priv: PrivateResults | undefined;
  let walletNet: WalletModeResults | undefined;
  let walletHardhat: WalletModeResults | undefined;
  let hardhatNote: string | undefined = config.wallet && !config.peer ? 'skipped (BENCH_PEER=0)' : undefined;
  let hardhatInfo: Record<string, unknown> | undefined;
  let networkInfo: Record<string, unknown> = {};
  let replayData: AuditData | undefined;
  let chainId = 0;
  let bytecode: string | undefined;
  const simpleStorage = () => (bytecode ??= compileSimpleStorage().bytecode);
  try {
    log(`starting a ${config.participants}-participant network in ${dir}`);
    const t0 = performance.now();
    const dbPrefix = `bench_${process.pid}`;
    net = await startBenchNetwork({
      dir,
      participants: config.participants,
      dbPrefix,
      fund: [deployer.address, ...senders.map((k) => k.address), ...walletKeys.map((k) => k.address)],
    });
    log(`network ready in ${fmt((performance.now() - t0) / 1000)} s: ${net.rpcUrls.join(' ')}`);
    const urls = net.rpcUrls;
    chainId = net.network.chainId;
    networkInfo = { participants: net.network.participants.length, chainId, consensus: net.network.consensus };

    // our signer against ethers' parser, once
    const probe = signLegacyTx(senders[0], chainId, { nonce: 0, gasLimit: 21_000, to: recipients[0], value: 1n, data: new Uint8Array(0) });
    const parsed = Transaction.from(probe.raw);
    if (parsed.from?.toLowerCase() !== senders[0].address || parsed.hash !== probe.hash) throw new Error('bench signer disagrees with ethers');

    const nonces = new Map<string, number>();
    for (const k of [deployer, ...senders.slice(0, 3), ...walletKeys.slice(0, 3)]) {
      const n = Number(BigInt(await call<string>(urls[0], 'eth_getTransactionCount', [k.address, 'pending'])));
      if (n !== 0) throw new Error(`fresh key ${k.address} already has nonce ${n}`);
    }
    const nextNonce = (k: Key) => {
      const n = nonces.get(k.address) ?? 0;
      nonces.set(k.address, n + 1);
      return n;
    };

    // SimpleStorage contracts for the wallet mode's and the batched mode's set calls
    let contracts: string[] = [];
    if (config.wallet || config.kinds.includes('set')) {
      contracts = await deploySimpleStorage(urls, chainId, deployer, simpleStorage(), Math.max(1, config.contracts));
      log(`deployed ${contracts.length} SimpleStorage contracts`);
    }

    // 1. wallet mode
    if (config.wallet) {
      log(`wallet mode: ${walletConfig.clients} clients over ${urls.length} gateways, window ${walletConfig.window}, heads polled every ${walletConfig.pollMs} ms`);
      walletNet = await runWalletMode({ name: 'network', urls, chainId, keys: walletKeys, contracts, dbPrefix }, walletConfig, log);
      const p = walletProblems(walletNet);
      if (p.failedReads + p.refused + p.failedRequests + p.lostOrReverted > 0) keepLogs = true;
      networkInfo.walletHeadAgreement = await headAgreement(urls);
    }

    // 2. batched mode
    const tracker = { current: new Tracker() };
    if (config.kinds.length || (config.batchedPaced && config.pacedSeconds > 0 && config.pacedTps > 0)) {
      const head0 = Number(BigInt(await call<string>(urls[0], 'eth_blockNumber')));
      watchers = urls.map((u, g) => new BlockWatcher(u, g, head0, (h, gw, at) => tracker.current.seen(h, gw, at)));
      watchers.forEach((w) => w.start());
    }

    // burst runs
    for (const kind of config.kinds) {
      const lanes: Lane[] = senders.map((_, s) => ({ gateway: s % urls.length, txs: [] }));
      const ts = performance.now();
      for (let j = 0; j < config.txs; j++) {
        const s = j % senders.length;
        const key = senders[s];
        const tx =
          kind === 'transfer'
            ? signLegacyTx(key, chainId, { nonce: nextNonce(key), gasLimit: 21_000, to: recipients[j % recipients.length], value: 1n, data: new Uint8Array(0) })
            : signLegacyTx(key, chainId, { nonce: nextNonce(key), gasLimit: 100_000, to: contracts[s % contracts.length], value: 0n, data: encodeSet(BigInt(j + 1)) });
        lanes[s].txs.push(tx);
      }
      log(`${kind}: signed ${config.txs} transactions in ${fmt((performance.now() - ts) / 1000, 2)} s (off the clock); sending`);
      // Latencies here are seconds of queueing: a 25 ms poll loses nothing and leaves the CPU to the network.
      watchers.forEach((w) => (w.intervalMs = SATURATED_POLL_MS));
      runs.push(await burst(kind, urls, lanes, tracker, watchers));
      const r = runs[runs.length - 1];
      log(`${kind}: ${r.included}/${r.txs} included, ${fmt(r.tps)} TPS, p50 ${fmt(r.latencyMs.p50)} ms, p95 ${fmt(r.latencyMs.p95)} ms`);
    }

    // paced run
    if (config.batchedPaced && config.pacedSeconds > 0 && config.pacedTps > 0) {
      const n = config.pacedTps * config.pacedSeconds;
      const items: PacedItem[] = [];
      for (let k = 0; k < n; k++) {
        const s = k % senders.length;
        const key = senders[s];
        const tx = signLegacyTx(key, chainId, { nonce: nextNonce(key), gasLimit: 21_000, to: recipients[k % recipients.length], value: 1n, data: new Uint8Array(0) });
        items.push({ tx, gateway: s % urls.length, sender: s });
      }
      log(`paced: ${n} transfers at ${config.pacedTps} TPS`);
      watchers.forEach((w) => (w.intervalMs = PACED_POLL_MS));
      paced = await pacedRun(urls, items, tracker);
      log(`paced: ${paced.included}/${paced.txs} included, p50 ${fmt(paced.latencyMs.p50)} ms, p95 ${fmt(paced.latencyMs.p95)} ms`);
    }

    // 3. private transactions, wallet-style
    if (config.private) {
      // the watchers only collect blocks for the agreement check below: poll them rarely
      watchers.forEach((w) => (w.intervalMs = 250));
      try {
        priv = await runPrivateBench(net, privateConfig, log);
      } catch (err) {
        keepLogs = true;
        throw err;
      }
      if (!priv.targets['failed, refused, lost or reverted transactions'].met) keepLogs = true;
    }

    // all gateways saw the same blocks
    const forks: string[] = [];
    for (const [num, b] of watchers[0]?.blocks ?? []) {
      for (const w of watchers.slice(1)) {
        const o = w.blocks.get(num);
        if (o && o.hash !== b.hash) forks.push(`block ${num}: gateway 1 ${b.hash}, gateway ${w.gateway + 1} ${o.hash}`);
      }
    }
    if (forks.length) log(`WARNING: gateways disagree on blocks: ${forks.slice(0, 5).join('; ')}`);
    networkInfo.blockDisagreements = forks.length;
    networkInfo.watcherErrors = watchers.map((w) => ({ errors: w.errors, last: w.lastError }));
    networkInfo.headAgreement = await headAgreement(urls);
    // the auditor's replay is timed once the network is gone; its record is read now, from p1's database
    if (config.replay) {
      try {
        replayData = await loadReplayData(dir, 'p1');
      } catch (err) {
        log(`replay: could not read p1's record: ${(err as Error).message}`);
      }
    }
  } finally {
    await cleanup();
  }

  // the wallet mode against hardhat's node, with our network gone
  if (walletNet && config.peer && !interrupted) {
    try {
      hardhat = await startHardhatNode({ chainId, hardfork: LEDGER_HARDFORK, keys: [deployer, ...walletKeys], balance: DEFAULT_FUND_BALANCE, log });
      hardhatInfo = { version: hardhat.version, hardfork: LEDGER_HARDFORK, chainId, automine: true };
      const hhContracts = await deploySimpleStorage([hardhat.url], chainId, deployer, simpleStorage(), Math.max(1, config.contracts));
      log(`hardhat: deployed ${hhContracts.length} SimpleStorage contracts`);
      walletHardhat = await runWalletMode({ name: 'hardhat', urls: [hardhat.url], chainId, keys: walletKeys, contracts: hhContracts, dbPrefix: '' }, walletConfig, log);
    } catch (err) {
      hardhatNote = `failed: ${(err as Error).message}`;
      log(`hardhat: ${hardhatNote}`);
    } finally {
      await hardhat?.stop();
      hardhat = undefined;
    }
  }

  // raw execution rate, with the network and hardhat gone (no CPU contention)
  const raw: Partial<Record<Kind, number | string>> = {};
  if (config.rawTxs > 0) {
    for (const kind of new Set<Kind>([...(walletNet ? (['transfer', 'set'] as const) : []), ...config.kinds])) {
      log(`raw execution rate: ${kind} × ${config.rawTxs}`);
      try {
        raw[kind] = await measureExecutionRate(kind, config.rawTxs);
      } catch (err) {
        raw[kind] = `failed: ${(err as Error).message}`;
      }
    }
  }
  if (replayData) {
    log(`replay of p1's record: ${replayData.blocks.length} blocks`);
    const speed: ReplaySpeed = await measureReplay(replayData);
    replayData = undefined;
    const setRate = typeof raw.set === 'number' ? raw.set : undefined;
    const walletSet = walletNet?.runs.find((r) => r.run === 'set')?.tps;
    log(
      `replay (no consensus, broker or network; one core): ${speed.ok ? 'every block reproduced' : `DIVERGED: ${speed.divergence}`}, ` +
        `${speed.blocks} blocks, ${speed.transactions} txs in ${fmt(speed.executeSeconds, 2)} s executing (${fmt(speed.seconds, 2)} s in all): ` +
        `${fmt(speed.txPerSecond)} tx/s, ${fmt(speed.blocksPerSecond)} blocks/s` +
        (setRate ? `; ÷ in-process set rate ${fmt(speed.txPerSecond / setRate, 2)}` : '') +
        (walletSet ? `; ÷ network set TPS ${fmt(speed.txPerSecond / walletSet, 1)}` : ''),
    );
    networkInfo.replay = speed;
  }
  clearTimeout(watchdog);

  const inProcess = Object.fromEntries(Object.entries(raw).filter(([, v]) => typeof v === 'number')) as Partial<Record<Kind, number>>;
  const wallet = walletNet ? { network: walletNet, hardhat: walletHardhat, hardhatNote, hardhatInfo, comparison: compareWallet(walletNet, walletHardhat, inProcess) } : undefined;
  await report(started, networkInfo, wallet, runs, paced, priv, raw);
}

/** The block hash at the lowest head of all gateways, from each: equal hashes mean one history up to there. */
async function headAgreement(urls: string[]): Promise<{ height: number; agree: boolean } | { error: string }> {
  try {
    const heads = await Promise.all(urls.map(async (u) => Number(BigInt(await call<string>(u, 'eth_blockNumber')))));
    const height = Math.min(...heads);
    const hashes = await Promise.all(urls.map(async (u) => (await call<any>(u, 'eth_getBlockByNumber', ['0x' + height.toString(16), false]))?.hash));
    const agree = hashes.every((h) => h && h === hashes[0]);
    if (!agree) log(`WARNING: gateways disagree on block ${height}: ${hashes.join(' ')}`);
    return { height, agree };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

async function burst(kind: Kind, urls: string[], lanes: Lane[], tracker: { current: Tracker }, watchers: BlockWatcher[]): Promise<RunResult> {
  const tr = new Tracker();
  for (const l of lanes) for (const tx of l.txs) tr.expect(tx.hash, l.gateway);
  tracker.current = tr;
  const total = tr.txs.size;
  const startHeight = watchers[0].height;
  const deadline = performance.now() + config.runTimeoutS * 1000;
  const stats = await submitBurst(urls, lanes, { batchSize: config.batchSize, inFlight: config.inFlight, deadline }, (a) => tr.ack(a));
  log(`${kind}: submitted ${stats.acked} (${stats.failed} failed) in ${fmt((stats.lastAckAt - stats.firstSubmitAt) / 1000, 2)} s; waiting for inclusion`);
  await waitIncluded(tr, stats.acked, deadline);
  return summarize(kind, total, stats, tr, watchers, startHeight, deadline);
}

async function pacedRun(urls: string[], items: PacedItem[], tracker: { current: Tracker }): Promise<PacedResult> {
  const tr = new Tracker();
  for (const it of items) tr.expect(it.tx.hash, it.gateway);
  tracker.current = tr;
  const deadline = performance.now() + config.runTimeoutS * 1000;
  const stats = await submitPaced(urls, items, 1000 / config.pacedTps, deadline, (a) => tr.ack(a));
  await waitIncluded(tr, stats.acked, deadline);
  const lat: number[] = [];
  let included = 0;
  for (const t of tr.txs.values()) {
    if (t.firstSeen !== undefined) included++;
    if (t.seenOwn !== undefined && t.submitAt !== undefined) lat.push(t.seenOwn - t.submitAt);
  }
  const seconds = (stats.lastAckAt - stats.firstSubmitAt) / 1000;
  return {
    kind: 'transfer',
    targetTps: config.pacedTps,
    seconds,
    txs: items.length,
    acked: stats.acked,
    included,
    achievedTps: seconds > 0 ? stats.acked / seconds : Number.NaN,
    latencyMs: distribution(lat),
    errors: Object.fromEntries(stats.errors),
  };
}

/** Until every acknowledged tx is visible on the gateway it was sent to (or the deadline). */
async function waitIncluded(tr: Tracker, acked: number, deadline: number): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  while (tr.ownSeen < acked && performance.now() < deadline) {
    if (tr.ownSeen !== last) {
      last = tr.ownSeen;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 60_000) {
      log(`no progress for 60 s: ${tr.ownSeen}/${acked} included; giving up on this run`);
      return;
    }
    await sleep(20);
  }
}

function summarize(kind: Kind, total: number, stats: SubmitStats, tr: Tracker, watchers: BlockWatcher[], startHeight: number, deadline: number): RunResult {
  const lat: number[] = [];
  let included = 0;
  let lastIncluded = 0;
  for (const t of tr.txs.values()) {
    if (t.firstSeen !== undefined) {
      included++;
      if (t.firstSeen > lastIncluded) lastIncluded = t.firstSeen;
    }
    if (t.seenOwn !== undefined && t.submitAt !== undefined) lat.push(t.seenOwn - t.submitAt);
  }
  const seconds = (lastIncluded - stats.firstSubmitAt) / 1000;
  const blocks = [...watchers[0].blocks.values()].filter((b) => b.number > startHeight && b.txs > 0 && b.seenAt <= lastIncluded);
  const perBlock = blocks.map((b) => b.txs);
  return {
    kind,
    txs: total,
    acked: stats.acked,
    included,
    failed: stats.failed,
    complete: included === total && performance.now() <= deadline,
    seconds,
    tps: seconds > 0 ? included / seconds : Number.NaN,
    submitRate: stats.lastAckAt > stats.firstSubmitAt ? stats.acked / ((stats.lastAckAt - stats.firstSubmitAt) / 1000) : Number.NaN,
    latencyMs: distribution(lat),
    blocks: blocks.length,
    txsPerBlock: { mean: perBlock.length ? perBlock.reduce((a, b) => a + b, 0) / perBlock.length : Number.NaN, max: perBlock.length ? Math.max(...perBlock) : Number.NaN },
    errors: Object.fromEntries(stats.errors),
  };
}

interface WalletSection {
  network: WalletModeResults;
  hardhat: WalletModeResults | undefined;
  /** why there is no hardhat figure (skipped, failed) */
  hardhatNote: string | undefined;
  hardhatInfo: Record<string, unknown> | undefined;
  comparison: WalletComparison;
}

async function report(
  started: Date,
  networkInfo: Record<string, unknown>,
  wallet: WalletSection | undefined,
  runs: RunResult[],
  paced: PacedResult | undefined,
  priv: PrivateResults | undefined,
  raw: Partial<Record<Kind, number | string>>): Promise<void> {
  const ratio = (r: RunResult) => (typeof raw[r.kind] === 'number' ? r.tps / (raw[r.kind] as number) : null);
  const cpus = os.cpus();
  const out: string[] = [];
  out.push('');
  out.push(`Quorum-actors benchmark — ${started.toISOString()}`);
  out.push(`${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}; ${config.participants} participants; sections: ${config.only.join(', ')}`);
  out.push('');
  if (wallet) {
    out.push(...formatWalletMode(walletConfig, wallet.network, wallet.hardhat, wallet.hardhatNote, wallet.comparison));
    out.push('');
  }
  if (runs.length) {
    out.push(`Batched mode: ${config.senders} senders, pre-signed, JSON-RPC batches of ${config.batchSize} × ${config.inFlight} in flight per gateway`);
    out.push('Saturating runs (submit → block visible on the same gateway):');
    out.push(
      table(
        ['kind', 'txs', 'included', 'failed', 'seconds', 'TPS', 'submit/s', 'p50 ms', 'p95 ms', 'p99 ms', 'blocks', 'tx/block', 'raw tx/s', 'TPS/raw'],
        runs.map((r) => [
          r.kind + (r.complete ? '' : ' (incomplete)'),
          String(r.txs),
          String(r.included),
          String(r.failed),
          fmt(r.seconds, 2),
          fmt(r.tps),
          fmt(r.submitRate),
          fmt(r.latencyMs.p50),
          fmt(r.latencyMs.p95),
          fmt(r.latencyMs.p99),
          String(r.blocks),
          fmt(r.txsPerBlock.mean),
          typeof raw[r.kind] === 'number' ? fmt(raw[r.kind] as number) : '—',
          fmt(ratio(r), 3),
        ]),
      ),
    );
    for (const r of runs) {
      const errs = Object.entries(r.errors);
      if (errs.length) out.push(`  ${r.kind} errors: ${errs.map(([k, v]) => `${v}× ${k}`).join('; ')}`);
    }
  }
  if (paced) {
    out.push('');
    out.push(`Batched mode, paced run: ${paced.targetTps} TPS target for ${config.pacedSeconds} s (${paced.kind}; one transaction per request)`);
    out.push(
      table(
        ['txs', 'included', 'achieved TPS', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
        [[String(paced.txs), String(paced.included), fmt(paced.achievedTps), fmt(paced.latencyMs.p50), fmt(paced.latencyMs.p95), fmt(paced.latencyMs.p99), fmt(paced.latencyMs.max)]],
      ),
    );
    const errs = Object.entries(paced.errors);
    if (errs.length) out.push(`  paced errors: ${errs.map(([k, v]) => `${v}× ${k}`).join('; ')}`);
  }
  if (priv) out.push(...formatPrivate(priv, privateConfig));
  const rawNotes = Object.entries(raw).filter(([, v]) => typeof v === 'string');
  if (rawNotes.length) out.push(`\nRaw execution rate: ${rawNotes.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  out.push('');
  process.stdout.write(out.join('\n') + '\n');

  const json = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpus: cpus.length, model: cpus[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    config: { ...config, wallet: config.wallet ? walletConfig : false, private: config.private ? privateConfig : false },
    network: networkInfo,
    wallet: wallet ?? null,
    runs,
    paced,
    private: priv,
    rawExecutionRate: raw,
    ratio: Object.fromEntries(runs.map((r) => [r.kind, ratio(r)])),
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${path.join(RESULTS_DIR, 'latest.json')}`);
}

main().then(
  // exit explicitly: nothing started here may keep the process alive once the results are out
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);

