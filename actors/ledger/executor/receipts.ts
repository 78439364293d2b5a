/**
 * Block-level commitments computed the way the VM (runBlock) and the block package compute them:
 * transactionsRoot / receiptsRoot are ordered tries keyed by RLP(index); receipts are encoded with the VM's
 * own `encodeReceipt` (EIP-2718 typed receipts carry their type byte).
 */
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import type { TypedTransaction } from '@ethereumjs/tx';
import { KECCAK256_RLP } from '@ethereumjs/util';
import { encodeReceipt, type TxReceipt } from '@ethereumjs/vm';
import { keccak256 } from '../../../lib/ethereum/chain.js';
import { orderedRoot } from './trie-batch.js';

/**
 * Root of the ordered trie { RLP(i) → values[i] } (the empty-trie root for no values), built in one pass
 * hashing each node once (an MPT fed with 200 puts rehashes the path to the root on every put). Equal to
 * the MPT's root; the unit tests check it against @ethereumjs/mpt (orderedTrieRootMpt).
 */
export async function orderedTrieRoot(values: Uint8Array[]): Promise<Uint8Array> {
  if (values.length === 0) return KECCAK256_RLP;
  return orderedRoot(values, keccak256);
}

/** Reference implementation (the library's MPT); used by tests. */
export async function orderedTrieRootMpt(values: Uint8Array[]): Promise<Uint8Array> {
  if (values.length === 0) return KECCAK256_RLP;
  const trie = new MerklePatriciaTrie();
  for (let i = 0; i < values.length; i++) await trie.put(RLP.encode(i), values[i]);
  return trie.root();
}

export function transactionsRoot(txs: TypedTransaction[]): Promise<Uint8Array> {
  return orderedTrieRoot(txs.map((tx) => tx.serialize()));
}

export function receiptsRoot(receipts: { receipt: TxReceipt; txType: TypedTransaction['type'] }[]): Promise<Uint8Array> {
  return orderedTrieRoot(receipts.map((r) => encodeReceipt(r.receipt, r.txType)));
}

/** Block body size as the block package counts it: RLP([header, transactions, uncles, withdrawals]). */
export function blockSize(headerRaw: Uint8Array[], txs: TypedTransaction[], withWithdrawals: boolean): number {
  const body: unknown[] = [headerRaw, txs.map((tx) => (tx.type === 0 ? (tx.raw() as Uint8Array[]) : tx.serialize())), []];
  if (withWithdrawals) body.push([]);
  return RLP.encode(body as Parameters<typeof RLP.encode>[0]).length;
}
