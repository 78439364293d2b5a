/**
 * Administration of the per-participant databases (one database per participant, never shared).
 *
 * The admin connection URL is, in order:
 *   1. $QUORUM_PG_URL;
 *   2. the first line of <repo>/.run/pg-url, written by scripts/ensure-deps.sh when it had to create
 *      a password role because the default did not work (fresh Debian/Ubuntu install);
 *   3. postgres://postgres@127.0.0.1:5432/postgres.
 * Database URLs for participants are the admin URL with the database name swapped, so host, port,
 * credentials and query options (e.g. ?host=/var/run/postgresql) carry over.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** <repo>/.run/pg-url (this file compiles to <repo>/dist/cli/postgres-admin.js). */
const PG_URL_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.run', 'pg-url');

function adminUrl(): string {
  const env = process.env.QUORUM_PG_URL?.trim();
  if (env) return env;
  try {
    const line = readFileSync(PG_URL_FILE, 'utf8').split('\n')[0].trim();
    if (line) return line;
  } catch {
    /* no file: default */
  }
  return DEFAULT_ADMIN_URL;
}

const DB_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function assertDatabaseName(name: string): void {
  if (!DB_NAME.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}: use lowercase letters, digits and _ (max 63)`);
}

/** quorum_<runid>_<participant>, e.g. quorum_3fa9c2_p1. */
export function databaseName(prefix: string, participant: string): string {
  const name = `${prefix}_${participant}`;
  assertDatabaseName(name);
  return name;
}

const URL_RE = /^(postgres(?:ql)?:\/\/[^/?#]*)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/;

/** The admin URL (or `base`) with its database replaced by `name`. */
export function databaseUrl(name: string, base: string = adminUrl()): string {
  assertDatabaseName(name);
  const m = URL_RE.exec(base);
  if (!m) throw new Error(`cannot parse Postgres URL ${redact(base)} (expected postgres://user[:password]@host[:port]/db[?options])`);
  return `${m[1]}/${name}${m[3] ?? ''}`;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@/]*@/, '$1:***@');
}

async function withAdmin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const url = adminUrl();
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10, idle_timeout: 1 });
  try {
    return await fn(sql);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ECONNREFUSED' || e.code === '28P01' || e.code === '28000' || /password|connect/i.test(e.message)) {
      throw new Error(
        `cannot use the Postgres admin connection ${redact(url)}: ${e.message}. ` +
          'Run scripts/ensure-deps.sh (installs/starts PostgreSQL and makes it reachable) or set QUORUM_PG_URL.',
        { cause: err },
      );
    }
    throw err;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function databaseExists(name: string): Promise<boolean> {
  assertDatabaseName(name);
  return withAdmin(async (sql) => (await sql`select 1 from pg_database where datname = ${name}`).length > 0);
}

/** Creates the database if it does not exist. Returns true if it was created now. */
export async function createDatabase(name: string): Promise<boolean> {
  assertDatabaseName(name);
  return withAdmin(async (sql) => {
    if ((await sql`select 1 from pg_database where datname = ${name}`).length > 0) return false;
    try {
      await sql.unsafe(`create database "${name}"`);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === '42P04') return false; // created concurrently
      throw err;
    }
  });
}

/** Drops the database if it exists, terminating its connections first. */
export async function dropDatabase(name: string): Promise<void> {
  assertDatabaseName(name);
  await withAdmin(async (sql) => {
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
    try {
      await sql.unsafe(`drop database if exists "${name}" with (force)`); // PostgreSQL 13+
    } catch (err) {
      if ((err as { code?: string }).code !== '42601') throw err; // syntax error: older server
      await sql.unsafe(`drop database if exists "${name}"`);
    }
  });
}

/** Names of the databases starting with `prefix` (e.g. to clean up after crashed test runs). */
export async function listDatabases(prefix: string): Promise<string[]> {
  return withAdmin(async (sql) => {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where starts_with(datname, ${prefix}) order by datname`;
    return rows.map((r) => r.datname);
  });
}
