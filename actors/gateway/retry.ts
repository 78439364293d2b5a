/**
 * How the gateway asks again when a dependency is away for a moment (busy, restarting, the broker
 * reconnecting). A read that meets Unavailable (no responder, a timeout, the other actor's own Unavailable)
 * is asked again after a short, growing wait, within one bounded budget; only when the budget is spent is it
 * answered Unavailable (JSON-RPC -32000 'temporarily unavailable, retry', see rpc/errors.ts). A write is
 * asked again only when the broker said nobody received it (NoResponderError): a write that may have been
 * received (a timeout) is never sent twice from here.
 */
import { NoResponderError } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';

export interface RetryPolicy {
  /** Total time of all attempts and the waits between them. */
  budgetMs: number;
  /** The longest one attempt waits for its answer (a busy ledger delays a read; it does not fail it). */
  attemptTimeoutMs: number;
  /** No attempt starts with less than this left of the budget. */
  minAttemptMs: number;
  /** The wait after the first failed attempt; it doubles after each one, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
}

/**
 * Reads: at most ~10 s in all; one attempt waits up to 2.5 s (a block of a few hundred txs is ~100+ ms of executor
 * CPU). 10 s, not 4: on a saturated 2-core machine an executor catching up a batch of blocks can leave a lookup
 * unanswered for several seconds, and a wallet polling its receipt would rather wait than see an error.
 */
export const READ_RETRY: RetryPolicy = { budgetMs: 10_000, attemptTimeoutMs: 2_500, minAttemptMs: 250, firstDelayMs: 50, maxDelayMs: 400 };

/**
 * Writes that reached nobody (the consensus actor or tm restarting, the broker reconnecting): asked again for
 * ~4 s in all, which rides out a restart (consensus is back within ~2 s) but answers a client within its
 * patience when the actor stays away (2 of 4 consensus actors down, say): -32000, retry.
 */
export const WRITE_RETRY: RetryPolicy = { budgetMs: 4_000, attemptTimeoutMs: 2_500, minAttemptMs: 250, firstDelayMs: 50, maxDelayMs: 400 };

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A read may be asked again: the dependency did not answer, or answered that it cannot yet. */
export const isUnavailable = (err: unknown): boolean => err instanceof CodedError && err.code === ErrorCode.Unavailable;

/** A write may be asked again only when it reached no one. */
export const isUndelivered = (err: unknown): boolean => err instanceof NoResponderError;

export interface RetryOptions {
  policy: RetryPolicy;
  retryable: (err: unknown) => boolean;
  /** Names the request in the final error (logged by the gateway, never sent to the client). */
  what: string;
  clock?: Clock;
}

/**
 * Runs `attempt(timeoutMs)` until it succeeds, fails with an error `retryable` refuses (thrown as is), or the
 * budget is spent: then a CodedError(Unavailable) naming `what`, the last failure and the attempts made.
 */
export async function retrying<T>(attempt: (timeoutMs: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const { policy } = o;
  const clock = o.clock ?? realClock;
  const start = clock.now();
  const deadline = start + policy.budgetMs;
  let delay = policy.firstDelayMs;
  for (let attempts = 1; ; attempts++) {
    const left = deadline - clock.now();
    try {
      return await attempt(Math.max(policy.minAttemptMs, Math.min(policy.attemptTimeoutMs, left)));
    } catch (err) {
      if (!o.retryable(err)) throw err;
      const wait = Math.min(delay, policy.maxDelayMs);
      if (deadline - clock.now() - wait < policy.minAttemptMs) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new CodedError(ErrorCode.Unavailable, `${o.what}: ${reason} (${attempts} attempt${attempts === 1 ? '' : 's'} in ${Math.round(clock.now() - start)} ms)`, undefined, { cause: err });
      }
      await clock.sleep(wait);
      delay *= 2;
    }
  }
}
