import type { Migration } from './migrations.js';

export const eventStoreMigrations: readonly Migration[] = [
  {
    version: 1,
    description: 'events: append-only streams, one hash chain per writing actor, an outbox flag',
    sql: `
      create table events (
        global_position bigserial primary key,
        chain text not null,
        chain_position bigint not null,
        stream text not null,
        stream_position int not null,
        type text not null,
        schema_version int not null,
        payload jsonb not null,
        trace_context text,
        causation_id text,
        correlation_id text,
        recorded_at timestamptz not null,
        prev_hash bytea not null,
        hash bytea not null,
        publish_subject text,
        published boolean not null default true,
        unique (stream, stream_position),
        unique (chain, chain_position)
      );
      create index events_unpublished on events (global_position) where not published;
      create index events_type on events (type);
      -- The record is append-only: refuse updates of anything but the outbox flag, and deletes.
      create function events_append_only() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then raise exception 'events are append-only'; end if;
        if (new.global_position, new.chain, new.chain_position, new.stream, new.stream_position, new.type, new.schema_version, new.payload, new.hash, new.prev_hash)
           is distinct from (old.global_position, old.chain, old.chain_position, old.stream, old.stream_position, old.type, old.schema_version, old.payload, old.hash, old.prev_hash)
        then raise exception 'events are append-only'; end if;
        return new;
      end $$;
      create trigger events_append_only before update or delete on events
        for each row execute function events_append_only();
    `,
  },
];
