/**
 * Transactions our gateway admitted travel to whoever may propose them (the Raft leader, every other QBFT
 * validator), in chunks bounded by count and size so each message stays well under the broker's max_payload.
 */
import { quantity } from '../../lib/hex.js';
import type { PoolTx } from './pool.js';
import type { SubmittedTransaction } from './messages.js';

/**
 * Raw transaction bytes per block, as hex characters (1 MB of transactions): a Raft AppendEntries carries up
 * to 4 entries and a QBFT round change a proposal, and both must stay under the broker's 8 MB max_payload.
 */
export const MAX_BLOCK_HEX_CHARS = 2 * 1024 * 1024;
const MAX_TXS_PER_FORWARD = 500;

export function forwardChunks(txs: readonly PoolTx[]): SubmittedTransaction[][] {
  const chunks: SubmittedTransaction[][] = [];
  let chunk: SubmittedTransaction[] = [];
  let chars = 0;
  for (const tx of txs) {
    if (chunk.length > 0 && (chunk.length >= MAX_TXS_PER_FORWARD || chars + tx.raw.length > MAX_BLOCK_HEX_CHARS)) {
      chunks.push(chunk);
      chunk = [];
      chars = 0;
    }
    chunk.push({ raw: tx.raw, hash: tx.hash, from: tx.from, nonce: quantity(tx.nonce), gasLimit: quantity(tx.gasLimit), accountNonce: quantity(tx.accountNonce) });
    chars += tx.raw.length;
  }
  if (chunk.length) chunks.push(chunk);
  return chunks;
}
