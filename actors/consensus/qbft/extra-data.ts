/**
 * Header extraData of a QBFT block, identical on every participant:
 *
 *   RLP([digest(H) (32 bytes), round(H) (minimal big-endian, empty for 0), [parentSeals(H)…] (65 bytes each),
 *        vote: [] | [address (20 bytes), 0x01 (authorize) | 0x80 (remove)]])
 *
 * round(H) is the round in which block H was first proposed (part of the agreed proposal). Block H's own commit
 * seals are in block H+1's extraData (parentSeals), chosen by H+1's proposer: verify block by block that they
 * are a quorum of distinct validators of H over sealDigest(digest(H), round(H)).
 */
import { RLP } from '@ethereumjs/rlp';
import { fromHex, toHex } from '../../../lib/hex.js';
import { sealDigest } from './digest.js';
import type { Vote } from './messages.js';
import { quorum } from './validators.js';

export interface ExtraData {
  digest: string;
  round: number;
  parentSeals: string[];
  vote: Vote | null;
}

const AUTHORIZE = 0x01;
const REMOVE = 0x80;

export function encodeExtraData(extra: ExtraData): string {
  const vote = extra.vote === null ? [] : [fromHex(extra.vote.address), Uint8Array.of(extra.vote.authorize ? AUTHORIZE : REMOVE)];
  return toHex(RLP.encode([fromHex(extra.digest), extra.round, extra.parentSeals.map((s) => fromHex(s)), vote]));
}

function bytesAt(item: unknown, what: string, length?: number): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new Error(`extraData: ${what} is not a byte string`);
  if (length !== undefined && item.length !== length) throw new Error(`extraData: ${what} must be ${length} bytes`);
  return item;
}

/** Decodes extraData; throws on anything malformed. */
export function decodeExtraData(hex: string): ExtraData {
  const decoded = RLP.decode(fromHex(hex));
  if (!Array.isArray(decoded) || decoded.length !== 4) throw new Error('extraData: expected a list of 4 items');
  const [digest, round, seals, vote] = decoded;
  const roundBytes = bytesAt(round, 'round');
  if (roundBytes.length > 6 || (roundBytes.length > 0 && roundBytes[0] === 0)) throw new Error('extraData: bad round');
  let roundValue = 0;
  for (const b of roundBytes) roundValue = roundValue * 256 + b;
  if (!Array.isArray(seals)) throw new Error('extraData: seals must be a list');
  if (!Array.isArray(vote) || (vote.length !== 0 && vote.length !== 2)) throw new Error('extraData: bad vote');
  let parsedVote: Vote | null = null;
  if (vote.length === 2) {
    const kind = bytesAt(vote[1], 'vote kind', 1)[0];
    if (kind !== AUTHORIZE && kind !== REMOVE) throw new Error('extraData: bad vote kind');
    parsedVote = { address: toHex(bytesAt(vote[0], 'vote address', 20)), authorize: kind === AUTHORIZE };
  }
  return {
    digest: toHex(bytesAt(digest, 'digest', 32)),
    round: roundValue,
    parentSeals: seals.map((s, i) => toHex(bytesAt(s, `seal ${i}`, 65))),
    vote: parsedVote,
  };
}

/**
 * Checks commit seals of a block (digest, round) against its validators: null when they are a quorum of
 * distinct validators, else the reason. `recover` is QbftCrypto.recover.
 */
export function verifySeals(
  digest: string,
  round: number,
  seals: readonly string[],
  validators: readonly string[],
  recover: (digest: Uint8Array, signature: string) => string | null,
): string | null {
  const hash = sealDigest(digest, round);
  const signers = new Set<string>();
  for (const seal of seals) {
    const signer = recover(hash, seal);
    if (signer === null) return 'invalid commit seal';
    if (!validators.includes(signer)) return `commit seal by non-validator ${signer}`;
    if (signers.has(signer)) return `duplicate commit seal by ${signer}`;
    signers.add(signer);
  }
  if (signers.size < quorum(validators.length)) return `${signers.size} commit seals, ${quorum(validators.length)} needed`;
  return null;
}

/** For a replay tool: block H+1's parentSeals are a quorum of H's validators over H's digest and round. */
export function verifyParentSeals(
  parentExtraData: string,
  childExtraData: string,
  parentValidators: readonly string[],
  recover: (digest: Uint8Array, signature: string) => string | null,
): string | null {
  const parent = decodeExtraData(parentExtraData);
  const child = decodeExtraData(childExtraData);
  return verifySeals(parent.digest, parent.round, child.parentSeals, parentValidators, recover);
}
