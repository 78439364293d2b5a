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

export const POOL_STREAM = 'consensus-pool';

export const PoolEvents = {
  TransactionsReceived: z.object({ transactions: z.array(AdmittedTransaction) }),
  /** Committed txs our executor refused: their nonces were not used. */
  TransactionsDropped: z.object({ transactions: z.array(LoggedTx.pick({ hash: true, from: true, nonce: true })) }),
} as const;
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
