/**
 * npm run bench -- --soak
 *
 * A network that runs for long, compressed: one 4-participant network under the wallet load (N clients, each its
 * own key, one eth_sendRawTransaction per request in nonce order, receipts polled; SimpleStorage set) for
 * BENCH_SOAK_TXS transactions (100,000 by default), in segments of BENCH_SOAK_SEGMENT (10,000). After each
 * segment, with the load stopped:
 *   - the resident memory (VmRSS) of every actor of every participant;
 *   - consensus restart: p4's consensus actor killed (SIGKILL; the launcher restarts it), timed from the kill
 *     until it answers again through p4's gateway (raft_cluster / istanbul_getValidators);
 *   - executor cold start: p4's executor killed the same way, timed from the kill until an eth_call at the
 *     head answers on p4's gateway (that needs the executor's VM over the state it must fetch again).
 * Targets (issue #6): RSS flat after warm-up (the last segment within 20 % of the first), consensus restart ≤ 2 s
 * and executor cold start ≤ 5 s at the end, both independent of history length (the last ÷ the first).
 *
 * Env: BENCH_SOAK_TXS (100000), BENCH_SOAK_SEGMENT (10000), BENCH_WALLET_CLIENTS (50), BENCH_WALLET_WINDOW (4),
 * BENCH_PARTICIPANTS (4), BENCH_SOAK_CONSENSUS (raft | qbft; raft). Results: bench/results/soak-latest.json.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningNetwork } from '../cli/launcher/network-runner.js';
import { startBenchNetwork } from './network.js';
import type { ActorName } from '../lib/network/description.js';
import { compileSimpleStorage } from '../test/support/contracts.js';
import { envInt } from './env.js';
import { rawWalletKeys } from './private.js';
import { call, sleep } from './rpc.js';
import { deriveKeys } from './sign.js';
import { fmt, table } from './stats.js';
import { deploySimpleStorage, runWalletMode, type WalletModeConfig } from './wallet-mode.js';

const log = (m: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}`);

const total = envInt('BENCH_SOAK_TXS', 100_000);
const segment = Math.min(envInt('BENCH_SOAK_SEGMENT', 10_000), total);
const participants = envInt('BENCH_PARTICIPANTS', 4);
const consensusType = process.env.BENCH_SOAK_CONSENSUS === 'qbft' ? 'qbft' : 'raft';
const cfg: WalletModeConfig = {
  clients: envInt('BENCH_WALLET_CLIENTS', 50),
  window: envInt('BENCH_WALLET_WINDOW', 4),
  pollMs: 10,
  txs: segment,
  warmup: 0,
  pacedTps: 0,
  pacedSeconds: 0,
  serialTxs: 0,
  runTimeoutS: 3600,
  only: ['set'],
};
/** How long a killed actor may take to answer again before the bench gives up on it. */
const RESTART_LIMIT_MS = 120_000;

interface Checkpoint {
  txs: number;
  tps: number;
  head: number;
  /** VmRSS in MiB by `participant/actor` */
  rssMiB: Record<string, number>;
  consensusRestartS: number;
  executorColdStartS: number;
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Kills `actor` of `participant` and times until `answers()` succeeds (the launcher restarts the actor). */
async function timeRestart(net: RunningNetwork, participant: string, actor: ActorName, answers: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await net.kill(participant, actor, 'SIGKILL');
  for (;;) {
    try {
      await answers();
      return (performance.now() - t0) / 1000;
    } catch {
      if (performance.now() - t0 > RESTART_LIMIT_MS) throw new Error(`${participant}/${actor} did not answer within ${RESTART_LIMIT_MS / 1000} s of its restart`);
      await sleep(20);
    }
  }
}

export async function runSoak(): Promise<void> {
  const started = new Date();
  const bytecode = compileSimpleStorage().bytecode;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-soak-'));
  const dbPrefix = `bench_soak_${process.pid}`;
  const keys = rawWalletKeys(cfg.clients);
  const [deployer] = deriveKeys('deployer', 1);
  let net: RunningNetwork | undefined;
  const checkpoints: Checkpoint[] = [];
  try {
    log(`starting a ${participants}-participant ${consensusType} network; ${total} transactions in segments of ${segment}`);
    net = await startBenchNetwork({ dir, participants, dbPrefix, consensusType, fund: [deployer.address, ...keys.map((k) => k.address)] });
    const running = net;
    const urls = running.rpcUrls;
    const contracts = await deploySimpleStorage(urls, running.network.chainId, deployer, bytecode, 4);
    const last = running.network.participants[running.network.participants.length - 1].id;
    const lastUrl = urls[urls.length - 1];
    const consensusQuery = consensusType === 'raft' ? 'raft_cluster' : 'istanbul_getValidators';
    for (let done = 0; done < total; ) {
      const res = await runWalletMode({ name: `soak ${done + segment}`, urls, chainId: running.network.chainId, keys, contracts, dbPrefix }, cfg, log);
      const run = res.runs[0];
      done += segment;
      const head = Number(BigInt(await call<string>(urls[0], 'eth_blockNumber', [])));
      const rss: Record<string, number> = {};
      for (const p of running.processes()) rss[`${p.participant}/${p.actor}`] = rssMiB(p.pid);
      const consensusRestartS = await timeRestart(running, last, 'consensus', () => call(lastUrl, consensusQuery, []));
      // eth_call needs the executor's VM at the head: after a kill, its state comes back from the state store.
      const executorColdStartS = await timeRestart(running, last, 'executor', () =>
        call(lastUrl, 'eth_call', [{ to: contracts[0], data: '0x6d4ce63c' /* get() */ }, 'latest']),
      );
      checkpoints.push({ txs: done, tps: run.tps, head, rssMiB: rss, consensusRestartS, executorColdStartS });
      const maxRss = Math.max(...Object.values(rss).filter(Number.isFinite));
      log(`${done} txs (head ${head}): ${fmt(run.tps)} TPS, largest actor RSS ${fmt(maxRss)} MiB, consensus restart ${fmt(consensusRestartS, 2)} s, executor cold start ${fmt(executorColdStartS, 2)} s`);
      await sleep(1000); // the restarted actors settle before the next segment's load
    }
  } finally {
    if (net) await net.destroy().catch((e) => log(`destroy failed: ${(e as Error).message}`));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
  await report(started, checkpoints);
}

async function report(started: Date, cps: Checkpoint[]): Promise<void> {
  if (cps.length === 0) return;
  const actors = Object.keys(cps[0].rssMiB).filter((k) => k.startsWith('p1/'));
  console.log(`\nSoak: ${cps[cps.length - 1].txs} transactions, ${participants} participants, ${consensusType}, ${cfg.clients} wallet clients, ${started.toISOString()}\n`);
  console.log(
    table(
      ['txs', 'head', 'TPS', ...actors.map((a) => `${a.slice(3)} MiB`), 'largest MiB', 'consensus restart s', 'executor cold start s'],
      cps.map((c) => [
        String(c.txs),
        String(c.head),
        fmt(c.tps),
        ...actors.map((a) => fmt(c.rssMiB[a])),
        fmt(Math.max(...Object.values(c.rssMiB).filter(Number.isFinite))),
        fmt(c.consensusRestartS, 2),
        fmt(c.executorColdStartS, 2),
      ]),
    ),
  );
  const first = cps[0];
  const lastCp = cps[cps.length - 1];
  // Growth of each actor from the first checkpoint (after warm-up) to the last; the worst one counts.
  const growth = Object.keys(lastCp.rssMiB).map((k) => ({ k, g: lastCp.rssMiB[k] / first.rssMiB[k] - 1 })).filter((x) => Number.isFinite(x.g));
  const worst = growth.reduce((a, b) => (b.g > a.g ? b : a), { k: '-', g: 0 });
  const targets = {
    [`RSS flat after warm-up (worst actor ${worst.k}: last ÷ first − 1 ≤ 20 %)`]: { value: worst.g * 100, met: worst.g <= 0.2 },
    'consensus restart ≤ 2 s at the end': { value: lastCp.consensusRestartS, met: lastCp.consensusRestartS <= 2 },
    'executor cold start ≤ 5 s at the end': { value: lastCp.executorColdStartS, met: lastCp.executorColdStartS <= 5 },
    'consensus restart independent of history (last ÷ first ≤ 1.5)': { value: lastCp.consensusRestartS / first.consensusRestartS, met: lastCp.consensusRestartS / first.consensusRestartS <= 1.5 },
    'executor cold start independent of history (last ÷ first ≤ 1.5)': { value: lastCp.executorColdStartS / first.executorColdStartS, met: lastCp.executorColdStartS / first.executorColdStartS <= 1.5 },
  };
  console.log('');
  for (const [name, t] of Object.entries(targets)) console.log(`${t.met ? 'met    ' : 'NOT met'}  ${name}: ${fmt(t.value, 2)}`);
  const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(path.join(resultsDir, 'soak-latest.json'), JSON.stringify({ started, config: { total, segment, participants, consensusType, wallet: cfg }, checkpoints: cps, targets }, null, 2) + '\n');
}
