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

/** Bytes of an RLP prefix for a payload of `n` bytes (a list's, or a string's longer than one byte). */
const rlpPrefixLength = (n: number): number => (n <= 55 ? 1 : 1 + Math.ceil(n.toString(16).length / 2));

/**
 * Block body size as the block package counts it: the length of RLP([header, transactions, uncles, withdrawals]),
 * computed from the lengths of the parts (each transaction's serialization is already at hand) rather than by
 * encoding the whole block again. A legacy transaction is its RLP list; a typed one is a byte string of its envelope.
 */
export function blockSize(headerRaw: Uint8Array[], txs: TypedTransaction[], withWithdrawals: boolean): number {
  const header = RLP.encode(headerRaw).length;
  let txPayload = 0;
  for (const tx of txs) {
    const n = tx.serialize().length;
    txPayload += tx.type === 0 ? n : rlpPrefixLength(n) + n;
  }
  const body = header + rlpPrefixLength(txPayload) + txPayload + 1 /* uncles: [] */ + (withWithdrawals ? 1 : 0);
  return rlpPrefixLength(body) + body;
}
