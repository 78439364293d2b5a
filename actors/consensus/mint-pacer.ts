/**
 * When the leader mints its next block: a pure function of what it has seen (time is passed in).
 *
 * Under load, blocks should be few and large: every block costs every participant a fixed amount of work, so
 * the leader mints at most once per period. But a wallet that sends, waits for its receipt and sends again
 * arrives at a slower pace than the period yet just after it expired or not: it would wait up to a whole period
 * each time for nothing, since nobody else is there to share the block. So the period applies only while
 * transactions arrive densely (on average less than half a period apart); sparse arrivals are minted at once.
 * An attempt that found nothing to mint (only nonce gaps, say) always waits a period, so it cannot spin.
 */
export class MintPacer {
  private lastMintAt = Number.NEGATIVE_INFINITY;
  private lastArrivalAt = Number.NEGATIVE_INFINITY;
  private fruitless = false;
  /** Smoothed time between arrivals (ms per transaction); starts sparse. */
  private gapMs: number;

  constructor(private readonly periodMs: number) {
    this.gapMs = periodMs;
  }

  /** `count` transactions reached the pool at `at`. */
  arrived(count: number, at: number): void {
    if (count <= 0) return;
    if (Number.isFinite(this.lastArrivalAt)) {
      // Capped, so one quiet spell does not make the next burst look sparse for long.
      const gap = Math.min(Math.max(at - this.lastArrivalAt, 0) / count, 2 * this.periodMs);
      this.gapMs = 0.7 * this.gapMs + 0.3 * gap;
    }
    this.lastArrivalAt = at;
  }

  /** A mint was attempted at `at`; `produced` tells whether it made a block. */
  attempted(at: number, produced: boolean): void {
    this.lastMintAt = at;
    this.fruitless = !produced;
  }

  /** How long to wait before the next mint attempt. */
  delay(now: number): number {
    const untilPeriod = Math.max(0, this.lastMintAt + this.periodMs - now);
    if (this.fruitless) return untilPeriod;
    return this.gapMs >= this.periodMs / 2 ? 0 : untilPeriod;
  }
}
