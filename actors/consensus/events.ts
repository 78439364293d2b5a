/**
 * The consensus actor's events. Raft's term, vote and log are persisted as events (stream consensus-raft);
 * transactions our own gateway handed us are persisted before we acknowledge them (stream consensus-pool),
 * so a crash of this process loses none of them. The actor's state after a restart is the fold of these.
 */
import { z } from 'zod';
import { Entry, HardState } from './raft/messages.js';
import { LoggedTx } from './block-data.js';
import { AdmittedTransaction } from '../../lib/ethereum/transaction-record.js';
import { decodeEvent, type StoredEvent } from '../../lib/event-store/event-store.js';
import type { PersistedRaft } from './raft/types.js';

export const RAFT_STREAM = 'consensus-raft';
export const POOL_STREAM = 'consensus-pool';

export const RaftEvents = {
  HardStateChanged: HardState,
  EntriesAppended: z.object({ entries: z.array(Entry) }),
  EntriesTruncated: z.object({ fromIndex: z.number().int().positive() }),
  CommitAdvanced: z.object({ commitIndex: z.number().int().nonnegative() }),
} as const;

export const PoolEvents = {
  TransactionsReceived: z.object({ transactions: z.array(AdmittedTransaction) }),
  /** Committed txs our executor refused: their nonces were not used. */
  TransactionsDropped: z.object({ transactions: z.array(LoggedTx.pick({ hash: true, from: true, nonce: true })) }),
} as const;
export type DroppedTx = z.infer<typeof PoolEvents.TransactionsDropped>['transactions'][number];
export type ReceivedTx = z.infer<typeof PoolEvents.TransactionsReceived>['transactions'][number];

export interface FoldedConsensus {
  raft: PersistedRaft;
  received: ReceivedTx[];
  dropped: DroppedTx[];
}

export function foldConsensus(events: readonly StoredEvent[]): FoldedConsensus {
  let hardState: z.infer<typeof HardState> = { term: 0, votedFor: null };
  const entries: z.infer<typeof Entry>[] = [];
  let commitIndex = 0;
  const received: ReceivedTx[] = [];
  const dropped: DroppedTx[] = [];
  for (const e of events) {
    switch (e.type) {
      case 'HardStateChanged':
        hardState = decodeEvent(e, RaftEvents.HardStateChanged);
        break;
      case 'EntriesTruncated': {
        const { fromIndex } = decodeEvent(e, RaftEvents.EntriesTruncated);
        entries.length = Math.min(entries.length, fromIndex - 1);
        break;
      }
      case 'EntriesAppended':
        for (const entry of decodeEvent(e, RaftEvents.EntriesAppended).entries) {
          if (entry.index !== entries.length + 1) throw new Error(`raft log event out of order at index ${entry.index}`);
          entries.push(entry);
        }
        break;
      case 'CommitAdvanced':
        commitIndex = Math.max(commitIndex, decodeEvent(e, RaftEvents.CommitAdvanced).commitIndex);
        break;
      case 'TransactionsReceived':
        received.push(...decodeEvent(e, PoolEvents.TransactionsReceived).transactions);
        break;
      case 'TransactionsDropped':
        dropped.push(...decodeEvent(e, PoolEvents.TransactionsDropped).transactions);
        break;
      default:
        throw new Error(`unknown consensus event ${e.type}`);
    }
  }
  return { raft: { hardState, entries, commitIndex: Math.min(commitIndex, entries.length) }, received, dropped };
}
