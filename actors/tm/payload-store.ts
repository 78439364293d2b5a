/**
 * The tm's storage: encrypted payloads keyed by their hash, raw payloads from /storeraw, and the marker that
 * this store completed recovery, in the participant's own database; each change is written with its event
 * (chain 'tm', stream tm-payloads) in one transaction. Only what the enclave made is stored: ciphertext,
 * boxed master keys, public keys. Never plaintext.
 */
import type { Sql, TransactionSql } from 'postgres';
import type { EventStore, NewEvent } from '../../lib/event-store/event-store.js';
import { migrate, type Migration } from '../../lib/event-store/migrations.js';
import { parseWith } from '../../lib/bus.js';
import { TM_STREAM } from './events.js';
import { fromRowKey, rowKey } from './hash.js';
import { EncodedPayload } from './messages.js';
import { RawPayload } from '../enclave/messages.js';

const tmMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'tm: encrypted payloads by SHA3-512 of the ciphertext, raw payloads, the recovery marker',
    sql: `
      create table tm_payloads (
        hash text primary key check (hash ~ '^[0-9a-f]{128}$'),
        payload jsonb not null,
        origin text not null,
        stored_at timestamptz not null default now()
      );
      -- resend looks payloads up by a key they name
      create index tm_payloads_recipients on tm_payloads using gin ((payload->'recipientKeys'));
      create table tm_raw_payloads (
        hash text primary key check (hash ~ '^[0-9a-f]{128}$'),
        payload jsonb not null,
        stored_at timestamptz not null default now()
      );
      create table tm_recovery (
        only_row boolean primary key default true check (only_row),
        completed_at timestamptz not null default now()
      );
    `,
  },
];

export interface HeldPayload {
  hashHex: string;
  encoded: EncodedPayload;
}

export class PayloadStore {
  private constructor(
    private readonly sql: Sql,
    private readonly store: EventStore,
  ) {}

  static async open(sql: Sql, store: EventStore): Promise<PayloadStore> {
    await migrate(sql, 'tm', tmMigrations);
    return new PayloadStore(sql, store);
  }

  /**
   * Store an encoded payload with its events, once: a payload already held (a push retried, a resend of what
   * we have) writes nothing and returns false. `events` are written only when the payload is new, unless
   * `always` says they describe this attempt (a send's PayloadPushed) rather than the storing.
   */
  async put(hashHex: string, encoded: EncodedPayload, origin: string, events: NewEvent[], always: NewEvent[] = []): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      const rows = await tx`insert into tm_payloads (hash, payload, origin) values (${rowKey(hashHex)}, ${tx.json(encoded as never)}, ${origin})
        on conflict (hash) do nothing returning hash`;
      const fresh = rows.length > 0;
      await this.append(tx, [...(fresh ? events : []), ...always]);
      return fresh;
    });
  }

  async get(hashHex: string): Promise<EncodedPayload | null> {
    return (await this.getMany([hashHex])).get(fromRowKey(rowKey(hashHex))) ?? null;
  }

  /** Held payloads among `hashes`, keyed by lowercase 0x-hex. */
  async getMany(hashes: readonly string[]): Promise<Map<string, EncodedPayload>> {
    const keys = [...new Set(hashes.map(rowKey))];
    const out = new Map<string, EncodedPayload>();
    if (keys.length === 0) return out;
    const rows = await this.sql`select hash, payload from tm_payloads where hash in ${this.sql(keys)}`;
    for (const r of rows) out.set(fromRowKey(r.hash as string), parseWith(EncodedPayload, r.payload, `stored payload ${r.hash as string}`));
    return out;
  }

  /** Every held payload that names `key` as sender or recipient (what a resend for `key` may push). */
  async naming(key: string): Promise<HeldPayload[]> {
    const rows = await this.sql`select hash, payload from tm_payloads
      where payload->'recipientKeys' @> ${this.sql.json([key])} or payload->>'senderKey' = ${key} order by stored_at, hash`;
    return rows.map((r) => ({ hashHex: fromRowKey(r.hash as string), encoded: parseWith(EncodedPayload, r.payload, `stored payload ${r.hash as string}`) }));
  }

  async putRaw(hashHex: string, raw: RawPayload, events: NewEvent[]): Promise<void> {
    await this.store.transaction(async (tx) => {
      const rows = await tx`insert into tm_raw_payloads (hash, payload) values (${rowKey(hashHex)}, ${tx.json(raw as never)})
        on conflict (hash) do nothing returning hash`;
      if (rows.length > 0) await this.append(tx, events);
    });
  }

  async getRaw(hashHex: string): Promise<RawPayload | null> {
    const [r] = await this.sql`select payload from tm_raw_payloads where hash = ${rowKey(hashHex)}`;
    return r ? parseWith(RawPayload, r.payload, `stored raw payload ${hashHex}`) : null;
  }

  async recoveryCompleted(): Promise<boolean> {
    return (await this.sql`select 1 from tm_recovery`).length > 0;
  }

  async markRecovered(events: NewEvent[]): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx`insert into tm_recovery (only_row) values (true) on conflict (only_row) do update set completed_at = now()`;
      await this.append(tx, events);
    });
  }

  /** Events that go with no row of ours (acknowledgements, resend requests). */
  async record(events: NewEvent[]): Promise<void> {
    await this.store.append(TM_STREAM, 'any', events);
  }

  private async append(tx: TransactionSql, events: NewEvent[]): Promise<void> {
    if (events.length) await this.store.append(TM_STREAM, 'any', events, tx);
  }
}
