/**
 * The shapes of the QBFT core. The core is a deterministic state machine: time is `tick` inputs, there is no
 * randomness, and all I/O (events, messages, the pool) belongs to the shell. Signing is injected (QbftCrypto):
 * real secp256k1 in production, a fast unforgeable fake in the simulation.
 */
import type { FinalBlock } from '../core.js';
import type { Commit, Prepare, Proposal, ProposalMessage, RoundChange, RoundMessage } from './messages.js';

export interface QbftCrypto {
  /** Our own address (lowercase 0x…). */
  address: string;
  /** A 65-byte hex signature r ‖ s ‖ v over a 32-byte digest. */
  sign(digest: Uint8Array): string;
  /** The (lowercase) address that signed `digest`, or null for an invalid signature. */
  recover(digest: Uint8Array, signature: string): string | null;
}

export interface QbftConfig {
  /** This participant's id, e.g. 'p1'. */
  self: string;
  /** Every permitted participant: id ↔ secp256k1 address (lowercase 0x…). */
  participants: { id: string; address: string }[];
  /** Addresses of the validators at height 1. */
  genesisValidators: string[];
  /** Round-0 timeout in ticks; doubles each round up to 2^MAX_TIMEOUT_EXPONENT times. */
  requestTimeoutTicks: number;
  crypto: QbftCrypto;
}

export const MAX_TIMEOUT_EXPONENT = 10;
/** Future-height messages further ahead than this are not kept: we sync instead. */
export const BACKLOG_HEIGHTS = 10;
export const BACKLOG_LIMIT = 1024;
/** Vote snapshots kept for istanbul_getSnapshot (validator-set changes are kept forever). */
export const SNAPSHOT_WINDOW = 1024;

export interface FinalRecord {
  proposal: Proposal;
  digest: string;
  /** The round in which this node saw the commit quorum (or the proposal's round when synced). */
  round: number;
  /** The commit seals this node holds for it (a quorum): the next proposer puts them in parentSeals. */
  seals: string[];
  final: FinalBlock;
}

/** The validator set from `fromHeight` on (sorted lowercase addresses). */
export interface ValidatorEpoch {
  fromHeight: number;
  validators: string[];
}

/** A vote in the tally, as GoQuorum's snapshot lists it. */
export interface TallyVote {
  /** The proposer that cast it. */
  validator: string;
  address: string;
  block: number;
  authorize: boolean;
}

export interface VoteSnapshot {
  number: number;
  validators: string[];
  votes: TallyVote[];
}

export interface Prepared {
  round: number;
  digest: string;
  proposal: Proposal;
  prepares: Prepare[];
}

/** What this node has signed at the current height, per round (restored from events: never sign twice). */
export interface SentInRound {
  proposal?: string;
  prepare?: string;
  commit?: string;
}

export interface QbftState {
  readonly self: string;
  readonly selfAddress: string;
  readonly idByAddress: ReadonlyMap<string, string>;
  readonly addressById: ReadonlyMap<string, string>;
  readonly timeoutTicks: number;
  readonly crypto: QbftCrypto;

  now: number;
  /** The height being decided: finalHeight + 1. */
  height: number;
  round: number;
  roundDeadline: number;
  nextRebroadcast: number;
  /** Tick of the last finalisation (or start): drives the periodic sync request when stuck. */
  lastProgress: number;
  syncAskedAt: number;
  syncCursor: number;
  /** Peer → tick we last sent it final blocks unasked (it was at an old height). */
  helpedAt: Map<string, number>;

  finals: Map<number, FinalRecord>;
  finalHeight: number;
  lastTimestamp: number;
  epochs: ValidatorEpoch[];
  /** The tally after finalHeight. */
  votes: TallyVote[];
  snapshots: Map<number, VoteSnapshot>;
  /** Our pending votes (istanbul_propose). */
  candidates: Map<string, boolean>;

  // The current height.
  proposals: Map<number, { message: ProposalMessage; digest: string }>;
  prepares: Map<number, Map<string, Prepare>>;
  commits: Map<number, Map<string, Commit>>;
  /** Latest round change per signer (rounds only grow for honest nodes; bounded by the validator count). */
  roundChanges: Map<string, RoundChange>;
  prepared: Prepared | null;
  sent: Map<number, SentInRound>;
  /** Our own messages of the current round, rebroadcast while the round makes no progress. */
  own: { proposal?: ProposalMessage; prepare?: Prepare; commit?: Commit; roundChange?: RoundChange };
  /** Proposals known at the current height by digest (accepted, or from verified certificates). */
  values: Map<string, Proposal>;
  /** Commit seals already checked at the current height. */
  verifiedSeals: Set<string>;
  backlog: { from: string; message: RoundMessage }[];
}
