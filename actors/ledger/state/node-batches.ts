/**
 * Trie-node batches in Postgres: one row per block holding every trie database entry the block wrote,
 * packed as [u32 keyLength][key][u32 valueLength][value]... The executor writes them in the same transaction
 * as the block (so a stored block always has its state, and a block costs one transaction); the state store
 * keeps an in-memory index of all entries, loaded from the rows at start and caught up when a block is announced.
 * This table layout is the state store's storage schema, shared by its writer and its reader.
 */
import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import type { Migration } from '../../../lib/event-store/migrations.js';
import type { StateKind } from '../../../lib/subjects.js';

/** The public and the private state store keep their batches in tables of their own (one database per participant). */
export const batchTable = (kind: StateKind) => (kind === 'public' ? 'state_batches' : 'private_state_batches');
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
