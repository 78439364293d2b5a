/**
 * The Raft core's events (stream consensus-raft) and their fold. The stream keeps everything for audit;
 * start-up reads only from the latest SnapshotTaken on (restore.ts), and folding from any snapshot gives the
 * same state as folding the whole stream, which is what makes reading only the tail safe.
 */
import { z } from 'zod';
import { parseWith } from '../../lib/bus.js';
import { LoggedBlock } from './block-data.js';
import type { CoreEvent } from './core.js';
import { Entry, HardState, Snapshot } from './raft/messages.js';
import type { PersistedRaft } from './raft/types.js';

export const RAFT_STREAM = 'consensus-raft';

/** What the consensus actor puts in a Raft snapshot: the last final block's height and timestamp there. */
export const RaftSnapshotData = z.object({
  finalHeight: z.number().int().nonnegative(),
  timestamp: z.number().int().nonnegative(),
});
export type RaftSnapshotData = z.infer<typeof RaftSnapshotData>;

/** A final block fetched from a peer, with where it sits in the Raft log. */
export const SyncedBlock = z.object({ block: LoggedBlock, term: z.number().int().positive(), index: z.number().int().positive() });
export type SyncedBlock = z.infer<typeof SyncedBlock>;

const Height = z.number().int().nonnegative();

export const RaftEvents = {
  HardStateChanged: HardState,
  EntriesAppended: z.object({ entries: z.array(Entry) }),
  EntriesTruncated: z.object({ fromIndex: z.number().int().positive() }),
  CommitAdvanced: z.object({ commitIndex: z.number().int().nonnegative() }),
  /**
   * Our own snapshot at our commit index (every final block up to it was applied): the restart point. It holds
   * what a fold would have at that point: term and vote, the log after the index (uncommitted entries only),
   * and the shell's own summary (`app`: the pool's checkpoint), so nothing before it need be read again.
   */
  SnapshotTaken: z.object({ snapshot: Snapshot, hardState: HardState, commitIndex: z.number().int().nonnegative(), entries: z.array(Entry), app: z.unknown() }),
  /** A leader's snapshot replaced our log; final blocks above `deliveredHeight` up to its height are fetched. */
  SnapshotInstalled: z.object({ snapshot: Snapshot, deliveredHeight: Height }),
  /** Final blocks fetched from a peer after an installed snapshot. */
  BlocksSynced: z.object({ blocks: z.array(SyncedBlock) }),
} as const;

/** Final heights [fromHeight, toHeight] an installed snapshot skipped, still to fetch; at or below `index`. */
export interface Gap {
  fromHeight: number;
  toHeight: number;
  index: number;
  term: number;
}

export interface FoldedRaft extends PersistedRaft {
  /** Height and timestamp of the last final block at the snapshot (0 and genesis without a snapshot). */
  base: RaftSnapshotData | null;
  gap: Gap | null;
  /** Blocks fetched from peers since the snapshot. */
  synced: SyncedBlock[];
}

export const snapshotData = (s: Snapshot): RaftSnapshotData => parseWith(RaftSnapshotData, s.data, 'raft snapshot data');

export function gapAfterInstall(snapshot: Snapshot, deliveredHeight: number): Gap | null {
  const { finalHeight } = snapshotData(snapshot);
  return deliveredHeight < finalHeight ? { fromHeight: deliveredHeight + 1, toHeight: finalHeight, index: snapshot.index, term: snapshot.term } : null;
}

/** Folds stored Raft events (the whole stream, or from a SnapshotTaken on) into what the core restarts from. */
export function foldRaftEvents(events: readonly CoreEvent[]): FoldedRaft {
  const decode = <T>(e: CoreEvent, schema: z.ZodType<T>): T => parseWith(schema, e.payload, `raft event ${e.type}`);
  let hardState: HardState = { term: 0, votedFor: null };
  let snapshot: Snapshot | undefined;
  let base: RaftSnapshotData | null = null;
  let entries: Entry[] = [];
  let commitIndex = 0;
  let gap: Gap | null = null;
  let synced: SyncedBlock[] = [];
  const offset = () => snapshot?.index ?? 0;
  for (const e of events) {
    switch (e.type) {
      case 'HardStateChanged':
        hardState = decode(e, RaftEvents.HardStateChanged);
        break;
      case 'EntriesTruncated':
        entries.length = Math.max(0, Math.min(entries.length, decode(e, RaftEvents.EntriesTruncated).fromIndex - 1 - offset()));
        break;
      case 'EntriesAppended':
        for (const entry of decode(e, RaftEvents.EntriesAppended).entries) {
          if (entry.index !== offset() + entries.length + 1) throw new Error(`raft log event out of order at index ${entry.index}`);
          entries.push(entry);
        }
        break;
      case 'CommitAdvanced':
        commitIndex = Math.max(commitIndex, decode(e, RaftEvents.CommitAdvanced).commitIndex);
        break;
      case 'SnapshotTaken': {
        const p = decode(e, RaftEvents.SnapshotTaken);
        ({ snapshot, hardState } = p);
        base = snapshotData(p.snapshot);
        entries = p.entries.slice();
        commitIndex = p.commitIndex;
        gap = null;
        synced = [];
        break;
      }
      case 'SnapshotInstalled': {
        const p = decode(e, RaftEvents.SnapshotInstalled);
        snapshot = p.snapshot;
        base = snapshotData(p.snapshot);
        entries = [];
        commitIndex = Math.max(commitIndex, p.snapshot.index);
        gap = gapAfterInstall(p.snapshot, p.deliveredHeight);
        break;
      }
      case 'BlocksSynced':
        for (const b of decode(e, RaftEvents.BlocksSynced).blocks) {
          synced.push(b);
          const open = gap as Gap | null;
          if (open && b.block.height === open.fromHeight) gap = b.block.height >= open.toHeight ? null : { ...open, fromHeight: b.block.height + 1 };
        }
        break;
      default:
        throw new Error(`unknown raft event ${e.type}`);
    }
  }
  const last = offset() + entries.length;
  const snap = snapshot as Snapshot | undefined;
  return { hardState, ...(snap ? { snapshot: snap } : {}), entries, commitIndex: Math.min(Math.max(commitIndex, offset()), last), base, gap, synced };
}
