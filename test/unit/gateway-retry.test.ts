/**
 * The gateway's retry policy (actors/gateway/retry.ts), its bounded cache (lru.ts) and its index of landed
 * transactions (landed.ts), on a fake clock.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLandedIndex } from '../../actors/gateway/landed.js';
import { createLru } from '../../actors/gateway/lru.js';
import { READ_RETRY, isUndelivered, isUnavailable, retrying, type Clock } from '../../actors/gateway/retry.js';
import { NoResponderError } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';

/** Time moves only when someone sleeps (or an attempt says it took a while). */
function fakeClock(): Clock & { t: number; sleeps: number[] } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

const unavailable = () => new CodedError(ErrorCode.Unavailable, 'timed out waiting for devnet.p1.executor.query');

describe('retrying (the gateway asks again while a dependency is away)', () => {
  it('a read that fails Unavailable twice and then answers is answered, after short, growing waits', async () => {
    const clock = fakeClock();
    const timeouts: number[] = [];
    const value = await retrying(
      async (timeoutMs) => {
        timeouts.push(timeoutMs);
        if (timeouts.length <= 2) throw unavailable();
        return 'receipt';
      },
      { policy: READ_RETRY, retryable: isUnavailable, what: 'ledger receipt', clock },
    );
    assert.equal(value, 'receipt');
    assert.equal(timeouts.length, 3);
    assert.deepEqual(clock.sleeps, [50, 100]);
    assert.equal(timeouts[0], READ_RETRY.attemptTimeoutMs, 'one attempt waits at most attemptTimeoutMs');
  });

  it('a read that stays unavailable is Unavailable once the budget is spent, naming the request and the attempts', async () => {
    const clock = fakeClock();
    const timeouts: number[] = [];
    const err = await retrying(
      async (timeoutMs) => {
        timeouts.push(timeoutMs);
        clock.t += 10; // each failed attempt takes a moment
        throw unavailable();
      },
      { policy: READ_RETRY, retryable: isUnavailable, what: 'ledger receipt', clock },
    ).then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CodedError);
    assert.equal(err.code, ErrorCode.Unavailable);
    assert.match(err.message, /^ledger receipt: timed out waiting for devnet\.p1\.executor\.query \(\d+ attempts in \d+ ms\)$/);
    assert.ok(timeouts.length >= 5, `only ${timeouts.length} attempts`);
    assert.ok(clock.t <= READ_RETRY.budgetMs, `took ${clock.t} ms, budget ${READ_RETRY.budgetMs}`);
    assert.ok(clock.t >= READ_RETRY.budgetMs - READ_RETRY.maxDelayMs - READ_RETRY.minAttemptMs - 10, `gave up early, at ${clock.t} ms`);
    assert.ok(Math.max(...clock.sleeps) <= READ_RETRY.maxDelayMs);
    assert.ok(timeouts.every((t) => t >= READ_RETRY.minAttemptMs && t <= READ_RETRY.attemptTimeoutMs));
  });

  it('an attempt never waits past the budget', async () => {
    const clock = fakeClock();
    const timeouts: number[] = [];
    await assert.rejects(
      retrying(
        async (timeoutMs) => {
          timeouts.push(timeoutMs);
          clock.t += timeoutMs; // a timeout: the attempt used all it was given
          throw unavailable();
        },
        { policy: READ_RETRY, retryable: isUnavailable, what: 'ledger head', clock },
      ),
      { code: ErrorCode.Unavailable },
    );
    // full attempts while they fit, then the last one trimmed to what is left of the budget
    assert.deepEqual(timeouts, [2500, 2500, 2500, 2150]);
    assert.equal(clock.t, READ_RETRY.budgetMs);
  });

  it('an error that is not Unavailable is thrown at once, as it is', async () => {
    for (const code of [ErrorCode.NotFound, ErrorCode.InvalidInput, ErrorCode.Internal, ErrorCode.ExecutionReverted]) {
      const clock = fakeClock();
      let attempts = 0;
      const original = new CodedError(code, 'no');
      await assert.rejects(
        retrying(
          async () => {
            attempts++;
            throw original;
          },
          { policy: READ_RETRY, retryable: isUnavailable, what: 'x', clock },
        ),
        (e) => e === original,
      );
      assert.equal(attempts, 1, code);
      assert.deepEqual(clock.sleeps, []);
    }
  });

  it('a write is asked again only when it reached no one', () => {
    assert.equal(isUndelivered(new NoResponderError('devnet.p1.consensus.submit')), true);
    assert.equal(isUndelivered(new CodedError(ErrorCode.Unavailable, 'no responder on devnet.p1.consensus.submit')), false, 'a remote Unavailable may have done something');
    assert.equal(isUndelivered(unavailable()), false, 'a timeout may have been received');
    assert.equal(isUnavailable(new NoResponderError('s')), true, 'no responder is Unavailable for a read');
  });
});

describe('createLru (bounded)', () => {
  it('drops the least recently used entry past maxEntries', () => {
    const c = createLru<string, number>({ maxEntries: 2 });
    c.set('a', 1);
    c.set('b', 2);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('c', 3);
    assert.equal(c.size, 2);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
  });

  it('stays under maxWeight, replaces an entry without counting it twice, and never keeps a value heavier than the bound', () => {
    const c = createLru<string, number[]>({ maxEntries: 100, maxWeight: 10, weight: (v) => v.length });
    c.set('a', [1, 2, 3, 4]);
    c.set('b', [1, 2, 3, 4]);
    assert.equal(c.weight, 8);
    c.set('b', [1]);
    assert.equal(c.weight, 5);
    c.set('c', [1, 2, 3, 4, 5, 6]); // 11 > 10: a (the oldest) goes
    assert.equal(c.get('a'), undefined);
    assert.equal(c.weight, 7);
    c.set('huge', new Array(11).fill(0));
    assert.equal(c.get('huge'), undefined);
    assert.equal(c.weight, 7);
    for (let i = 0; i < 1000; i++) c.set(`k${i}`, [i]);
    assert.ok(c.size <= 10 && c.weight <= 10);
  });
});

describe('createLandedIndex ("not yet" answered from blockExecuted events)', () => {
  const H = '0x' + 'aa'.repeat(32);
  const OTHER = '0x' + 'bb'.repeat(32);
  const setup = (capacity = 100) => {
    const clock = { t: 0 };
    return { clock, index: createLandedIndex({ capacity, maxAgeMs: 2000, now: () => clock.t }) };
  };

  it('a "not found" holds while every block since was seen and none held the transaction', () => {
    const { index } = setup();
    assert.equal(index.mark(), null, 'no block seen: nothing to vouch for');
    index.noteBlock(5n, []);
    const mark = index.mark()!;
    assert.equal(mark.block, 5n);
    assert.equal(index.stillAbsent(H, mark), true);
    index.noteBlock(6n, [OTHER]);
    assert.equal(index.stillAbsent(H, mark), true);
    index.noteBlock(7n, [H.toUpperCase().replace('0X', '0x')]);
    assert.equal(index.stillAbsent(H, mark), false, 'it landed: ask the ledger');
    assert.equal(index.stillAbsent(OTHER, mark), false);
  });

  it('a gap in the events, or a ledger head past them, voids the marks taken before it', () => {
    const { index } = setup();
    index.noteBlock(5n, []);
    const at5 = index.mark()!;
    index.noteBlock(7n, []); // block 6 was missed
    assert.equal(index.stillAbsent(H, at5), false);
    const at7 = index.mark()!;
    assert.equal(index.stillAbsent(H, at7), true);
    index.noteHead(9n); // the ledger is at 9: the events of 8 and 9 were not seen (yet)
    assert.equal(index.stillAbsent(H, at7), false);
    assert.equal(index.stillAbsent(H, index.mark()!), true);
    index.noteBlock(8n, [H]); // a late event: noted all the same
    assert.equal(index.stillAbsent(H, index.mark()!), false);
  });

  it('is trusted only while recently confirmed, and not when hashes noted since may have been forgotten', () => {
    const { clock, index } = setup(2);
    index.noteBlock(1n, []);
    const mark = index.mark()!;
    clock.t = 2001;
    assert.equal(index.stillAbsent(H, mark), false, 'no event nor ledger head for a while');
    index.noteHead(1n);
    assert.equal(index.stillAbsent(H, mark), true, 'the ledger confirmed the head');
    index.noteBlock(2n, [OTHER, '0x' + 'cc'.repeat(32)]);
    assert.equal(index.stillAbsent(H, mark), false, 'capacity hashes noted since the mark');
  });
});
