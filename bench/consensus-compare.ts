/**
 * npm run bench -- --consensus ibft
 *
 * Raft and QBFT (IBFT 2.0) side by side in one run, under the load wallets make (the wallet mode: N clients,
 * each its own key, one eth_sendRawTransaction per request in nonce order, receipts polled): a fresh
 * 4-participant network per algorithm, SimpleStorage `set` in a closed loop, then `set` paced at 50 TPS.
 * Printed: TPS and p50/p95 per algorithm, QBFT ÷ Raft, and QBFT's latency ÷ its block period, with the targets
 * (QBFT TPS ≥ 0.8 × Raft's; QBFT paced p50 ≤ one block period + 100 ms).
 *
 * Env: BENCH_CONSENSUS_TXS (2000 per closed loop), BENCH_WALLET_CLIENTS (50), BENCH_WALLET_WINDOW (4),
 * BENCH_WALLET_PACED_TPS (50), BENCH_WALLET_PACED_SECONDS (20), BENCH_QBFT_PERIOD_MS (1000), BENCH_PARTICIPANTS (4).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningNetwork } from '../cli/launcher/network-runner.js';
import { startBenchNetwork } from './network.js';
import type { ConsensusKind } from '../lib/network/description.js';
import { compileSimpleStorage } from '../test/support/contracts.js';
import { rawWalletKeys } from './private.js';
import { deriveKeys } from './sign.js';
import { envInt } from './env.js';
import { fmt, table } from './stats.js';
import { deploySimpleStorage, runWalletMode, type WalletModeConfig, type WalletModeRun } from './wallet-mode.js';


const log = (m: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);

const cfg: WalletModeConfig = {
  clients: envInt('BENCH_WALLET_CLIENTS', 50),
  window: envInt('BENCH_WALLET_WINDOW', 4),
  pollMs: 10,
  txs: envInt('BENCH_CONSENSUS_TXS', 2000),
  warmup: 3,
  pacedTps: envInt('BENCH_WALLET_PACED_TPS', 50),
  pacedSeconds: envInt('BENCH_WALLET_PACED_SECONDS', 20),
  serialTxs: 0,
  runTimeoutS: 600,
  only: ['set', 'paced'],
};
const participants = envInt('BENCH_PARTICIPANTS', 4);
const qbftPeriodMs = envInt('BENCH_QBFT_PERIOD_MS', 1000);

interface AlgorithmResult {
  algorithm: ConsensusKind;
  blockPeriodMs: number;
  set?: WalletModeRun;
  paced?: WalletModeRun;
}

async function measure(algorithm: ConsensusKind, bytecode: string): Promise<AlgorithmResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `quorum-bench-${algorithm}-`));
  const dbPrefix = `bench_${algorithm}_${process.pid}`;
  const keys = rawWalletKeys(cfg.clients);
  const [deployer] = deriveKeys('deployer', 1);
  let net: RunningNetwork | undefined;
  try {
    log(`starting a ${participants}-participant ${algorithm} network`);
    net = await startBenchNetwork({
      dir,
      participants,
      dbPrefix,
      consensusType: algorithm,
      consensus: algorithm === 'qbft' ? { blockPeriodMs: qbftPeriodMs } : undefined,
      fund: [deployer.address, ...keys.map((k) => k.address)],
    });
    const urls = net.rpcUrls;
    const contracts = await deploySimpleStorage(urls, net.network.chainId, deployer, bytecode, 4);
    const res = await runWalletMode({ name: algorithm, urls, chainId: net.network.chainId, keys, contracts, dbPrefix }, { ...cfg }, log);
    return {
      algorithm,
      blockPeriodMs: net.network.consensus.blockPeriodMs,
      set: res.runs.find((r) => r.run === 'set'),
      paced: res.runs.find((r) => r.run === 'paced'),
    };
  } finally {
    if (net) await net.destroy().catch((e) => log(`destroy failed: ${(e as Error).message}`));
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

export async function runConsensusComparison(): Promise<void> {
  const started = new Date();
  const bytecode = compileSimpleStorage().bytecode;
  const raft = await measure('raft', bytecode);
  const qbft = await measure('qbft', bytecode);
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : null);
  const tpsRatio = ratio(qbft.set?.tps, raft.set?.tps);
  const p50 = qbft.paced?.latencyMs.p50;
  const p50Bound = qbft.blockPeriodMs + 100;
  const rows = [raft, qbft].map((r) => [
    r.algorithm === 'qbft' ? 'QBFT (IBFT 2.0)' : 'Raft',
    `${r.blockPeriodMs} ms`,
    fmt(r.set?.tps),
    `${fmt(r.set?.latencyMs.p50)} / ${fmt(r.set?.latencyMs.p95)}`,
    fmt(r.paced?.submitRate),
    `${fmt(r.paced?.latencyMs.p50)} / ${fmt(r.paced?.latencyMs.p95)}`,
    fmt(ratio(r.paced?.latencyMs.p50, r.blockPeriodMs), 2),
    String((r.set?.blocks ?? 0) + (r.paced?.blocks ?? 0)),
  ]);
  console.log(`\nRaft and QBFT under the wallet load (${cfg.clients} clients, one tx per request, ${participants} participants), ${started.toISOString()}\n`);
  console.log(table(['consensus', 'period', 'set TPS', 'set p50 / p95 ms', 'paced TPS', 'paced p50 / p95 ms', 'paced p50 ÷ period', 'blocks'], rows));
  const targets = {
    'QBFT set TPS ÷ Raft set TPS ≥ 0.8': { value: tpsRatio, met: tpsRatio !== null && tpsRatio >= 0.8 },
    [`QBFT paced p50 ≤ period + 100 ms (${p50Bound} ms)`]: { value: p50 ?? null, met: p50 !== undefined && p50 <= p50Bound },
  };
  console.log('');
  for (const [name, t] of Object.entries(targets)) console.log(`${t.met ? 'met    ' : 'NOT met'}  ${name}: ${fmt(t.value ?? undefined, 2)}`);
  const resultsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(path.join(resultsDir, 'consensus-latest.json'), JSON.stringify({ started, config: cfg, participants, raft, qbft, targets }, null, 2) + '\n');
}
