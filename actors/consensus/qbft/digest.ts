/**
 * What is hashed and signed, each with its own domain tag so that no signature can be replayed as another
 * kind: keccak256 of an RLP list (RLP is canonical: one encoding per value).
 *
 *  - proposalDigest: ['QBFT-PROPOSAL', height, round, timestamp, proposer, [tx hashes], parentDigest,
 *    [parentSeals], vote ? [address, 0x01 | ''] : []] — the value agreed at a height.
 *  - messageDigest: ['QBFT-MSG', type, height, round, ...fields] — what a consensus message's signature covers.
 *  - sealDigest: ['QBFT-SEAL', digest, round] — what a commit seal covers (round = the proposal's round).
 */
import { RLP } from '@ethereumjs/rlp';
import { keccak_256 } from '@noble/hashes/sha3';
import { fromHex, toHex } from '../../../lib/hex.js';
import type { Proposal, PreparedRef } from './messages.js';

/** The parent digest of height 1 (genesis carries no QBFT evidence). */
export const GENESIS_DIGEST = '0x' + '00'.repeat(32);

const utf8 = new TextEncoder();

/**
 * keccak256 with a small memo: a broadcast message is hashed by every receiver, and in one process (the
 * simulation, or a test) they share the result. Purely a cache: the value is always keccak256(bytes).
 */
const memo = new Map<string, Uint8Array>();
const MEMO_LIMIT = 4096;
export function keccak(bytes: Uint8Array): Uint8Array {
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const known = memo.get(key);
  if (known !== undefined) return known;
  const hash = keccak_256(bytes);
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, hash);
  return hash;
}

export function proposalDigest(proposal: Proposal, parentDigest: string): string {
  const { block } = proposal;
  return toHex(
    keccak(
      RLP.encode([
        utf8.encode('QBFT-PROPOSAL'),
        block.height,
        proposal.round,
        block.timestamp,
        utf8.encode(block.proposer),
        block.transactions.map((t) => fromHex(t.hash)),
        fromHex(parentDigest),
        proposal.parentSeals.map((s) => fromHex(s)),
        proposal.vote === undefined ? [] : [fromHex(proposal.vote.address), proposal.vote.authorize ? 1 : 0],
      ]),
    ),
  );
}

export type SignedKind =
  | { type: 'PROPOSAL'; height: number; round: number; digest: string }
  | { type: 'PREPARE'; height: number; round: number; digest: string }
  | { type: 'COMMIT'; height: number; round: number; digest: string; seal: string }
  | { type: 'ROUND-CHANGE'; height: number; round: number; prepared: PreparedRef | null };

/** Signing digests by their fields (a broadcast message is checked by every receiver in the process). */
const signingMemo = new Map<string, Uint8Array>();

function memoised(key: string, compute: () => Uint8Array): Uint8Array {
  const known = signingMemo.get(key);
  if (known !== undefined) return known;
  const value = compute();
  if (signingMemo.size >= MEMO_LIMIT) signingMemo.clear();
  signingMemo.set(key, value);
  return value;
}

export function messageDigest(m: SignedKind): Uint8Array {
  const extra =
    m.type === 'COMMIT' ? `${m.digest}${m.seal}` : m.type === 'ROUND-CHANGE' ? (m.prepared === null ? '-' : `${m.prepared.round}${m.prepared.digest}`) : m.digest;
  return memoised(`${m.type}|${m.height}|${m.round}|${extra}`, () => computeMessageDigest(m));
}

function computeMessageDigest(m: SignedKind): Uint8Array {
  const fields: (Uint8Array | number | (Uint8Array | number)[])[] = [utf8.encode('QBFT-MSG'), utf8.encode(m.type), m.height, m.round];
  switch (m.type) {
    case 'PROPOSAL':
    case 'PREPARE':
      fields.push(fromHex(m.digest));
      break;
    case 'COMMIT':
      fields.push(fromHex(m.digest), fromHex(m.seal));
      break;
    case 'ROUND-CHANGE':
      fields.push(m.prepared === null ? [] : [m.prepared.round, fromHex(m.prepared.digest)]);
      break;
  }
  return keccak_256(RLP.encode(fields));
}

export function sealDigest(digest: string, round: number): Uint8Array {
  return memoised(`SEAL|${digest}|${round}`, () => keccak_256(RLP.encode([utf8.encode('QBFT-SEAL'), fromHex(digest), round])));
}
