/**
 * A consensus actor's start: its state is the fold of its events — the core's stream (Raft's log, QBFT's
 * decisions) and the pool's (what our gateway handed us, which committed transactions were dropped).
 *
 * Raft snapshots bound this: start-up reads the latest SnapshotTaken and the events after it only, in both
 * streams (the snapshot carries the pool's checkpoint), so it costs the same at any history length. The
 * events before stay in Postgres for audit and for peers that fetch old blocks (raft-archive.ts).
 */
import { decodeEvent, type EventStore, type StoredEvent } from '../../lib/event-store/event-store.js';
import type { LoggedBlock, LoggedTx } from './block-data.js';
import { createCore, type CoreContext, type ShellCore } from './cores.js';
import { foldPoolEvents, PoolCheckpoint, POOL_STREAM, type ReceivedTx } from './events.js';
import { TxPool, type PoolTx } from './pool.js';
import { RAFT_STREAM, RaftEvents } from './raft-events.js';

export interface Restored {
  core: ShellCore;
  pool: TxPool;
  /** Our own gateway's txs, which we answer for until they are final (kept whole for the pool's checkpoint). */
  localTxs: Map<string, ReceivedTx>;
  /** The pool stream's position the restored pool accounts for (the next checkpoint starts from it). */
  poolPosition: number;
}

export function toPoolTx(t: LoggedTx | ReceivedTx, accountNonce: bigint, local: boolean, now: number): PoolTx {
  return { raw: t.raw, hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce), gasLimit: BigInt(t.gasLimit), accountNonce, local, receivedAt: now };
}

export const txsOf = (b: LoggedBlock) => b.transactions.map((t) => ({ hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce) }));

export async function restoreConsensus(
  store: EventStore,
  ctx: CoreContext,
  now: number,
): Promise<Restored> {
  const raft = ctx.network.consensus.type === 'raft';
  const snapshot = raft ? await store.lastEvent(RAFT_STREAM, { type: 'SnapshotTaken' }) : undefined;
  const coreEvents = snapshot ? [snapshot, ...(await readStream(store, RAFT_STREAM, snapshot.streamPosition + 1))] : await readStream(store, raft ? RAFT_STREAM : 'consensus-qbft');
  const core = createCore(ctx, coreEvents);
  const checkpoint = snapshot ? PoolCheckpoint.parse(decodeEvent(snapshot, RaftEvents.SnapshotTaken).app) : { position: 0, local: [], nonces: [] };
  const poolEvents = await readStream(store, POOL_STREAM, checkpoint.position + 1);
  const pooled = foldPoolEvents(poolEvents);
  const pool = new TxPool();
  const localTxs = new Map<string, ReceivedTx>();
  const restored = core.restored();
  pool.restoreCommittedNonces(checkpoint.nonces.map(([from, n]) => [from, BigInt(n)] as const));
  for (const b of restored.final) pool.noteCommitted(txsOf(b));
  for (const b of restored.inFlight) pool.noteLogged(txsOf(b));
  pool.noteDropped(pooled.dropped.map((t) => ({ hash: t.hash, from: t.from, nonce: BigInt(t.nonce) })));
  // Our gateway's txs stay ours until final, even those already in an uncommitted Raft entry: if a new leader
  // truncates that entry, they must come back as local, to be forwarded again.
  for (const t of [...checkpoint.local, ...pooled.received]) {
    if (pool.isCommitted(t.hash)) continue;
    localTxs.set(t.hash, t);
    if (!pool.has(t.hash)) pool.add(toPoolTx(t, BigInt(t.accountNonce), true, now));
  }
  return { core, pool, localTxs, poolPosition: poolEvents.at(-1)?.streamPosition ?? checkpoint.position };
}

async function readStream(store: EventStore, stream: string, from = 1): Promise<StoredEvent[]> {
  const events = [];
  for await (const e of store.streamEvents(stream, from)) events.push(e);
  return events;
}
