/** The transaction pool: per-sender nonce ordering, replacement, and what the log tells it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TxPool, type PoolTx } from '../../actors/consensus/pool.js';

const A = '0xaaaa000000000000000000000000000000000001';
const B = '0xbbbb000000000000000000000000000000000002';
let seq = 0;
function tx(from: string, nonce: number, over: Partial<PoolTx> = {}): PoolTx {
  seq += 1;
  return { raw: '0x' + seq.toString(16).padStart(4, '0'), hash: '0x' + seq.toString(16).padStart(64, '0'), from, nonce: BigInt(nonce), gasLimit: 21000n, accountNonce: 0n, local: true, receivedAt: 0, ...over };
}

test('only a contiguous nonce run from the next nonce is selected', () => {
  const pool = new TxPool();
  const t0 = tx(A, 0), t1 = tx(A, 1), t3 = tx(A, 3);
  for (const t of [t3, t1, t0]) assert.deepEqual(pool.add(t), { ok: true });
  assert.deepEqual(pool.select(100, 10_000_000n).map((t) => t.nonce), [0n, 1n]);
  assert.equal(pool.nextNonce(A), 2n);
});

test('the account nonce hint and the log set where a run starts', () => {
  const pool = new TxPool();
  pool.add(tx(B, 5, { accountNonce: 5n }));
  pool.add(tx(B, 6, { accountNonce: 5n }));
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.nonce), [5n, 6n]);
  pool.noteLogged([{ hash: '0x' + 'ee'.repeat(32), from: B, nonce: 5n }]);
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.nonce), [6n]);
});

test('logged txs leave pending; truncated ones come back; committed ones raise the floor', () => {
  const pool = new TxPool();
  const t0 = tx(A, 0), t1 = tx(A, 1);
  pool.add(t0);
  pool.add(t1);
  pool.noteLogged([{ hash: t0.hash, from: A, nonce: 0n }, { hash: t1.hash, from: A, nonce: 1n }]);
  assert.equal(pool.size, 0);
  assert.equal(pool.has(t0.hash), true);
  pool.noteTruncated([t1]);
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.hash), [t1.hash]);
  pool.noteCommitted([{ hash: t0.hash, from: A, nonce: 0n }, { hash: t1.hash, from: A, nonce: 1n }]);
  assert.equal(pool.size, 0);
  assert.deepEqual(pool.precheck({ hash: '0x' + '12'.repeat(32), from: A, nonce: 1n }), { ok: false, reason: 'nonce too low' });
  assert.deepEqual(pool.add(tx(A, 1)), { ok: false, reason: 'nonce too low' });
  assert.equal(pool.nextNonce(A), 2n);
});

test('a tx with the same sender and nonce replaces the pending one', () => {
  const pool = new TxPool();
  const first = tx(A, 0), second = tx(A, 0);
  pool.add(first);
  pool.add(second);
  assert.equal(pool.size, 1);
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.hash), [second.hash]);
});

test('selection respects the count and the block gas budget', () => {
  const pool = new TxPool();
  for (let n = 0; n < 10; n++) pool.add(tx(A, n, { gasLimit: 100_000n }));
  assert.equal(pool.select(4, 10_000_000n).length, 4);
  assert.equal(pool.select(100, 350_000n).length, 3);
});

test('selection respects a size budget, but always takes at least one tx', () => {
  const pool = new TxPool();
  for (let n = 0; n < 5; n++) pool.add(tx(A, n, { raw: '0x' + 'ab'.repeat(100) }));
  assert.equal(pool.select(100, 10_000_000n, 3 * 202).length, 3);
  assert.equal(pool.select(100, 10_000_000n, 10).length, 1);
});

test('a dropped tx gives its nonce back and may be sent again', () => {
  const pool = new TxPool();
  const t0 = tx(A, 0), t1 = tx(A, 1);
  pool.add(t0);
  pool.add(t1);
  pool.noteLogged([{ hash: t0.hash, from: A, nonce: 0n }, { hash: t1.hash, from: A, nonce: 1n }]);
  pool.noteCommitted([{ hash: t0.hash, from: A, nonce: 0n }, { hash: t1.hash, from: A, nonce: 1n }]);
  assert.equal(pool.nextNonce(A), 2n);
  pool.noteDropped([{ hash: t1.hash, from: A, nonce: 1n }]);
  assert.equal(pool.nextNonce(A), 1n);
  assert.equal(pool.has(t1.hash), false);
  assert.deepEqual(pool.add({ ...t1, accountNonce: 1n }), { ok: true });
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.hash), [t1.hash]);
});

test('a full pool refuses new txs', () => {
  const pool = new TxPool(2);
  pool.add(tx(A, 0));
  pool.add(tx(A, 1));
  assert.deepEqual(pool.add(tx(A, 2)), { ok: false, reason: 'transaction pool is full' });
});

test('committed hashes are kept for a window only; nonces still refuse a replay of an older tx', () => {
  const pool = new TxPool(100, 3);
  const committed = [0, 1, 2, 3, 4].map((n) => tx(A, n));
  pool.noteCommitted(committed.map((t) => ({ hash: t.hash, from: t.from, nonce: t.nonce })));
  assert.deepEqual(committed.map((t) => pool.isCommitted(t.hash)), [false, false, true, true, true], 'the newest 3 only');
  // The oldest is forgotten as a hash, yet its nonce is used: it cannot come back as pending.
  assert.deepEqual(pool.add(committed[0]), { ok: false, reason: 'nonce too low' });
  assert.deepEqual(pool.precheck(committed[1]), { ok: false, reason: 'nonce too low' });
  assert.equal(pool.size, 0);
  // A hash committed again (after a drop) becomes the newest and outlives older ones.
  pool.noteDropped([{ hash: committed[2].hash, from: A, nonce: 2n }]);
  pool.noteCommitted([{ hash: committed[2].hash, from: A, nonce: 2n }]);
  const later = tx(B, 0);
  pool.noteCommitted([{ hash: later.hash, from: B, nonce: 0n }]);
  assert.deepEqual([committed[2], committed[3], committed[4], later].map((t) => pool.isCommitted(t.hash)), [true, false, true, true]);
});

test('a truncated entry with several txs of one sender gives every one of them back as pending', () => {
  const pool = new TxPool();
  const run = [0, 1, 2, 3].map((n) => tx(A, n));
  pool.noteLogged(run.map((t) => ({ hash: t.hash, from: t.from, nonce: t.nonce })));
  assert.equal(pool.size, 0);
  pool.noteTruncated(run);
  assert.deepEqual(pool.select(10, 10_000_000n).map((t) => t.nonce), [0n, 1n, 2n, 3n]);
  assert.deepEqual(pool.localPending().map((t) => t.hash), run.map((t) => t.hash));
});
