/**
 * The participant's record: append-only event streams in its own Postgres database.
 *
 * - Appends check the expected stream position atomically (optimistic concurrency per stream).
 * - Every event carries prev_hash/hash: hash = sha256(prev_hash || canonical fields). There is one chain per
 *   writing actor (its `chain`, with a gapless chain_position), so any later edit, insertion or removal of a
 *   row is detectable (verifyChain) while the actors of one participant never wait on each other's appends.
 *   global_position (a sequence) orders the whole log for readers.
 * - Outbox: an event appended with a publish subject is published only after its transaction commits, and
 *   marked published afterwards; `unpublished()` gives what a crash left unpublished, to publish again.
 */
import { createHash } from 'node:crypto';
import type { PendingQuery, Row as PgRow, Sql, TransactionSql } from 'postgres';
import type { ZodType } from 'zod';
import { CodedError, ErrorCode } from '../errors.js';
import { parseWith } from '../bus.js';
import { currentTraceparent } from '../tracing.js';
import { canonicalJson } from './canonical-json.js';
import { migrate } from './migrations.js';
import { eventStoreMigrations } from './schema.js';

export interface NewEvent {
  type: string;
  schemaVersion?: number;
  payload: unknown;
  causationId?: string;
  correlationId?: string;
  /** When set, the event is also a message: published on this subject after the append commits. */
  publishSubject?: string;
}

export interface StoredEvent {
  globalPosition: number;
  chain: string;
  chainPosition: number;
  stream: string;
  streamPosition: number;
  type: string;
  schemaVersion: number;
  payload: unknown;
  traceContext: string | null;
  causationId: string | null;
  correlationId: string | null;
  recordedAt: Date;
  prevHash: Uint8Array;
  hash: Uint8Array;
  publishSubject: string | null;
}

export type ExpectedPosition = number | 'any' | 'none';

export const GENESIS_HASH = new Uint8Array(32);

/** The fields an event's hash covers, as plain JSON (the audit export writes the same fields, in this order). */
export function hashedFields(e: Omit<StoredEvent, 'hash' | 'prevHash' | 'publishSubject' | 'globalPosition'>) {
  return {
    chain: e.chain,
    chainPosition: e.chainPosition,
    stream: e.stream,
    streamPosition: e.streamPosition,
    type: e.type,
    schemaVersion: e.schemaVersion,
    payload: e.payload,
    traceContext: e.traceContext,
    causationId: e.causationId,
    correlationId: e.correlationId,
    recordedAt: e.recordedAt.toISOString(),
  };
}

export function eventHash(prevHash: Uint8Array, e: Omit<StoredEvent, 'hash' | 'prevHash' | 'publishSubject' | 'globalPosition'>): Uint8Array {
  return new Uint8Array(createHash('sha256').update(prevHash).update(canonicalJson(hashedFields(e))).digest());
}

type Row = Record<string, unknown>;

/** A row of the events table as a StoredEvent (the audit export reads rows with the same mapping). */
export function storedEventFromRow(r: Record<string, unknown>): StoredEvent {
  return {
    globalPosition: Number(r.global_position),
    chain: r.chain as string,
    chainPosition: Number(r.chain_position),
    stream: r.stream as string,
    streamPosition: Number(r.stream_position),
    type: r.type as string,
    schemaVersion: Number(r.schema_version),
    payload: r.payload,
    traceContext: (r.trace_context as string | null) ?? null,
    causationId: (r.causation_id as string | null) ?? null,
    correlationId: (r.correlation_id as string | null) ?? null,
    recordedAt: r.recorded_at as Date,
    prevHash: new Uint8Array(r.prev_hash as Buffer),
    hash: new Uint8Array(r.hash as Buffer),
    publishSubject: (r.publish_subject as string | null) ?? null,
  };
}

export interface ChainCheck {
  ok: boolean;
  checked: number;
  /** The first event whose stored hash or link does not match, with what was wrong. */
  firstBad?: { chain: string; chainPosition: number; globalPosition: number; stream: string; reason: string };
}

export class EventStore {
  /**
   * One writer per chain: this process caches the chain head and stream positions, so an append is a single
   * INSERT. The unique (chain, chain_position) and (stream, stream_position) constraints still refuse a second
   * writer; any failed append clears the cache so the next one reads the truth again.
   */
  private head: { position: number; hash: Uint8Array } | null = null;
  private readonly streams = new Map<string, number>();
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly sql: Sql,
    /** The hash chain this store appends to: one per writing actor (e.g. 'consensus'). */
    readonly chain: string,
  ) {}

  static async open(sql: Sql, chain: string): Promise<EventStore> {
    await migrate(sql, 'event-store', eventStoreMigrations);
    return new EventStore(sql, chain);
  }

  /** Appends of this store run one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private invalidate(): void {
    this.head = null;
    this.streams.clear();
  }

  /**
   * Run `fn` in a Postgres transaction in which `append(..., tx)` may be called: the caller's own writes and
   * the events commit together (the executor stores a block and its event atomically).
   */
  transaction<T>(fn: (tx: TransactionSql) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      try {
        return (await this.sql.begin((tx) => fn(tx))) as T;
      } catch (err) {
        this.invalidate();
        throw err;
      }
    });
  }

  /** Append events to one stream; inside `transaction`, pass its `tx`. */
  append(stream: string, expected: ExpectedPosition, events: NewEvent[], tx?: TransactionSql): Promise<StoredEvent[]> {
    if (events.length === 0) return Promise.resolve([]);
    if (tx) return this.insert(tx, stream, expected, events);
    return this.serial(async () => {
      try {
        return await this.insert(this.sql, stream, expected, events);
      } catch (err) {
        this.invalidate();
        throw err;
      }
    });
  }

  /**
   * Append events together with other inserts in ONE statement (data-modifying CTEs): as atomic as a
   * transaction, but one round trip instead of three (BEGIN, the statements, COMMIT). `companions` builds
   * unsent insert queries on the store's sql; keep their parameters well below Postgres's 65,535 per statement.
   */
  appendWith(stream: string, expected: ExpectedPosition, events: NewEvent[], companions: (q: Sql) => PendingQuery<PgRow[]>[]): Promise<StoredEvent[]> {
    return this.serial(async () => {
      try {
        return await this.insert(this.sql, stream, expected, events, companions(this.sql));
      } catch (err) {
        this.invalidate();
        throw err;
      }
    });
  }

  private async insert(
    q: Sql | TransactionSql,
    stream: string,
    expected: ExpectedPosition,
    events: NewEvent[],
    companions: PendingQuery<PgRow[]>[] = [],
  ): Promise<StoredEvent[]> {
    if (!this.head) {
      const [last] = await q`select chain_position, hash from events where chain = ${this.chain} order by chain_position desc limit 1`;
      this.head = last ? { position: Number(last.chain_position), hash: new Uint8Array(last.hash as Buffer) } : { position: 0, hash: GENESIS_HASH };
    }
    let current = this.streams.get(stream);
    if (current === undefined) {
      const [pos] = await q`select coalesce(max(stream_position), 0) as p from events where stream = ${stream}`;
      current = Number(pos.p);
    }
    if (expected === 'none' && current !== 0) throw new CodedError(ErrorCode.Conflict, `stream ${stream} already exists`);
    if (typeof expected === 'number' && current !== expected) {
      throw new CodedError(ErrorCode.Conflict, `stream ${stream} is at ${current}, expected ${expected}`);
    }
    let prevHash = this.head.hash;
    let chainPosition = this.head.position;
    const traceContext = currentTraceparent();
    const recordedAt = new Date();
    const drafts = events.map((e, i) => {
      chainPosition += 1;
      const base = {
        chain: this.chain,
        chainPosition,
        stream,
        streamPosition: current + i + 1,
        type: e.type,
        schemaVersion: e.schemaVersion ?? 1,
        payload: JSON.parse(canonicalJson(e.payload)) as unknown,
        traceContext,
        causationId: e.causationId ?? null,
        correlationId: e.correlationId ?? null,
        recordedAt,
      };
      const hash = eventHash(prevHash, base);
      const d = { ...base, prevHash, hash, publishSubject: e.publishSubject ?? null };
      prevHash = hash;
      return d;
    });
    const rows = drafts.map((d) => ({
      chain: d.chain,
      chain_position: d.chainPosition,
      stream: d.stream,
      stream_position: d.streamPosition,
      type: d.type,
      schema_version: d.schemaVersion,
      payload: q.json(d.payload as never),
      trace_context: d.traceContext,
      causation_id: d.causationId,
      correlation_id: d.correlationId,
      recorded_at: d.recordedAt,
      prev_hash: Buffer.from(d.prevHash),
      hash: Buffer.from(d.hash),
      publish_subject: d.publishSubject,
      published: d.publishSubject === null,
    }));
    let inserted;
    try {
      if (companions.length === 0) inserted = await q`insert into events ${q(rows)} returning global_position`;
      else {
        // Every data-modifying CTE runs whether or not the main statement refers to it.
        const withs = companions.map((c, i) => q`${q(`w${i}`)} as (${c})`).reduce((a, b) => q`${a}, ${b}`);
        inserted = await q`with ${withs} insert into events ${q(rows)} returning global_position`;
      }
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        throw new CodedError(ErrorCode.Conflict, `concurrent append to chain ${this.chain} or stream ${stream}`, undefined, { cause: err });
      }
      throw err;
    }
    this.head = { position: chainPosition, hash: prevHash };
    this.streams.set(stream, current + events.length);
    return drafts.map((d, i): StoredEvent => ({ ...d, globalPosition: Number(inserted[i].global_position) }));
  }

  async streamPosition(stream: string): Promise<number> {
    const [r] = await this.sql`select coalesce(max(stream_position), 0) as p from events where stream = ${stream}`;
    return Number(r.p);
  }

  /** Every event of a stream from a position on, page by page (an actor folds its whole history at start). */
  async *streamEvents(stream: string, fromPosition = 1, pageSize = 5000): AsyncGenerator<StoredEvent> {
    for (let from = fromPosition; ; ) {
      const page = await this.readStream(stream, from, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      from = page[page.length - 1].streamPosition + 1;
    }
  }

  async readStream(stream: string, fromPosition = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where stream = ${stream} and stream_position >= ${fromPosition}
      order by stream_position limit ${limit}`;
    return rows.map(storedEventFromRow);
  }

  /**
   * The last event of a stream, optionally the last of one type and/or before a stream position: where an
   * actor that snapshots its state finds its latest snapshot, to read only what follows it.
   */
  async lastEvent(stream: string, opts: { type?: string; before?: number } = {}): Promise<StoredEvent | undefined> {
    const { type, before } = opts;
    const [row] = await this.sql`select * from events where stream = ${stream}
      ${type === undefined ? this.sql`` : this.sql`and type = ${type}`}
      ${before === undefined ? this.sql`` : this.sql`and stream_position < ${before}`}
      order by stream_position desc limit 1`;
    return row ? storedEventFromRow(row) : undefined;
  }

  async readAll(fromGlobal = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where global_position >= ${fromGlobal} order by global_position limit ${limit}`;
    return rows.map(storedEventFromRow);
  }

  async unpublished(limit = 1000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where not published order by global_position limit ${limit}`;
    return rows.map(storedEventFromRow);
  }

  async markPublished(globalPositions: number[]): Promise<void> {
    if (globalPositions.length === 0) return;
    await this.sql`update events set published = true where global_position in ${this.sql(globalPositions)}`;
  }

  /** The chains present in this database (one per actor that ever appended). */
  async chains(): Promise<string[]> {
    return (await this.sql`select distinct chain from events order by chain`).map((r) => r.chain as string);
  }

  async readChain(chain: string, fromChainPosition = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where chain = ${chain} and chain_position >= ${fromChainPosition}
      order by chain_position limit ${limit}`;
    return rows.map(storedEventFromRow);
  }

  /** Walk one chain (default: this store's); report the first event whose position, link or hash does not match. */
  async verifyChain(chain: string = this.chain, batch = 5000): Promise<ChainCheck> {
    let prev: Uint8Array = GENESIS_HASH;
    let expectedPosition = 1;
    let checked = 0;
    for (;;) {
      const events = await this.readChain(chain, expectedPosition, batch);
      if (events.length === 0) return { ok: true, checked };
      for (const e of events) {
        const bad = (reason: string): ChainCheck => ({ ok: false, checked, firstBad: { chain, chainPosition: e.chainPosition, globalPosition: e.globalPosition, stream: e.stream, reason } });
        if (e.chainPosition !== expectedPosition) return bad(`expected chain position ${expectedPosition}, found ${e.chainPosition} (a row is missing)`);
        if (Buffer.compare(Buffer.from(e.prevHash), Buffer.from(prev)) !== 0) return bad('previous-hash link does not match the event before it');
        const recomputed = eventHash(prev, e);
        if (Buffer.compare(Buffer.from(recomputed), Buffer.from(e.hash)) !== 0) return bad('content does not match its hash (the row was edited)');
        prev = e.hash;
        expectedPosition += 1;
        checked += 1;
      }
    }
  }
}

/** Decode a stored event's payload with its schema: events read back from Postgres are validated too. */
export function decodeEvent<T>(event: StoredEvent, schema: ZodType<T>): T {
  return parseWith(schema, event.payload, `event ${event.type} at ${event.stream}#${event.streamPosition}`);
}
