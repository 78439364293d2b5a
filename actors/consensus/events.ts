/**
 * The shell's own events (stream consensus-pool): transactions our own gateway handed us are persisted before
 * we acknowledge them, so a crash of this process loses none of them; and committed transactions our executor
 * dropped, whose nonces are free again. (The algorithm's events live in its own stream: see raft-core.ts and
 * qbft/.)
 */
import { z } from 'zod';
import { LoggedTx } from './block-data.js';
import { AdmittedTransaction } from '../../lib/ethereum/transaction-record.js';
import { decodeEvent, type StoredEvent } from '../../lib/event-store/event-store.js';
import { HexQuantity } from '../../lib/hex.js';

export const POOL_STREAM = 'consensus-pool';

export const PoolEvents = {
  TransactionsReceived: z.object({ transactions: z.array(AdmittedTransaction) }),
  /** Committed txs our executor refused: their nonces were not used. */
  TransactionsDropped: z.object({ transactions: z.array(LoggedTx.pick({ hash: true, from: true, nonce: true })) }),
} as const;
/**
 * The pool's part of a consensus snapshot (carried as the Raft snapshot's `app`): our own gateway's txs not yet
 * final, and the pool stream position up to which they account for every event. A restart reads this and the
 * pool stream after `position` only.
 */
export const PoolCheckpoint = z.object({
  position: z.number().int().nonnegative(),
  local: z.array(AdmittedTransaction),
  /** Each sender's next nonce after its final txs: what refuses replays of txs older than the snapshot. */
  nonces: z.array(z.tuple([z.string(), HexQuantity])).default([]),
});
export type PoolCheckpoint = z.infer<typeof PoolCheckpoint>;

export type DroppedTx = z.infer<typeof PoolEvents.TransactionsDropped>['transactions'][number];
export type ReceivedTx = z.infer<typeof PoolEvents.TransactionsReceived>['transactions'][number];

export interface FoldedPool {
  received: ReceivedTx[];
  dropped: DroppedTx[];
}

export function foldPoolEvents(events: readonly StoredEvent[]): FoldedPool {
  const received: ReceivedTx[] = [];
  const dropped: DroppedTx[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'TransactionsReceived':
        received.push(...decodeEvent(e, PoolEvents.TransactionsReceived).transactions);
        break;
      case 'TransactionsDropped':
        dropped.push(...decodeEvent(e, PoolEvents.TransactionsDropped).transactions);
        break;
      default:
        throw new Error(`unknown consensus pool event ${e.type}`);
    }
  }
  return { received, dropped };
}
