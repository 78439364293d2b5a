/**
 * The event store against a real Postgres, in a fresh database per run: expected-position checks, the hash
 * chains (one per writing actor; editing or removing a row is detected precisely), the outbox.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { EventStore } from '../../lib/event-store/event-store.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { createDatabase, databaseUrl, dropDatabase } from '../../cli/postgres-admin.js';

const dbName = `quorum_test_es_${randomBytes(4).toString('hex')}`;
let sql: Sql;
let store: EventStore;
let other: EventStore;

before(async () => {
  await createDatabase(dbName);
  sql = postgres(databaseUrl(dbName), { max: 4, onnotice: () => {} });
  store = await EventStore.open(sql, 'consensus');
  other = await EventStore.open(sql, 'executor');
});

after(async () => {
  await sql?.end({ timeout: 2 });
  await dropDatabase(dbName);
});

test('appends check the expected stream position', async () => {
  await store.append('orders-1', 'none', [{ type: 'Opened', payload: { by: 'a' } }]);
  await store.append('orders-1', 1, [{ type: 'Paid', payload: { amount: '10' } }, { type: 'Shipped', payload: {} }]);
  await assert.rejects(
    store.append('orders-1', 1, [{ type: 'Paid', payload: { amount: '11' } }]),
    (err: unknown) => err instanceof CodedError && err.code === ErrorCode.Conflict && /at 3, expected 1/.test(err.message),
  );
  await assert.rejects(store.append('orders-1', 'none', [{ type: 'Opened', payload: {} }]), (err: unknown) => err instanceof CodedError && err.code === ErrorCode.Conflict);
  const events = await store.readStream('orders-1');
  assert.deepEqual(events.map((e) => [e.streamPosition, e.type]), [[1, 'Opened'], [2, 'Paid'], [3, 'Shipped']]);
  assert.deepEqual(events[1].payload, { amount: '10' });
});

test('concurrent appends from two actors keep each chain unbroken and the log globally ordered', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).append(`s-${i % 4}`, 'any', [{ type: 'E', payload: { i, nested: { z: 1, a: [1, 2] } } }])),
  );
  const mine = await store.verifyChain();
  assert.deepEqual([mine.ok, mine.checked], [true, 13]);
  const theirs = await other.verifyChain();
  assert.deepEqual([theirs.ok, theirs.checked], [true, 10]);
  assert.deepEqual(await store.chains(), ['consensus', 'executor']);
  const all = await store.readAll();
  assert.equal(all.length, 23);
  assert.ok(all.every((e, i) => i === 0 || e.globalPosition > all[i - 1].globalPosition));
});

test('a long stream is read whole, page by page', async () => {
  await store.append('long-1', 'none', Array.from({ length: 25 }, (_, i) => ({ type: 'Tick', payload: { i } })));
  const seen: number[] = [];
  for await (const e of store.streamEvents('long-1', 1, 7)) seen.push((e.payload as { i: number }).i);
  assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i));
  const tail: number[] = [];
  for await (const e of store.streamEvents('long-1', 21, 7)) tail.push(e.streamPosition);
  assert.deepEqual(tail, [21, 22, 23, 24, 25]);
});

test('the record refuses updates and deletes', async () => {
  await assert.rejects(sql`update events set payload = '{"amount":"99"}' where stream = 'orders-1' and stream_position = 2`, /append-only/);
  await assert.rejects(sql`delete from events where stream = 'orders-1'`, /append-only/);
});

test('an edited row is found, with its position', async () => {
  await sql.begin(async (tx) => {
    await tx`alter table events disable trigger events_append_only`;
    await tx`update events set payload = '{"amount":"99"}' where stream = 'orders-1' and stream_position = 2`;
    await tx`alter table events enable trigger events_append_only`;
  });
  const check = await store.verifyChain();
  assert.equal(check.ok, false);
  assert.equal(check.firstBad?.chain, 'consensus');
  assert.equal(check.firstBad?.chainPosition, 2);
  assert.equal(check.firstBad?.stream, 'orders-1');
  assert.match(check.firstBad!.reason, /edited/);
  // put it back: the chain verifies again (the hash covers content, not storage details like key order)
  await sql.begin(async (tx) => {
    await tx`alter table events disable trigger events_append_only`;
    await tx`update events set payload = '{"amount":"10"}' where stream = 'orders-1' and stream_position = 2`;
    await tx`alter table events enable trigger events_append_only`;
  });
  assert.equal((await store.verifyChain()).ok, true);
});

test('a removed row is found', async () => {
  await sql.begin(async (tx) => {
    await tx`alter table events disable trigger events_append_only`;
    await tx`delete from events where chain = 'consensus' and chain_position = 5`;
    await tx`alter table events enable trigger events_append_only`;
  });
  const check = await store.verifyChain();
  assert.equal(check.ok, false);
  assert.equal(check.firstBad?.chainPosition, 6);
  assert.match(check.firstBad!.reason, /missing/);
  assert.equal((await other.verifyChain()).ok, true, 'the other actor\'s chain is untouched');
});

test('outbox: events with a subject stay unpublished until marked, and come back after a crash', async () => {
  const [a, b] = await store.append('outbox-1', 'any', [
    { type: 'Sent', payload: { n: 1 }, publishSubject: 'net.p1.x' },
    { type: 'Sent', payload: { n: 2 }, publishSubject: 'net.p1.x' },
  ]);
  await store.append('outbox-1', 'any', [{ type: 'Internal', payload: {} }]);
  // a "crash" between append and publish: a new store instance sees both as unpublished
  const reopened = await EventStore.open(sql, 'consensus');
  let pending = await reopened.unpublished();
  assert.deepEqual(pending.map((e) => e.globalPosition), [a.globalPosition, b.globalPosition]);
  assert.equal(pending[0].publishSubject, 'net.p1.x');
  await reopened.markPublished([a.globalPosition]);
  pending = await reopened.unpublished();
  assert.deepEqual(pending.map((e) => e.globalPosition), [b.globalPosition]);
});

test('appendWith stores events and companion inserts in one statement: all of them, or none', async () => {
  const ledger = await EventStore.open(sql, 'ledger-with');
  await sql`create table if not exists with_companions (id int primary key, note text)`;
  const stored = await ledger.appendWith('blocks-with', 'none', [{ type: 'Stored', payload: { n: 1 } }], (q) => [
    q`insert into with_companions ${q([{ id: 1, note: 'a' }, { id: 2, note: 'b' }])}`,
    q`insert into with_companions ${q([{ id: 3, note: 'c' }])}`,
  ]);
  assert.equal(stored.length, 1);
  assert.deepEqual((await sql`select id from with_companions order by id`).map((r) => r.id), [1, 2, 3]);
  // A companion that fails (duplicate key) takes the events with it, and the next append still chains correctly.
  await assert.rejects(ledger.appendWith('blocks-with', 1, [{ type: 'Stored', payload: { n: 2 } }], (q) => [q`insert into with_companions ${q([{ id: 4, note: 'd' }, { id: 1, note: 'dup' }])}`]));
  assert.deepEqual((await sql`select id from with_companions order by id`).map((r) => r.id), [1, 2, 3]);
  assert.equal((await ledger.readStream('blocks-with')).length, 1);
  await ledger.appendWith('blocks-with', 1, [{ type: 'Stored', payload: { n: 2 } }], (q) => [q`insert into with_companions ${q([{ id: 4, note: 'd' }])}`]);
  const chain = await ledger.verifyChain();
  assert.deepEqual([chain.ok, chain.checked], [true, 2]);
});

test('the last event of a stream, of a type, before a position: where a snapshot is found', async () => {
  assert.equal(await store.lastEvent('snap-1'), undefined);
  await store.append('snap-1', 'none', [
    { type: 'Appended', payload: { n: 1 } },
    { type: 'Snapshot', payload: { upTo: 1 } },
    { type: 'Appended', payload: { n: 2 } },
    { type: 'Snapshot', payload: { upTo: 2 } },
    { type: 'Appended', payload: { n: 3 } },
  ]);
  await store.append('snap-2', 'none', [{ type: 'Snapshot', payload: { other: true } }]);
  assert.deepEqual((await store.lastEvent('snap-1'))?.payload, { n: 3 });
  const latest = await store.lastEvent('snap-1', { type: 'Snapshot' });
  assert.deepEqual([latest?.streamPosition, latest?.payload], [4, { upTo: 2 }]);
  const earlier = await store.lastEvent('snap-1', { type: 'Snapshot', before: latest!.streamPosition });
  assert.deepEqual([earlier?.streamPosition, earlier?.payload], [2, { upTo: 1 }]);
  assert.equal(await store.lastEvent('snap-1', { type: 'Snapshot', before: 2 }), undefined);
  assert.equal(await store.lastEvent('snap-1', { type: 'Missing' }), undefined);
});
