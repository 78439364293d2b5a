/**
 * The executor's own tables: blocks, transactions with their receipts, logs (indexed for eth_getLogs), and
 * committed transactions it had to drop. Written once per block, in the same transaction as the block's
 * BlockExecuted event; read to answer the gateway's queries. The most recent stored blocks are also kept in
 * memory (RecentStoredBlocks): what wallets ask for most is answered without a round trip, and still answered while
 * the database is away for a moment.
 */
import type { PendingQuery, Row, Sql, TransactionSql } from 'postgres';
import type { Migration } from '../../../lib/event-store/migrations.js';
import type { LogFilter, RpcBlock, RpcLog, RpcReceipt, RpcTransaction } from './messages.js';
import type { ExecutedBlock, PrivateContract } from './engine.js';
import { EMPTY_STATE_ROOT } from './execute-block.js';

export const blockStoreMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'blocks, transactions+receipts, logs, dropped transactions',
    // json, not jsonb: documents are stored and returned whole, never queried inside, and json skips jsonb's
    // parse on every insert.
    sql: `
      create table ledger_blocks (
        number bigint primary key,
        hash text not null unique,
        state_root text not null,
        timestamp bigint not null,
        block json not null
      );
      create table ledger_transactions (
        hash text primary key,
        block_number bigint not null,
        tx_index int not null,
        tx json not null,
        receipt json not null
      );
      create index ledger_transactions_block on ledger_transactions (block_number, tx_index);
      create table ledger_logs (
        block_number bigint not null,
        log_index int not null,
        address text not null,
        topic0 text, topic1 text, topic2 text, topic3 text,
        log json not null,
        primary key (block_number, log_index)
      );
      create index ledger_logs_address on ledger_logs (address, block_number);
      create index ledger_logs_topic0 on ledger_logs (topic0, block_number);
      create table ledger_dropped (
        hash text not null,
        block_number bigint not null,
        reason text not null,
        primary key (hash, block_number)
      );
    `,
  },
  {
    version: 2,
    description: 'private state: root per block, private receipts and logs, private contracts',
    sql: `
      alter table ledger_blocks add column private_state_root text;
      create table ledger_private_receipts (
        hash text primary key,
        block_number bigint not null,
        receipt json not null
      );
      create table ledger_private_logs (
        block_number bigint not null,
        log_index int not null,
        address text not null,
        topic0 text, topic1 text, topic2 text, topic3 text,
        log json not null,
        primary key (block_number, log_index)
      );
      create index ledger_private_logs_address on ledger_private_logs (address, block_number);
      create table ledger_private_contracts (
        address text primary key,
        creation_tx text not null,
        privacy_flag int not null,
        parties json not null,
        block_number bigint not null
      );
    `,
  },
];

export interface StoredHead {
  number: bigint;
  hash: string;
  stateRoot: string;
  privateStateRoot: string;
  timestamp: bigint;
}

const headOf = (r: Record<string, unknown>): StoredHead => ({
  number: BigInt(r.number as string),
  hash: r.hash as string,
  stateRoot: r.state_root as string,
  privateStateRoot: (r.private_state_root as string | null) ?? EMPTY_STATE_ROOT,
  timestamp: BigInt(r.timestamp as string),
});

const logRow = <J>(b: ExecutedBlock, l: RpcLog, json: (v: never) => J) => ({
  block_number: b.number.toString(),
  log_index: Number(BigInt(l.logIndex)),
  address: l.address.toLowerCase(),
  topic0: l.topics[0] ?? null,
  topic1: l.topics[1] ?? null,
  topic2: l.topics[2] ?? null,
  topic3: l.topics[3] ?? null,
  log: json(l as never),
});

/**
 * The multi-row inserts that store consecutive executed blocks with their transactions, receipts, logs and
 * dropped txs, as unsent queries (postgres.js sends a query only when it is awaited): the caller runs them in
 * a transaction, or in one statement with the blocks' events (EventStore.appendWith).
 */
export function blockInserts(tx: Sql | TransactionSql, blocks: readonly ExecutedBlock[]): PendingQuery<Row[]>[] {
  const pending: PendingQuery<Row[]>[] = [];
  const inChunks = <T>(rows: T[], insert: (chunk: T[]) => PendingQuery<Row[]>) => {
    for (let i = 0; i < rows.length; i += 1000) pending.push(insert(rows.slice(i, i + 1000)));
  };
  inChunks(
    blocks.map((b) => ({
      number: b.number.toString(),
      hash: b.hash,
      state_root: b.stateRoot,
      private_state_root: b.privateStateRoot,
      timestamp: b.timestamp.toString(),
      block: tx.json(b.block as never),
    })),
    (rows) => tx`insert into ledger_blocks ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) =>
      b.transactions.map((t, i) => ({ hash: t.hash, block_number: b.number.toString(), tx_index: i, tx: tx.json(t as never), receipt: tx.json(b.receipts[i] as never) })),
    ),
    (rows) => tx`insert into ledger_transactions ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) => b.logs.map((l) => logRow(b, l, tx.json))),
    (rows) => tx`insert into ledger_logs ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) => b.privateReceipts.map((r) => ({ hash: r.transactionHash, block_number: b.number.toString(), receipt: tx.json(r as never) }))),
    (rows) => tx`insert into ledger_private_receipts ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) => b.privateLogs.map((l) => logRow(b, l, tx.json))),
    (rows) => tx`insert into ledger_private_logs ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) =>
      b.privateContracts.map((c) => ({
        address: c.address.toLowerCase(),
        creation_tx: c.creationTxHash,
        privacy_flag: c.privacyFlag,
        parties: tx.json(c.parties as never),
        block_number: b.number.toString(),
      })),
    ),
    (rows) => tx`insert into ledger_private_contracts ${tx(rows)}`,
  );
  inChunks(
    blocks.flatMap((b) => b.dropped.map((d) => ({ hash: d.hash, block_number: b.number.toString(), reason: d.reason }))),
    (rows) => tx`insert into ledger_dropped ${tx(rows)} on conflict do nothing`,
  );
  return pending;
}

/** What is kept in memory of one stored block: no trie entries, no logs index (eth_getLogs reads the tables). */
interface RecentBlock {
  head: StoredHead;
  block: RpcBlock;
  transactions: RpcTransaction[];
  /** What receipt() answers for each transaction: this participant's private receipt, else the public one. */
  receipts: RpcReceipt[];
}

/**
 * The last stored blocks, by number, hash and transaction hash. Only blocks whose store committed are offered
 * (stored blocks are final), so an answer from here is the one the tables would give. Bounded by blocks and by
 * transactions; the oldest go first. A miss says nothing: the caller asks the tables.
 */
export class RecentStoredBlocks {
  private readonly byNumber = new Map<bigint, RecentBlock>(); // insertion order: the oldest first
  private readonly byHash = new Map<string, RecentBlock>();
  private readonly byTx = new Map<string, { at: RecentBlock; index: number }>();
  private txCount = 0;

  constructor(private readonly limits: { maxBlocks: number; maxTransactions: number } = { maxBlocks: 256, maxTransactions: 20_000 }) {}

  remember(blocks: readonly ExecutedBlock[]): void {
    for (const b of blocks) {
      if (this.byNumber.has(b.number)) continue;
      const privateReceipts = new Map(b.privateReceipts.map((r) => [r.transactionHash.toLowerCase(), r]));
      const entry: RecentBlock = {
        head: { number: b.number, hash: b.hash, stateRoot: b.stateRoot, privateStateRoot: b.privateStateRoot, timestamp: b.timestamp },
        block: b.block,
        transactions: b.transactions,
        receipts: b.transactions.map((t, i) => privateReceipts.get(t.hash.toLowerCase()) ?? b.receipts[i]),
      };
      this.byNumber.set(b.number, entry);
      this.byHash.set(b.hash.toLowerCase(), entry);
      entry.transactions.forEach((t, index) => this.byTx.set(t.hash.toLowerCase(), { at: entry, index }));
      this.txCount += entry.transactions.length;
    }
    for (const [n, oldest] of this.byNumber) {
      if (this.byNumber.size <= this.limits.maxBlocks && this.txCount <= this.limits.maxTransactions) break;
      this.byNumber.delete(n);
      this.byHash.delete(oldest.head.hash.toLowerCase());
      for (const t of oldest.transactions) if (this.byTx.get(t.hash.toLowerCase())?.at === oldest) this.byTx.delete(t.hash.toLowerCase());
      this.txCount -= oldest.transactions.length;
    }
  }

  byNumberOf(n: bigint): RecentBlock | undefined {
    return this.byNumber.get(n);
  }

  byHashOf(hash: string): RecentBlock | undefined {
    return this.byHash.get(hash.toLowerCase());
  }

  transaction(hash: string): { tx: RpcTransaction; receipt: RpcReceipt } | undefined {
    const hit = this.byTx.get(hash.toLowerCase());
    return hit && { tx: hit.at.transactions[hit.index], receipt: hit.at.receipts[hit.index] };
  }
}

const withFull = (r: RecentBlock, full: boolean): RpcBlock => (full && r.transactions.length > 0 ? { ...r.block, transactions: r.transactions } : r.block);

export class BlockQueries {
  /** The last stored blocks; the executor offers each batch once its store committed (see RecentStoredBlocks). */
  readonly recent = new RecentStoredBlocks();

  constructor(private readonly sql: Sql) {}

  async head(): Promise<StoredHead | null> {
    const [r] = await this.sql`select number, hash, state_root, private_state_root, timestamp from ledger_blocks order by number desc limit 1`;
    return r ? headOf(r) : null;
  }

  async header(number: bigint): Promise<StoredHead | null> {
    const hit = this.recent.byNumberOf(number);
    if (hit) return hit.head;
    const [r] = await this.sql`select number, hash, state_root, private_state_root, timestamp from ledger_blocks where number = ${number.toString()}`;
    return r ? headOf(r) : null;
  }

  /** Every private contract this participant holds, with the block that created it (loaded at start). */
  async privateContracts(): Promise<(PrivateContract & { block: bigint })[]> {
    const rows = await this.sql`select address, creation_tx, privacy_flag, parties, block_number from ledger_private_contracts`;
    return rows.map((r) => ({
      address: r.address as string,
      creationTxHash: r.creation_tx as string,
      privacyFlag: Number(r.privacy_flag) as PrivateContract['privacyFlag'],
      parties: r.parties as string[],
      block: BigInt(r.block_number),
    }));
  }

  async hashOf(number: bigint): Promise<string | null> {
    const hit = this.recent.byNumberOf(number);
    if (hit) return hit.head.hash;
    const [r] = await this.sql`select hash from ledger_blocks where number = ${number.toString()}`;
    return r ? (r.hash as string) : null;
  }

  private async withTransactions(block: RpcBlock, full: boolean): Promise<RpcBlock> {
    if (!full || block.transactions.length === 0) return block;
    const rows = await this.sql`select tx from ledger_transactions where block_number = ${BigInt(block.number).toString()} order by tx_index`;
    return { ...block, transactions: rows.map((r) => r.tx as RpcTransaction) };
  }

  async blockByNumber(number: bigint, full: boolean): Promise<RpcBlock | null> {
    const hit = this.recent.byNumberOf(number);
    if (hit) return withFull(hit, full);
    const [r] = await this.sql`select block from ledger_blocks where number = ${number.toString()}`;
    return r ? this.withTransactions(r.block as RpcBlock, full) : null;
  }

  async blockByHash(hash: string, full: boolean): Promise<RpcBlock | null> {
    const hit = this.recent.byHashOf(hash);
    if (hit) return withFull(hit, full);
    const [r] = await this.sql`select block from ledger_blocks where hash = ${hash.toLowerCase()}`;
    return r ? this.withTransactions(r.block as RpcBlock, full) : null;
  }

  async blockNumberOfHash(hash: string): Promise<bigint | null> {
    const hit = this.recent.byHashOf(hash);
    if (hit) return hit.head.number;
    const [r] = await this.sql`select number from ledger_blocks where hash = ${hash.toLowerCase()}`;
    return r ? BigInt(r.number) : null;
  }

  async transaction(hash: string): Promise<RpcTransaction | null> {
    const hit = this.recent.transaction(hash);
    if (hit) return hit.tx;
    const [r] = await this.sql`select tx from ledger_transactions where hash = ${hash.toLowerCase()}`;
    return r ? (r.tx as RpcTransaction) : null;
  }

  /** A party to a private transaction sees its private receipt; everyone else the public one. */
  async receipt(hash: string): Promise<RpcReceipt | null> {
    const hit = this.recent.transaction(hash);
    if (hit) return hit.receipt;
    const h = hash.toLowerCase();
    const [p] = await this.sql`select receipt from ledger_private_receipts where hash = ${h}`;
    if (p) return p.receipt as RpcReceipt;
    const [r] = await this.sql`select receipt from ledger_transactions where hash = ${h}`;
    return r ? (r.receipt as RpcReceipt) : null;
  }

  /** Logs in [from, to] matching the filter's addresses and positional topics. */
  async logs(from: bigint, to: bigint, filter: LogFilter, limit: number): Promise<RpcLog[]> {
    const sql = this.sql;
    const addresses = filter.address === undefined ? [] : (Array.isArray(filter.address) ? filter.address : [filter.address]).map((a) => a.toLowerCase());
    const topicConds = (filter.topics ?? []).slice(0, 4).map((t, i) => {
      if (t === null) return sql``;
      const options = (Array.isArray(t) ? t : [t]).map((x) => x.toLowerCase());
      const column = sql(`topic${i}`);
      return sql`and ${column} in ${sql(options)}`;
    });
    // Public logs and this participant's private logs (their indexes never collide within a block).
    const select = (table: string) => sql`select block_number, log_index, log from ${sql(table)}
      where block_number between ${from.toString()} and ${to.toString()}
      ${addresses.length ? sql`and address in ${sql(addresses)}` : sql``}
      ${topicConds.reduce((acc, c) => sql`${acc} ${c}`, sql``)}`;
    const rows = await sql`${select('ledger_logs')} union all ${select('ledger_private_logs')}
      order by block_number, log_index limit ${limit + 1}`;
    return rows.map((r) => r.log as RpcLog);
  }
}
