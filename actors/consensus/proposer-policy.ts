/**
 * When this node proposes its next block: a pure function of what it has seen (time is passed in). The core
 * says whether we may propose (`proposalHeight`); the policy says when, and whether an empty block is worth it.
 */
import { MintPacer } from './mint-pacer.js';
import type { ConsensusParams } from '../../lib/network/description.js';

export interface ProposerPolicy {
  /** `count` transactions reached the pool at `at`. */
  arrived(count: number, at: number): void;
  /** A proposal was attempted at `at`; `produced` tells whether it made a block. */
  attempted(at: number, produced: boolean): void;
  /** A block became final at `at`. */
  finalised(at: number): void;
  /** Milliseconds to wait before proposing, or null when there is nothing worth proposing. */
  delay(now: number, pooled: number): number | null;
  /** Whether a block without transactions may be proposed. */
  readonly proposesEmpty: boolean;
}

/** Raft: blocks only for transactions, paced by MintPacer (the period applies only under dense arrivals). */
export function onDemandPolicy(periodMs: number): ProposerPolicy {
  const pacer = new MintPacer(periodMs);
  return {
    proposesEmpty: false,
    arrived: (count, at) => pacer.arrived(count, at),
    attempted: (at, produced) => pacer.attempted(at, produced),
    finalised: () => {},
    delay: (now, pooled) => (pooled === 0 ? null : pacer.delay(now)),
  };
}

/**
 * QBFT: one block per period after the last final one (GoQuorum's blockperiodseconds), empty or not when
 * `emptyBlocks`; otherwise only when transactions wait. A proposer of a later round (the period long past)
 * proposes at once.
 */
export function periodicPolicy(periodMs: number, emptyBlocks: boolean): ProposerPolicy {
  let lastFinalAt: number | null = null;
  /** An attempt that made nothing (only nonce gaps in the pool) waits a period, so it cannot spin. */
  let fruitlessAt: number | null = null;
  return {
    proposesEmpty: emptyBlocks,
    arrived: () => {},
    attempted: (at, produced) => {
      fruitlessAt = produced ? null : at;
    },
    finalised: (at) => {
      lastFinalAt = at;
      fruitlessAt = null;
    },
    delay: (now, pooled) => {
      if (pooled === 0 && !emptyBlocks) return null;
      const from = Math.max(lastFinalAt ?? Number.NEGATIVE_INFINITY, fruitlessAt ?? Number.NEGATIVE_INFINITY);
      return Number.isFinite(from) ? Math.max(0, from + periodMs - now) : 0;
    },
  };
}

export function policyFor(params: ConsensusParams): ProposerPolicy {
  return params.type === 'raft' ? onDemandPolicy(params.blockPeriodMs) : periodicPolicy(params.blockPeriodMs, params.emptyBlocks);
}
