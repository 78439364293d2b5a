/**
 * The executor answers reads of its most recent stored blocks from memory: also while the database is away.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Sql } from 'postgres';
import { BlockQueries, RecentStoredBlocks } from '../../actors/ledger/executor/block-store.js';
import type { ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { isDatabaseUnavailable } from '../../lib/event-store/postgres-errors.js';

const h = (tag: string, n: number) => '0x' + tag.repeat(2) + n.toString(16).padStart(62, '0');

/** A stored block as the executor holds it, with `txs` transactions (the first one private when `privateFirst`). */
function executed(n: number, txs: number, privateFirst = false): ExecutedBlock {
  const hashes = Array.from({ length: txs }, (_, i) => h('a', n * 1000 + i));
  const receipt = (hash: string, i: number, kind: string) => ({ transactionHash: hash, transactionIndex: '0x' + i.toString(16), blockNumber: '0x' + n.toString(16), kind, logs: [] });
  return {
    number: BigInt(n),
    hash: h('b', n),
    stateRoot: h('c', n),
    privateStateRoot: h('d', n),
    timestamp: BigInt(1000 + n),
    block: { number: '0x' + n.toString(16), hash: h('b', n), transactions: hashes },
    transactions: hashes.map((hash, i) => ({ hash, transactionIndex: '0x' + i.toString(16) })),
    receipts: hashes.map((hash, i) => receipt(hash, i, 'public')),
    privateReceipts: privateFirst && txs > 0 ? [receipt(hashes[0], 0, 'private')] : [],
  } as unknown as ExecutedBlock;
}

/** A database that is away: every query fails as the client fails when nothing listens. */
const awaySql = (() => {
  throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}) as unknown as Sql;

describe('RecentStoredBlocks', () => {
  it('finds a remembered block by number and hash, and its transactions and receipts by hash', () => {
    const recent = new RecentStoredBlocks();
    recent.remember([executed(1, 2, true), executed(2, 1)]);
    assert.equal(recent.byNumberOf(2n)?.head.hash, h('b', 2));
    assert.equal(recent.byHashOf(h('b', 1).toUpperCase().replace('0X', '0x'))?.head.number, 1n);
    const first = recent.transaction(h('a', 1000));
    assert.equal(first?.tx.hash, h('a', 1000));
    assert.equal((first?.receipt as unknown as { kind: string }).kind, 'private', 'a party sees its private receipt');
    assert.equal((recent.transaction(h('a', 1001))?.receipt as unknown as { kind: string }).kind, 'public');
    assert.equal(recent.byNumberOf(3n), undefined);
    assert.equal(recent.transaction(h('a', 5000)), undefined);
  });

  it('forgets the oldest blocks first, by count of blocks and of transactions', () => {
    const byBlocks = new RecentStoredBlocks({ maxBlocks: 3, maxTransactions: 1000 });
    for (let n = 1; n <= 5; n++) byBlocks.remember([executed(n, 1)]);
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => byBlocks.byNumberOf(BigInt(n)) !== undefined), [false, false, true, true, true]);
    assert.equal(byBlocks.byHashOf(h('b', 2)), undefined);
    assert.equal(byBlocks.transaction(h('a', 2000)), undefined);
    assert.ok(byBlocks.transaction(h('a', 3000)));

    const byTxs = new RecentStoredBlocks({ maxBlocks: 100, maxTransactions: 10 });
    byTxs.remember([executed(1, 6), executed(2, 6)]);
    assert.equal(byTxs.byNumberOf(1n), undefined, '12 transactions > 10: the oldest block goes');
    assert.ok(byTxs.byNumberOf(2n));
    byTxs.remember([executed(3, 4)]);
    assert.ok(byTxs.byNumberOf(2n) && byTxs.byNumberOf(3n), '10 transactions fit');
  });
});

describe('BlockQueries while the database is away', () => {
  it('answers recent blocks, transactions and receipts from memory, and asks the tables for anything older', async () => {
    const q = new BlockQueries(awaySql);
    q.recent.remember([executed(7, 2)]);
    assert.equal((await q.header(7n))?.stateRoot, h('c', 7));
    assert.equal(await q.hashOf(7n), h('b', 7));
    assert.deepEqual((await q.blockByNumber(7n, false))?.transactions, [h('a', 7000), h('a', 7001)]);
    const full = await q.blockByHash(h('b', 7), true);
    assert.equal((full?.transactions[1] as { hash: string }).hash, h('a', 7001));
    assert.equal(await q.blockNumberOfHash(h('b', 7)), 7n);
    assert.equal((await q.transaction(h('a', 7001)))?.hash, h('a', 7001));
    assert.equal((await q.receipt(h('a', 7000)))?.transactionHash, h('a', 7000));

    await assert.rejects(async () => q.blockByNumber(6n, false), (err) => isDatabaseUnavailable(err), 'an older block is read from the tables');
    await assert.rejects(async () => q.receipt(h('a', 6000)), (err) => isDatabaseUnavailable(err));
  });
});
