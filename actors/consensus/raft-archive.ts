/**
 * Final blocks the Raft core no longer holds in memory, read back from its event stream (the stream keeps
 * everything; only the working set is compacted). For an executor catching up from far behind, and for a peer
 * that installed our snapshot and fetches the blocks below it. Reads from the latest restart point below the
 * wanted height, so one read costs about one snapshot interval of events, whatever the history's length.
 */
import type { EventStore, StoredEvent } from '../../lib/event-store/event-store.js';
import { blockOf, LoggedBlock } from './block-data.js';
import type { ConsensusCore, FinalBlock } from './core.js';
import type { Entry } from './raft/messages.js';
import { foldRaftEvents, RAFT_STREAM, RaftEvents, snapshotData } from './raft-events.js';
import { decodeEvent } from '../../lib/event-store/event-store.js';

const PAGE = 500;

const finalHeightAt = (e: StoredEvent) => snapshotData(decodeEvent(e, RaftEvents.SnapshotTaken).snapshot).finalHeight;

/**
 * Final blocks from `fromHeight` on, contiguous, at most up to `toHeight` (which must be final) and about
 * `maxChars` of raw transactions. Returns fewer (possibly none) if the stream does not hold them.
 */
export async function archivedFinalBlocks(store: EventStore, fromHeight: number, toHeight: number, maxChars: number): Promise<FinalBlock[]> {
  let start = await store.lastEvent(RAFT_STREAM, { type: 'SnapshotTaken' });
  while (start && finalHeightAt(start) >= fromHeight) start = await store.lastEvent(RAFT_STREAM, { type: 'SnapshotTaken', before: start.streamPosition });

  // The log as the fold knows it, but only the blocks in range (by index), and what is known committed.
  const wanted = new Map<number, FinalBlock>();
  let commitIndex = 0;
  const put = (entry: Entry) => {
    const b = blockOf(entry);
    if (b && b.height >= fromHeight && b.height <= toHeight) wanted.set(b.height, { block: LoggedBlock.parse(b), extraData: '0x', position: { term: entry.term, index: entry.index } });
  };
  const dropFrom = (index: number) => {
    for (const [h, f] of wanted) if (f.position.index >= index) wanted.delete(h);
  };
  const done = (): FinalBlock[] | null => {
    const out: FinalBlock[] = [];
    let chars = 0;
    for (let h = fromHeight; h <= toHeight && chars < maxChars; h++) {
      const f = wanted.get(h);
      // Only what is known committed: an uncommitted entry at this height may still be replaced.
      if (!f || f.position.index > commitIndex) return null;
      out.push(f);
      for (const t of f.block.transactions) chars += t.raw.length;
    }
    return out;
  };

  let position = 1;
  if (start) {
    const p = decodeEvent(start, RaftEvents.SnapshotTaken);
    commitIndex = p.commitIndex;
    p.entries.forEach(put);
    position = start.streamPosition + 1;
  }
  for (;;) {
    const page = await store.readStream(RAFT_STREAM, position, PAGE);
    for (const e of page) {
      switch (e.type) {
        case 'EntriesAppended':
          decodeEvent(e, RaftEvents.EntriesAppended).entries.forEach(put);
          break;
        case 'EntriesTruncated':
          dropFrom(decodeEvent(e, RaftEvents.EntriesTruncated).fromIndex);
          break;
        case 'CommitAdvanced':
          commitIndex = Math.max(commitIndex, decodeEvent(e, RaftEvents.CommitAdvanced).commitIndex);
          break;
        case 'SnapshotInstalled': {
          // Blocks above what we had delivered were discarded with the log (they come back from a peer as
          // BlocksSynced); everything up to the snapshot is committed. (The commit hint may lag: the delivered
          // height does not.)
          const p = decodeEvent(e, RaftEvents.SnapshotInstalled);
          for (const [h] of wanted) if (h > p.deliveredHeight) wanted.delete(h);
          commitIndex = Math.max(commitIndex, p.snapshot.index);
          break;
        }
        case 'BlocksSynced':
          for (const b of decodeEvent(e, RaftEvents.BlocksSynced).blocks) {
            if (b.block.height >= fromHeight && b.block.height <= toHeight) wanted.set(b.block.height, { block: b.block, extraData: '0x', position: { term: b.term, index: b.index } });
          }
          break;
        case 'SnapshotTaken':
          commitIndex = Math.max(commitIndex, decodeEvent(e, RaftEvents.SnapshotTaken).commitIndex);
          break;
        default:
          // Any other event is a fold error elsewhere too: let the fold name it.
          foldRaftEvents([e]);
      }
      position = e.streamPosition + 1;
    }
    const result = done();
    if (result) return result;
    if (page.length < PAGE) break;
  }
  // The stream ends before every wanted block is known committed (commit hints lag): give the contiguous
  // prefix that is, which the caller asks past again later.
  const out: FinalBlock[] = [];
  for (let h = fromHeight; h <= toHeight; h++) {
    const f = wanted.get(h);
    if (!f || f.position.index > commitIndex) break;
    out.push(f);
  }
  return out;
}

/**
 * Final blocks from `fromHeight` on, for an executor or a peer: from the core's memory while it holds them,
 * else (a core that compacts) from the event stream. At most `max` blocks and about `maxChars` of raw txs.
 */
export async function finalBlocksFrom(
  core: Pick<ConsensusCore, 'finalBlock' | 'finalHeight'> & { readonly archived?: boolean },
  store: EventStore,
  fromHeight: number,
  max: number,
  maxChars: number,
): Promise<FinalBlock[]> {
  const final = core.finalHeight();
  const last = Math.min(final, fromHeight + max - 1);
  const blocks: FinalBlock[] = [];
  let chars = 0;
  for (let h = fromHeight; h <= last && chars < maxChars; ) {
    const inMemory = core.finalBlock(h);
    const found = inMemory ? [inMemory] : core.archived ? await archivedFinalBlocks(store, h, last, maxChars - chars) : [];
    if (found.length === 0) break;
    for (const f of found) {
      blocks.push(f);
      for (const t of f.block.transactions) chars += t.raw.length + 4;
    }
    h = found[found.length - 1].block.height + 1;
  }
  return blocks;
}
