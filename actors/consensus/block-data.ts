/**
 * What a block entry in the raft log carries. Besides the raw signed transactions it records each tx's
 * hash, sender and nonce, as the admitting gateway recovered them, so every consensus actor can track
 * nonces and de-duplicate without recovering signatures (the executor recovers senders itself).
 */
import { z } from 'zod';
import { TransactionRecord } from '../../lib/ethereum/transaction-record.js';
import type { Entry } from './raft/messages.js';

/** A transaction in a logged block is the shared transaction record. */
export const LoggedTx = TransactionRecord;
export type LoggedTx = TransactionRecord;

export const LoggedBlock = z.object({
  height: z.number().int().positive(),
  timestamp: z.number().int().nonnegative(),
  proposer: z.string(),
  transactions: z.array(LoggedTx),
  /** Beside `transactions`: each one's traceparent, for the block's span links (not part of any digest). */
  traceparents: z.array(z.string().max(128).nullable()).optional(),
});
export type LoggedBlock = z.infer<typeof LoggedBlock>;

/** The block an entry carries, or null for a no-op. Entries come from our own validated log. */
export function blockOf(entry: Entry): LoggedBlock | null {
  return entry.data.kind === 'block' ? (entry.data.block as LoggedBlock) : null;
}
