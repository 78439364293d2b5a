/**
 * Trie-node batches in Postgres: one row per block holding every trie database entry the block wrote,
 * packed as [u32 keyLength][key][u32 valueLength][value]... The executor writes them in the same transaction
 * as the block (so a stored block always has its state, and a block costs one transaction).
 *
 * The state store then indexes each batch, off the executor's path: its entries go into a key-addressed table
 * (one row per entry, in one transaction per group of blocks with the height indexed so far), so the store
 * keeps only a bounded cache in memory and reads what it misses by key, and a restart indexes only the batches
 * after that height instead of reading the whole history.
 * These tables are the state store's storage schema, shared by its writer and its reader.
 */
import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import type { Migration } from '../../../lib/event-store/migrations.js';
import type { StateKind } from '../../../lib/subjects.js';

/** The public and the private state store keep their batches in tables of their own (one database per participant). */
const batchTable = (kind: StateKind) => (kind === 'public' ? 'state_batches' : 'private_state_batches');
/** Every entry of every indexed batch, by key. */
const nodeTable = (kind: StateKind) => (kind === 'public' ? 'state_nodes' : 'private_state_nodes');
/** One row: the last block whose batch is in nodeTable. */
const indexTable = (kind: StateKind) => (kind === 'public' ? 'state_indexed' : 'private_state_indexed');
/** Migration owners: one per store. */
export const migrationOwner = (kind: StateKind) => (kind === 'public' ? 'state' : 'privateState');

export const stateMigrations = (kind: StateKind): readonly Migration[] => [
  {
    version: 1,
    description: `${batchTable(kind)}: trie database entries written by each block`,
    sql: `
      create table ${batchTable(kind)} (
        block_number bigint primary key,
        block_hash text not null,
        state_root text not null,
        entry_count int not null,
        entries bytea not null
      );
    `,
  },
  {
    version: 2,
    description: `${nodeTable(kind)}: the batches' entries by key; ${indexTable(kind)}: how far they are indexed`,
    sql: `
      create table ${nodeTable(kind)} (key bytea primary key, value bytea not null);
      create table ${indexTable(kind)} (only_row boolean primary key default true check (only_row), height bigint not null);
      insert into ${indexTable(kind)} (height) values (-1);
    `,
  },
];

export function packEntries(entries: readonly [Uint8Array, Uint8Array][]): Buffer {
  let size = 0;
  for (const [k, v] of entries) size += 8 + k.length + v.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const [k, v] of entries) {
    out.writeUInt32BE(k.length, o);
    out.set(k, o + 4);
    o += 4 + k.length;
    out.writeUInt32BE(v.length, o);
    out.set(v, o + 4);
    o += 4 + v.length;
  }
  return out;
}

export function* unpackEntries(buf: Uint8Array): Generator<[Uint8Array, Uint8Array]> {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  while (o < view.length) {
    const kl = view.readUInt32BE(o);
    const k = view.subarray(o + 4, o + 4 + kl);
    o += 4 + kl;
    const vl = view.readUInt32BE(o);
    const v = view.subarray(o + 4, o + 4 + vl);
    o += 4 + vl;
    yield [new Uint8Array(k), new Uint8Array(v)];
  }
}

export interface BatchRow {
  blockNumber: bigint;
  blockHash: string;
  stateRoot: string;
  entryCount: number;
  entries: Uint8Array;
}

/**
 * The inserts of one row per block, as unsent queries (see blockInserts); both kinds get a row for every block
 * (a block without private writes still records the private root it leaves).
 */
export function batchInserts(tx: Sql | TransactionSql, kind: StateKind, batches: readonly BatchRow[]): PendingQuery<Row[]>[] {
  const rows = batches.map((b) => ({
    block_number: b.blockNumber.toString(),
    block_hash: b.blockHash,
    state_root: b.stateRoot,
    entry_count: b.entryCount,
    entries: Buffer.from(b.entries.buffer, b.entries.byteOffset, b.entries.byteLength),
  }));
  // Rows of a block stored by an earlier, interrupted attempt are the same rows (execution is deterministic).
  const inserts: PendingQuery<Row[]>[] = [];
  for (let i = 0; i < rows.length; i += 500) inserts.push(tx`insert into ${tx(batchTable(kind))} ${tx(rows.slice(i, i + 500))} on conflict (block_number) do nothing`);
  return inserts;
}

/** Batches after block `after` (all of them by default), in block order. */
export async function* readBatches(sql: Sql, kind: StateKind, after = -1n, pageSize = 200): AsyncGenerator<BatchRow> {
  let from = after;
  for (;;) {
    const rows = await sql`select block_number, block_hash, state_root, entry_count, entries from ${sql(batchTable(kind))}
      where block_number > ${from.toString()} order by block_number limit ${pageSize}`;
    for (const r of rows) {
      from = BigInt(r.block_number);
      yield { blockNumber: from, blockHash: r.block_hash, stateRoot: r.state_root, entryCount: Number(r.entry_count), entries: new Uint8Array(r.entries as Buffer) };
    }
    if (rows.length < pageSize) return;
  }
}

/** The last block whose entries are indexed by key (-1: none). */
export async function readIndexedHeight(sql: Sql, kind: StateKind): Promise<bigint> {
  const [r] = await sql`select height from ${sql(indexTable(kind))}`;
  return BigInt(r.height);
}

/** Rows per insert: two parameters a row, under Postgres's 65,535. */
const NODE_ROWS_PER_INSERT = 10_000;

/**
 * Indexes consecutive batches (in block order, the first right after the indexed height) in one transaction:
 * their entries by key, and the new height. Entries are content-addressed, so one already there is the same.
 * Returns the entries indexed, keyed by unprefixed lowercase hex (what the store's cache takes).
 */
export async function indexBatches(sql: Sql, kind: StateKind, batches: readonly BatchRow[]): Promise<Map<string, Uint8Array>> {
  const entries = new Map<string, Uint8Array>();
  if (batches.length === 0) return entries;
  const rows: { key: Buffer; value: Buffer }[] = [];
  for (const b of batches) {
    for (const [k, v] of unpackEntries(b.entries)) {
      const key = Buffer.from(k.buffer, k.byteOffset, k.byteLength);
      const hex = key.toString('hex');
      if (entries.has(hex)) continue;
      entries.set(hex, v);
      rows.push({ key, value: Buffer.from(v.buffer, v.byteOffset, v.byteLength) });
    }
  }
  const height = batches[batches.length - 1].blockNumber;
  await sql.begin(async (tx) => {
    for (let i = 0; i < rows.length; i += NODE_ROWS_PER_INSERT) {
      await tx`insert into ${tx(nodeTable(kind))} ${tx(rows.slice(i, i + NODE_ROWS_PER_INSERT))} on conflict (key) do nothing`;
    }
    await tx`update ${tx(indexTable(kind))} set height = ${height.toString()} where height < ${height.toString()}`;
  });
  return entries;
}

/** The indexed entries among `keys` (unprefixed lowercase hex), by key. */
export async function readNodes(sql: Sql, kind: StateKind, keys: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (keys.length === 0) return out;
  const rows = await sql`select key, value from ${sql(nodeTable(kind))} where key = any(${sql.array(keys.map((k) => Buffer.from(k, 'hex')), 17)}::bytea[])`;
  for (const r of rows) out.set((r.key as Buffer).toString('hex'), new Uint8Array(r.value as Buffer));
  return out;
}

/** The state root a stored block left (null when no batch of that block is stored). */
export async function readStateRoot(sql: Sql, kind: StateKind, blockNumber: bigint): Promise<string | null> {
  const [r] = await sql`select state_root from ${sql(batchTable(kind))} where block_number = ${blockNumber.toString()}`;
  return r ? (r.state_root as string) : null;
}
