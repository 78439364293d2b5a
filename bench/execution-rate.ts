/**
 * Raw execution rate of the ledger's execution core, in-process (no NATS, no Postgres): pre-signed
 * transactions executed through ExecutionEngine.executeBlock in blocks of `blockSize` (default 200).
 * Signing, genesis and (for 'set') the contract deployment are outside the measured time.
 *
 *   node dist/bench/execution-rate.js [transfer|set] [count] [block size]
 */
import { ExecutionEngine } from '../actors/ledger/executor/engine.js';
import { devKey, devNetwork, selector, signLegacyTx, uintWord } from '../test/support/dev-tx.js';
import type { CommittedBlock } from '../actors/consensus/messages.js';
import { compileSimpleStorage } from '../test/support/contracts.js';

/** A fresh recipient per transfer (new accounts: the trie grows, as in real traffic). */
function recipient(i: number): string {
  return '0x' + (0xbe00000000n + BigInt(i)).toString(16).padStart(40, '0');
}

export interface ExecutionRateDetail {
  kind: 'transfer' | 'set';
  count: number;
  blocks: number;
  included: number;
  seconds: number;
  /** CPU time of this process during the measured section (user + system) */
  cpuSeconds: number;
  txPerSecond: number;
}

async function measureExecutionRateDetailed(
  kind: 'transfer' | 'set',
  count: number,
  opts: { blockSize?: number; senders?: number } = {},
): Promise<ExecutionRateDetail> {
  const blockSize = opts.blockSize ?? 200;
  const senders = Math.max(1, Math.min(opts.senders ?? 100, count));
  const network = devNetwork({ funded: senders, gasLimit: 1_000_000_000n });
  const engine = await ExecutionEngine.create({ network });
  const common = engine.common;
  const keys = Array.from({ length: senders }, (_, i) => devKey(i));
  const nonces = new Array<number>(senders).fill(0);
  let height = 0;
  const ts = network.genesis.timestamp;
  const block = (transactions: string[]): CommittedBlock => ({ height: ++height, timestamp: ts + height, proposer: 'bench', raftTerm: 1, raftIndex: height, transactions });

  let contract = '';
  if (kind === 'set') {
    const ss = compileSimpleStorage();
    const deployed = await engine.executeBlock(block([signLegacyTx(common, keys[0], { nonce: nonces[0]++, data: ss.bytecode + uintWord(42), gasLimit: 500_000 })]));
    contract = deployed.receipts[0].contractAddress!;
  }
  const setSel = selector('set(uint256)');
  const raws: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = i % senders;
    raws.push(
      kind === 'transfer'
        ? signLegacyTx(common, keys[s], { nonce: nonces[s]++, to: recipient(i), value: 1n })
        : signLegacyTx(common, keys[s], { nonce: nonces[s]++, to: contract, data: setSel + uintWord(i + 1), gasLimit: 60_000 }),
    );
  }
  const blocks: CommittedBlock[] = [];
  for (let i = 0; i < raws.length; i += blockSize) blocks.push(block(raws.slice(i, i + blockSize)));

  let included = 0;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const b of blocks) {
    const e = await engine.executeBlock(b);
    included += e.transactions.length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = process.cpuUsage(c0);
  const cpuSeconds = (c1.user + c1.system) / 1e6;
  if (included !== count) throw new Error(`only ${included} of ${count} transactions were included`);
  return { kind, count, blocks: blocks.length, included, seconds, cpuSeconds, txPerSecond: count / seconds };
}

/** Transactions per second executed (signing and setup excluded). */
export async function measureExecutionRate(kind: 'transfer' | 'set', count: number): Promise<number> {
  return (await measureExecutionRateDetailed(kind, count)).txPerSecond;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const kinds = process.argv[2] ? [process.argv[2] as 'transfer' | 'set'] : (['transfer', 'set'] as const);
  const count = Number(process.argv[3] ?? 1000);
  const blockSize = Number(process.argv[4] ?? 200);
  for (const kind of kinds) {
    const d = await measureExecutionRateDetailed(kind, count, { blockSize });
    console.log(`${kind}: ${d.count} txs in ${d.blocks} blocks, ${d.seconds.toFixed(3)} s (cpu ${d.cpuSeconds.toFixed(3)} s) → ${d.txPerSecond.toFixed(0)} tx/s`);
  }
}
