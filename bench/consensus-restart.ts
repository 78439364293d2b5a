/**
 * Consensus restart time against history length: writes N blocks of a Raft participant's events (its log, its
 * snapshots, its pool's received transactions, as the shell stores them) into a fresh database, then times
 * restoreConsensus, and beside it a fold of every event (how start-up worked before snapshots).
 *
 *   node dist/bench/consensus-restart.js
 *   CONSENSUS_RESTART_BLOCKS=200,2000,20000 TXS_PER_BLOCK=50 node dist/bench/consensus-restart.js
 *
 * Target (issue #6): restart ≤ 2 s at 100,000 transactions (2,000 blocks of 50), independent of history length.
 * 2,998 blocks is the worst case for the default interval: a snapshot every 1,000 entries, 999 entries of tail.
 * Last, the pure Raft core's append rate (100,000 proposals by a lone leader).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDatabase, databaseUrl, dropDatabase } from '../cli/postgres-admin.js';
import { EventStore, type NewEvent } from '../lib/event-store/event-store.js';
import type { NetworkDescription, ParticipantSecrets } from '../lib/network/description.js';
import { RaftParams } from '../lib/network/description.js';
import { createCore } from '../actors/consensus/cores.js';
import { foldPoolEvents, POOL_STREAM } from '../actors/consensus/events.js';
import { RaftCore } from '../actors/consensus/raft-core.js';
import { RAFT_STREAM } from '../actors/consensus/raft-events.js';
import { restoreConsensus } from '../actors/consensus/restore.js';
import { quantity } from '../lib/hex.js';
import { createRaft, role, step } from '../actors/consensus/raft/index.js';

const blocksList = (process.env.CONSENSUS_RESTART_BLOCKS ?? '200,2000,2998,10000').split(',').map(Number);
const txsPerBlock = Number(process.env.TXS_PER_BLOCK ?? 50);

const network = {
  name: 'bench',
  chainId: 1337,
  devOnly: true,
  consensus: RaftParams.parse({ type: 'raft' }),
  genesis: { timestamp: 1_700_000_000, gasLimit: '30000000', alloc: {} },
  participants: [{ id: 'p1' }],
} as unknown as NetworkDescription;
const ctx = { network, secrets: {} as ParticipantSecrets, participant: 'p1', seed: 1 };

async function writeHistory(store: EventStore, blocks: number): Promise<number> {
  // A cluster of one commits each block as it is proposed: the events are those a leader stores.
  const core = new RaftCore({ self: 'p1', peers: ['p1'], permitted: ['p1'], electionTicksMin: 2, electionTicksMax: 3, heartbeatTicks: 1, seed: 1 }, [], 0);
  while (core.proposalHeight() === null) await store.append(RAFT_STREAM, 'any', core.step({ type: 'tick' }).events);
  let raft: NewEvent[] = [];
  let pool: NewEvent[] = [];
  let poolPosition = 0;
  let seq = 0;
  let events = 0;
  const flush = async () => {
    if (pool.length) poolPosition = (await store.append(POOL_STREAM, 'any', pool)).at(-1)!.streamPosition;
    if (raft.length) await store.append(RAFT_STREAM, 'any', raft);
    events += raft.length + pool.length;
    raft = [];
    pool = [];
  };
  for (let h = 1; h <= blocks; h++) {
    const transactions = Array.from({ length: txsPerBlock }, () => {
      seq += 1;
      // About the size of a signed transfer (110 bytes).
      const raw = '0x' + seq.toString(16).padStart(8, '0') + 'ab'.repeat(106);
      return { raw, hash: '0x' + seq.toString(16).padStart(64, '0'), from: '0x' + (seq % 500).toString(16).padStart(40, '0'), nonce: quantity(Math.floor(seq / 500)), gasLimit: '0x5208' };
    });
    pool.push({ type: 'TransactionsReceived', payload: { transactions: transactions.map((t) => ({ ...t, accountNonce: '0x0' })) } });
    raft.push(...core.step({ type: 'propose', block: { height: h, timestamp: h, proposer: 'p1', transactions } }).events);
    if (core.snapshotDue()) {
      await flush();
      raft.push(core.takeSnapshot({ position: poolPosition, local: [], nonces: [] }));
    }
    if (raft.length >= 200) await flush();
  }
  await flush();
  return events;
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function fullFold(store: EventStore) {
  const read = async (stream: string) => {
    const out = [];
    for await (const e of store.streamEvents(stream)) out.push(e);
    return out;
  };
  const raft = (await read(RAFT_STREAM)).filter((e) => e.type !== 'SnapshotTaken');
  const core = createCore(ctx, raft);
  foldPoolEvents(await read(POOL_STREAM));
  return core;
}

console.log('blocks\ttxs\tevents\trestart ms (snapshot + tail)\tfold everything ms');
for (const blocks of blocksList) {
  const db = `quorum_bench_restart_${randomBytes(4).toString('hex')}`;
  await createDatabase(db);
  const sql = postgres(databaseUrl(db), { max: 4, onnotice: () => {} });
  try {
    const store = await EventStore.open(sql, 'consensus');
    const events = await writeHistory(store, blocks);
    const [restored, restartMs] = await time(() => restoreConsensus(store, ctx, 0));
    const [full, foldMs] = await time(() => fullFold(store));
    if (restored.core.finalHeight() !== blocks || full.finalHeight() < blocks - 1) throw new Error(`restored height ${restored.core.finalHeight()}, full fold ${full.finalHeight()}, wrote ${blocks}`);
    console.log(`${blocks}\t${blocks * txsPerBlock}\t${events}\t${restartMs.toFixed(0)}\t${foldMs.toFixed(0)}`);
  } finally {
    await sql.end({ timeout: 2 });
    await dropDatabase(db);
  }
}

// The pure core's append path: a lone leader proposing 100k blocks (constant work per step; copying the log per
// step would take minutes). A figure, not a test assertion (it used to be one in test/unit/raft.test.ts).
{
  let state = createRaft({ id: 'solo', peers: ['solo'], electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 1 });
  for (let i = 0; i < 100 && role(state) !== 'leader'; i++) state = step(state, { type: 'tick' }).state;
  if (role(state) !== 'leader') throw new Error('a lone node did not become leader');
  const t0 = performance.now();
  for (let i = 0; i < 100_000; i++) state = step(state, { type: 'propose', data: { kind: 'block', block: { n: i } } }).state;
  console.log(`\nraft core: 100,000 proposals appended and committed by a lone leader in ${(performance.now() - t0).toFixed(0)} ms`);
}
