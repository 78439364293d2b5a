/**
 * Versioned migrations per owner (the event store itself, and each actor's own tables). Each owner's
 * migrations run in order, once, under an advisory lock so actors starting together do not race.
 */
import type { Sql } from 'postgres';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

const MIGRATION_LOCK = 7_310_001;

export async function migrate(sql: Sql, owner: string, migrations: readonly Migration[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`create table if not exists schema_migrations (
      owner text not null, version int not null, description text not null,
      applied_at timestamptz not null default now(), primary key (owner, version))`;
    const done = new Set((await tx`select version from schema_migrations where owner = ${owner}`).map((r) => Number(r.version)));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`insert into schema_migrations (owner, version, description) values (${owner}, ${m.version}, ${m.description})`;
    }
  });
}
