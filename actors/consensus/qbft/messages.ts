/**
 * QBFT wire schemas (zod values, types inferred). Plain JSON: numbers, hex strings, no bigint.
 *
 * A signed message carries no signer field: the signer is recovered from `signature` over the message's
 * signing digest (digest.ts) and must be a validator of the height and, for the outer message, the participant
 * the broker says sent it. Messages embedded in others (prepares in a certificate, round changes in a
 * justification) are verified the same way, so they can be forwarded by anyone.
 */
import { z } from 'zod';
import { LoggedBlock } from '../block-data.js';
import { Hash32 } from '../../../lib/hex.js';

/** A 65-byte signature r ‖ s ‖ v, hex. Commit seals have the same shape. */
export const Signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'expected a 65-byte 0x-prefixed signature');
/** Addresses are lowercase throughout the core. */
export const LowerAddress = z.string().regex(/^0x[0-9a-f]{40}$/, 'expected a lowercase 20-byte 0x-prefixed address');

const Height = z.number().int().positive();
const Round = z.number().int().nonnegative().max(1_000_000);

export const Vote = z.object({ address: LowerAddress, authorize: z.boolean() });
export type Vote = z.infer<typeof Vote>;

/**
 * The value agreed at a height. `round` is the round in which the block was first proposed: kept unchanged
 * when a prepared block is re-proposed in a later round, it is part of the digest and of the header extraData
 * (the commit round can differ between nodes; the header must not). `parentSeals` are commit seals of
 * height - 1 chosen by the proposer (empty at height 1).
 */
export const Proposal = z.object({
  block: LoggedBlock,
  round: Round,
  parentSeals: z.array(Signature).max(1024),
  vote: Vote.optional(),
});
export type Proposal = z.infer<typeof Proposal>;

export const Prepare = z.object({
  type: z.literal('PREPARE'),
  height: Height,
  round: Round,
  digest: Hash32,
  signature: Signature,
});
export type Prepare = z.infer<typeof Prepare>;

export const Commit = z.object({
  type: z.literal('COMMIT'),
  height: Height,
  round: Round,
  digest: Hash32,
  /** Signature over sealDigest(digest, proposal round): what goes into the next block's parentSeals. */
  seal: Signature,
  signature: Signature,
});
export type Commit = z.infer<typeof Commit>;

export const PreparedRef = z.object({ round: Round, digest: Hash32 });
export type PreparedRef = z.infer<typeof PreparedRef>;

/** The signed part of a round change: what is embedded in a proposal's justification. */
export const SignedRoundChange = z.object({
  type: z.literal('ROUND-CHANGE'),
  height: Height,
  round: Round,
  /** The sender's prepared round and digest, or null when it has prepared nothing at this height. */
  prepared: PreparedRef.nullable(),
  signature: Signature,
});
export type SignedRoundChange = z.infer<typeof SignedRoundChange>;

/** The prepared block and the quorum of PREPAREs that prove it. */
export const PreparedCertificate = z.object({
  proposal: Proposal,
  prepares: z.array(Prepare).max(1024),
});
export type PreparedCertificate = z.infer<typeof PreparedCertificate>;

/** A round change as sent: with the certificate of `prepared` (required when `prepared` is set). */
export const RoundChange = SignedRoundChange.extend({ certificate: PreparedCertificate.nullable() });
export type RoundChange = z.infer<typeof RoundChange>;

/** Why a proposal in round > 0 may be made: a quorum of round changes, and the prepares of the highest. */
export const Justification = z.object({
  roundChanges: z.array(SignedRoundChange).max(1024),
  prepares: z.array(Prepare).max(1024),
});
export type Justification = z.infer<typeof Justification>;

export const ProposalMessage = z.object({
  type: z.literal('PROPOSAL'),
  height: Height,
  round: Round,
  proposal: Proposal,
  /** Signature over (height, round, digest of the proposal). */
  signature: Signature,
  /** Null in round 0. */
  justification: Justification.nullable(),
});
export type ProposalMessage = z.infer<typeof ProposalMessage>;

export const MAX_SYNC_BLOCKS = 64;

export const SyncRequest = z.object({ type: z.literal('SYNC-REQUEST'), fromHeight: Height });
export type SyncRequest = z.infer<typeof SyncRequest>;

/** A final block as evidence: the proposal and a quorum of commit seals over its digest. */
export const SyncedBlock = z.object({ proposal: Proposal, seals: z.array(Signature).max(1024) });
export type SyncedBlock = z.infer<typeof SyncedBlock>;

export const SyncResponse = z.object({
  type: z.literal('SYNC-RESPONSE'),
  blocks: z.array(SyncedBlock).min(1).max(MAX_SYNC_BLOCKS),
});
export type SyncResponse = z.infer<typeof SyncResponse>;

export const QbftMessage = z.discriminatedUnion('type', [
  ProposalMessage,
  Prepare,
  Commit,
  RoundChange,
  SyncRequest,
  SyncResponse,
]);
export type QbftMessage = z.infer<typeof QbftMessage>;
/** The messages that belong to one (height, round) of the protocol. */
export type RoundMessage = ProposalMessage | Prepare | Commit | RoundChange;
