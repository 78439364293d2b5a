/**
 * A consensus actor's start: its state is the fold of its events — the core's stream (Raft's log, QBFT's
 * decisions) and the pool's (what our gateway handed us, which committed transactions were dropped).
 */
import type { EventStore } from '../../lib/event-store/event-store.js';
import type { NetworkDescription, ParticipantSecrets } from '../../lib/network/description.js';
import type { LoggedBlock, LoggedTx } from './block-data.js';
import { createCore, type ShellCore } from './cores.js';
import { foldPoolEvents, POOL_STREAM, type ReceivedTx } from './events.js';
import { TxPool, type PoolTx } from './pool.js';

export interface Restored {
  core: ShellCore;
  pool: TxPool;
  /** Our own gateway's txs, which we answer for until they are final. */
  localHashes: Set<string>;
}

export function toPoolTx(t: LoggedTx | ReceivedTx, accountNonce: bigint, local: boolean, now: number): PoolTx {
  return { raw: t.raw, hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce), gasLimit: BigInt(t.gasLimit), accountNonce, local, receivedAt: now };
}

export const txsOf = (b: LoggedBlock) => b.transactions.map((t) => ({ hash: t.hash, from: t.from.toLowerCase(), nonce: BigInt(t.nonce) }));

export async function restoreConsensus(
  store: EventStore,
  ctx: { network: NetworkDescription; secrets: ParticipantSecrets; participant: string; seed: number },
  now: number,
): Promise<Restored> {
  const core = createCore(ctx, await readStream(store, ctx.network.consensus.type === 'raft' ? 'consensus-raft' : 'consensus-qbft'));
  const pooled = foldPoolEvents(await readStream(store, POOL_STREAM));
  const pool = new TxPool();
  const localHashes = new Set<string>();
  const restored = core.restored();
  for (const b of restored.final) pool.noteCommitted(txsOf(b));
  for (const b of restored.inFlight) pool.noteLogged(txsOf(b));
  pool.noteDropped(pooled.dropped.map((t) => ({ hash: t.hash, from: t.from, nonce: BigInt(t.nonce) })));
  // Our gateway's txs stay ours until final, even those already in an uncommitted Raft entry: if a new leader
  // truncates that entry, they must come back as local, to be forwarded again.
  for (const t of pooled.received) {
    if (pool.isCommitted(t.hash)) continue;
    localHashes.add(t.hash);
    if (!pool.has(t.hash)) pool.add(toPoolTx(t, BigInt(t.accountNonce), true, now));
  }
  return { core, pool, localHashes };
}

async function readStream(store: EventStore, stream: string) {
  const events = [];
  for await (const e of store.streamEvents(stream)) events.push(e);
  return events;
}
