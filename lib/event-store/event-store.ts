/**
 * The participant's record: append-only event streams in its own Postgres database.
 *
 * - Appends check the expected stream position atomically (optimistic concurrency per stream).
 * - Every event carries prev_hash/hash: hash = sha256(prev_hash || canonical fields), a single chain over the
 *   participant's whole log, so any later edit, insert or removal of a row is detectable (verifyChain).
 * - Outbox: an event appended with a publish subject is published only after its transaction commits, and
 *   marked published afterwards; `unpublished()` gives what a crash left unpublished, to publish again.
 */
import { createHash } from 'node:crypto';
import type { Sql, TransactionSql } from 'postgres';
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

/** One lock for the whole chain: appends from every actor of the participant are serialised here. */
const CHAIN_LOCK = 7_310_002;
export const GENESIS_HASH = new Uint8Array(32);

export function eventHash(prevHash: Uint8Array, e: Omit<StoredEvent, 'hash' | 'prevHash' | 'publishSubject'>): Uint8Array {
  const body = canonicalJson({
    globalPosition: e.globalPosition,
    stream: e.stream,
    streamPosition: e.streamPosition,
    type: e.type,
    schemaVersion: e.schemaVersion,
    payload: e.payload,
    traceContext: e.traceContext,
    causationId: e.causationId,
    correlationId: e.correlationId,
    recordedAt: e.recordedAt.toISOString(),
  });
  return new Uint8Array(createHash('sha256').update(prevHash).update(body).digest());
}

type Row = Record<string, unknown>;

function fromRow(r: Row): StoredEvent {
  return {
    globalPosition: Number(r.global_position),
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
  firstBad?: { globalPosition: number; stream: string; reason: string };
}

export class EventStore {
  private constructor(readonly sql: Sql) {}

  static async open(sql: Sql): Promise<EventStore> {
    await migrate(sql, 'event-store', eventStoreMigrations);
    return new EventStore(sql);
  }

  /**
   * Append events to one stream. Pass `tx` to append inside a transaction the caller also writes its own
   * tables in (the executor stores a block and its event atomically).
   */
  async append(stream: string, expected: ExpectedPosition, events: NewEvent[], tx?: TransactionSql): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const run = async (t: TransactionSql) => {
      await t`select pg_advisory_xact_lock(${CHAIN_LOCK})`;
      const [pos] = await t`select coalesce(max(stream_position), 0) as p from events where stream = ${stream}`;
      const current = Number(pos.p);
      if (expected === 'none' && current !== 0) throw new CodedError(ErrorCode.Conflict, `stream ${stream} already exists`);
      if (typeof expected === 'number' && current !== expected) {
        throw new CodedError(ErrorCode.Conflict, `stream ${stream} is at ${current}, expected ${expected}`);
      }
      const [last] = await t`select global_position, hash from events order by global_position desc limit 1`;
      let prevHash: Uint8Array = last ? new Uint8Array(last.hash as Buffer) : GENESIS_HASH;
      let globalPosition = last ? Number(last.global_position) : 0;
      const traceContext = currentTraceparent();
      const recordedAt = new Date();
      const stored: StoredEvent[] = events.map((e, i) => {
        globalPosition += 1;
        const base = {
          globalPosition,
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
        const s: StoredEvent = { ...base, prevHash, hash, publishSubject: e.publishSubject ?? null };
        prevHash = hash;
        return s;
      });
      const rows = stored.map((s) => ({
        global_position: s.globalPosition,
        stream: s.stream,
        stream_position: s.streamPosition,
        type: s.type,
        schema_version: s.schemaVersion,
        payload: t.json(s.payload as never),
        trace_context: s.traceContext,
        causation_id: s.causationId,
        correlation_id: s.correlationId,
        recorded_at: s.recordedAt,
        prev_hash: Buffer.from(s.prevHash),
        hash: Buffer.from(s.hash),
        publish_subject: s.publishSubject,
        published: s.publishSubject === null,
      }));
      await t`insert into events ${t(rows)}`;
      return stored;
    };
    return tx ? run(tx) : ((await this.sql.begin((t) => run(t))) as StoredEvent[]);
  }

  async streamPosition(stream: string): Promise<number> {
    const [r] = await this.sql`select coalesce(max(stream_position), 0) as p from events where stream = ${stream}`;
    return Number(r.p);
  }

  async readStream(stream: string, fromPosition = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where stream = ${stream} and stream_position >= ${fromPosition}
      order by stream_position limit ${limit}`;
    return rows.map(fromRow);
  }

  /** Streams whose name starts with a prefix, in global order (an actor folds all of its streams at start). */
  async readByStreamPrefix(prefix: string, fromGlobal = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where stream like ${prefix + '%'} and global_position >= ${fromGlobal}
      order by global_position limit ${limit}`;
    return rows.map(fromRow);
  }

  async readAll(fromGlobal = 1, limit = 10_000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where global_position >= ${fromGlobal} order by global_position limit ${limit}`;
    return rows.map(fromRow);
  }

  async unpublished(limit = 1000): Promise<StoredEvent[]> {
    const rows = await this.sql`select * from events where not published order by global_position limit ${limit}`;
    return rows.map(fromRow);
  }

  async markPublished(globalPositions: number[]): Promise<void> {
    if (globalPositions.length === 0) return;
    await this.sql`update events set published = true where global_position in ${this.sql(globalPositions)}`;
  }

  /** Walk the whole chain; report the first event whose link or hash does not match. */
  async verifyChain(batch = 5000): Promise<ChainCheck> {
    let prev: Uint8Array = GENESIS_HASH;
    let expectedPosition = 1;
    let checked = 0;
    for (;;) {
      const events = await this.readAll(expectedPosition, batch);
      if (events.length === 0) return { ok: true, checked };
      for (const e of events) {
        const bad = (reason: string): ChainCheck => ({ ok: false, checked, firstBad: { globalPosition: e.globalPosition, stream: e.stream, reason } });
        if (e.globalPosition !== expectedPosition) return bad(`expected global position ${expectedPosition}, found ${e.globalPosition} (a row is missing)`);
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
