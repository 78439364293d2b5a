/**
 * The state store's storage with a real Postgres: batches written as the executor writes them, indexed by key
 * by the store (node-batches.ts), and read back through its bounded cache (node-cache.ts) with a capacity far
 * below the entries stored, as a store that has run for months holds them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { createDatabase, databaseUrl, dropDatabase } from '../../cli/postgres-admin.js';
import { migrate } from '../../lib/event-store/migrations.js';
import {
  batchInserts,
  indexBatches,
  migrationOwner,
  packEntries,
  readBatches,
  readIndexedHeight,
  readNodes,
  readStateRoot,
  stateMigrations,
  type BatchRow,
} from '../../actors/ledger/state/node-batches.js';
import { NodeCache } from '../../actors/ledger/state/node-cache.js';

const dbName = `quorum_test_state_${randomBytes(4).toString('hex')}`;
let sql: Sql;

/** Entry i of block b: a 32-byte key and a value that names both. */
const key = (b: number, i: number) => Buffer.from(`${b.toString(16).padStart(8, '0')}${i.toString(16).padStart(8, '0')}`.padEnd(64, 'a'), 'hex');
const value = (b: number, i: number) => new TextEncoder().encode(`block ${b} entry ${i}`);
const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');

function batch(b: number, entries = 20): BatchRow {
  const list: [Uint8Array, Uint8Array][] = Array.from({ length: entries }, (_, i) => [key(b, i), value(b, i)]);
  return { blockNumber: BigInt(b), blockHash: '0x' + b.toString(16).padStart(64, '0'), stateRoot: '0x' + (b + 1000).toString(16).padStart(64, '0'), entryCount: entries, entries: packEntries(list) };
}

before(async () => {
  await createDatabase(dbName);
  sql = postgres(databaseUrl(dbName), { max: 4, onnotice: () => {} });
  await migrate(sql, migrationOwner('public'), stateMigrations('public'));
  await migrate(sql, migrationOwner('private'), stateMigrations('private'));
});

after(async () => {
  await sql?.end({ timeout: 5 });
  await dropDatabase(dbName);
});

describe('state batches indexed by key', () => {
  it('indexes the stored batches in block order, once, and reads entries and roots by key and block', async () => {
    assert.equal(await readIndexedHeight(sql, 'public'), -1n);
    const stored = Array.from({ length: 10 }, (_, b) => batch(b));
    for (const q of batchInserts(sql, 'public', stored)) await q;
    const read: BatchRow[] = [];
    for await (const b of readBatches(sql, 'public', -1n, 3)) read.push(b);
    assert.deepEqual(read.map((b) => b.blockNumber), stored.map((b) => b.blockNumber), 'read back in pages, in order');

    await indexBatches(sql, 'public', read.slice(0, 4));
    assert.equal(await readIndexedHeight(sql, 'public'), 3n);
    await indexBatches(sql, 'public', read.slice(4));
    assert.equal(await readIndexedHeight(sql, 'public'), 9n);
    // An interrupted attempt indexed again: the same rows, and the height does not go back.
    await indexBatches(sql, 'public', read.slice(2, 5));
    assert.equal(await readIndexedHeight(sql, 'public'), 9n);

    const found = await readNodes(sql, 'public', [hex(key(0, 0)), hex(key(9, 19)), hex(key(42, 0))]);
    assert.deepEqual([...found.keys()].sort(), [hex(key(0, 0)), hex(key(9, 19))].sort());
    assert.deepEqual(found.get(hex(key(9, 19))), value(9, 19));
    assert.equal(await readStateRoot(sql, 'public', 7n), stored[7].stateRoot);
    assert.equal(await readStateRoot(sql, 'public', 70n), null);
    // The private store's tables are its own.
    assert.equal(await readIndexedHeight(sql, 'private'), -1n);
    assert.equal((await readNodes(sql, 'private', [hex(key(0, 0))])).size, 0);
  });

  it('a cache of 16 entries over 200 serves every one, evicting the least recently used, one query per burst', async () => {
    const queries: number[] = [];
    const cache = new NodeCache(16, async (keys) => {
      queries.push(keys.length);
      return readNodes(sql, 'public', keys);
    });
    const all = Array.from({ length: 10 }, (_, b) => Array.from({ length: 20 }, (_, i) => [b, i] as const)).flat();
    // A burst of concurrent reads (one event-loop turn): one query for all of them.
    const values = await Promise.all(all.map(([b, i]) => cache.get(hex(key(b, i)))));
    values.forEach((v, n) => assert.deepEqual(v, value(...all[n])));
    assert.deepEqual(queries, [200]);
    assert.equal(cache.size, 16, 'bounded');
    // The 16 most recent are in memory; the first are not any more.
    assert.ok(cache.peek(hex(key(9, 19))));
    assert.equal(cache.peek(hex(key(0, 0))), undefined);
    // Reading an evicted one goes to the database again; an entry nobody stored is undefined, not an error.
    assert.deepEqual(await cache.get(hex(key(0, 0))), value(0, 0));
    assert.equal(await cache.get(hex(key(77, 7))), undefined);
    assert.deepEqual(await cache.getMany([hex(key(0, 0)), hex(key(5, 5)), hex(key(77, 7))]), [value(0, 0), value(5, 5), undefined]);
    assert.equal(queries.length, 4, 'one query per miss burst, none for the hit');
  });

  it('a failed read reaches every waiter of its burst, and the next read tries again', async () => {
    let fail = true;
    const cache = new NodeCache(4, async (keys) => {
      if (fail) throw new Error('database away');
      return readNodes(sql, 'public', keys);
    });
    const waits = [cache.get(hex(key(1, 1))), cache.get(hex(key(1, 2)))];
    for (const w of waits) await assert.rejects(Promise.resolve(w), /database away/);
    fail = false;
    assert.deepEqual(await cache.get(hex(key(1, 1))), value(1, 1));
  });
});
