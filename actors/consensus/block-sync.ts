/**
 * Catch-up from a peer's blocks (GoQuorum syncs blocks over the network for this): a follower that installed
 * a leader's snapshot lacks the final blocks below it. Its core asks a peer for them (FetchBlocks, retried on
 * ticks); the peer's shell answers from its core's memory or from its event store (Blocks); the core checks
 * what it can and applies them in height order. Both travel as signed core messages between consensus actors.
 */
import { z } from 'zod';
import { SyncedBlock, type Gap } from './raft-events.js';

const NodeId = z.string().min(1);
const Height = z.number().int().positive();

export const FetchBlocks = z.object({ type: z.literal('FetchBlocks'), from: NodeId, to: NodeId, fromHeight: Height, toHeight: Height });
export type FetchBlocks = z.infer<typeof FetchBlocks>;

export const SyncedBlocks = z.object({ type: z.literal('Blocks'), from: NodeId, to: NodeId, blocks: z.array(SyncedBlock).max(500) });
export type SyncedBlocks = z.infer<typeof SyncedBlocks>;

/**
 * The blocks of a reply that fill the gap from its start: contiguous heights, inside the snapshot (index and
 * term no later than its own), log positions increasing. Returns them, or why the reply is refused. Blocks
 * already held (a duplicate or late reply) are skipped; a reply that does not reach the gap's start is empty.
 */
export function acceptSynced(gap: Gap, blocks: readonly SyncedBlock[]): SyncedBlock[] | string {
  const usable: SyncedBlock[] = [];
  for (const b of blocks) {
    const expected = gap.fromHeight + usable.length;
    if (b.block.height < expected) continue;
    if (b.block.height !== expected || b.block.height > gap.toHeight) break;
    if (b.index > gap.index || b.term > gap.term) return `block ${b.block.height} at index ${b.index} term ${b.term} lies past the snapshot (${gap.index}, term ${gap.term})`;
    const previous = usable[usable.length - 1];
    if (previous && (b.index <= previous.index || b.term < previous.term)) return `block ${b.block.height} goes back in the log`;
    usable.push(b);
  }
  return usable;
}
