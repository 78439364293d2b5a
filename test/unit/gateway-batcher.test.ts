import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSubmitBatcher, type SubmitReply, type SubmitTx } from '../../actors/gateway/submit-batcher.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';

const tx = (i: number): SubmitTx => ({ raw: '0x01', hash: '0x' + i.toString(16).padStart(64, '0'), from: '0x' + '11'.repeat(20), nonce: '0x' + i.toString(16), gasLimit: '0x5208', accountNonce: '0x0' });

function recorder(reply: (txs: SubmitTx[]) => SubmitReply | Promise<SubmitReply>) {
  const batches: SubmitTx[][] = [];
  return {
    batches,
    send: async (txs: SubmitTx[]) => {
      batches.push(txs);
      return reply(txs);
    },
  };
}
const acceptAll = (txs: SubmitTx[]) => ({ accepted: txs.map((t) => t.hash) });

describe('gateway submit batching', () => {
  it('concurrent submissions travel in one request, in arrival order', async () => {
    const r = recorder(acceptAll);
    const b = createSubmitBatcher(r.send, { windowMs: 5 });
    await Promise.all([1, 2, 3, 4].map((i) => b.submit(tx(i))));
    assert.equal(r.batches.length, 1);
    assert.deepEqual(r.batches[0].map((t) => t.nonce), ['0x1', '0x2', '0x3', '0x4']);
  });

  it('a full batch is sent at once; the rest waits for the window', async () => {
    const r = recorder(acceptAll);
    // A window no test run reaches: whatever leaves before flush() did not wait for it.
    const b = createSubmitBatcher(r.send, { windowMs: 3_600_000, maxBatch: 3 });
    await Promise.all([1, 2, 3].map((i) => b.submit(tx(i))));
    assert.deepEqual(r.batches.map((x) => x.length), [3], 'the full batch left without waiting for the window');
    const fourth = b.submit(tx(4));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(r.batches.map((x) => x.length), [3], 'a lone submission waits for the window');
    b.flush();
    await fourth;
    assert.deepEqual(r.batches.map((x) => x.length), [3, 1]);
  });

  it('an idle batcher sends at once (no window by default)', async () => {
    const r = recorder(acceptAll);
    const b = createSubmitBatcher(r.send);
    await b.submit(tx(1));
    await b.submit(tx(2));
    assert.deepEqual(r.batches.map((x) => x.length), [1, 1]);
  });

  it('while a request is in flight, new submissions wait and leave together when it returns', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const r = recorder(async (txs) => {
      if (r.batches.length === 1) await gate; // the first request is slow
      return acceptAll(txs);
    });
    const b = createSubmitBatcher(r.send);
    const first = b.submit(tx(1));
    await new Promise((resolve) => setImmediate(resolve)); // the first request leaves alone
    const rest = [2, 3, 4].map((i) => b.submit(tx(i)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(r.batches.length, 1, 'nothing else left while the first request was in flight');
    release();
    await Promise.all([first, ...rest]);
    assert.deepEqual(r.batches.map((x) => x.map((t) => t.nonce)), [['0x1'], ['0x2', '0x3', '0x4']]);
  });

  it('in a group, a refusal reaches only the caller it concerns', async () => {
    const r = recorder((txs) => ({ accepted: txs.filter((t) => t.nonce !== '0x2').map((t) => t.hash), rejected: [{ hash: tx(2).hash, reason: 'insufficient funds' }] }));
    const b = createSubmitBatcher(r.send);
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => b.submit(tx(i))));
    assert.equal(r.batches.length, 1);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'insufficient funds');
  });

  it('each caller gets its own outcome: missing hashes are rejected with the given reason or a generic one', async () => {
    const r = recorder((txs) => ({ accepted: [txs[0].hash.toUpperCase().replace('0X', '0x')], rejected: [{ hash: txs[1].hash, reason: 'nonce too low' }] }));
    const b = createSubmitBatcher(r.send, { windowMs: 1 });
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => b.submit(tx(i))));
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.equal(outcomes[1].status, 'rejected');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'nonce too low');
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, ErrorCode.Rejected);
    assert.equal((outcomes[2] as PromiseRejectedResult).reason.message, 'transaction rejected by the pool');
  });

  it('an error for the whole request rejects every transaction in it', async () => {
    const b = createSubmitBatcher(async () => {
      throw new CodedError(ErrorCode.Unavailable, 'no responder');
    });
    const outcomes = await Promise.allSettled([1, 2].map((i) => b.submit(tx(i))));
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.equal((o as PromiseRejectedResult).reason.code, ErrorCode.Unavailable);
    }
  });

  it('the same transaction twice in a window travels once; both callers succeed', async () => {
    const r = recorder(acceptAll);
    const b = createSubmitBatcher(r.send, { windowMs: 2 });
    await Promise.all([b.submit(tx(1)), b.submit(tx(1))]);
    assert.equal(r.batches[0].length, 1);
  });

  it('close rejects what is queued and refuses new submissions', async () => {
    const r = recorder(acceptAll);
    const b = createSubmitBatcher(r.send, { windowMs: 1000 });
    const queued = b.submit(tx(1));
    b.close();
    await assert.rejects(queued, { code: ErrorCode.Unavailable });
    await assert.rejects(b.submit(tx(2)), { code: ErrorCode.Unavailable });
    assert.equal(r.batches.length, 0);
  });
});
