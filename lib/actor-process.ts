/**
 * What every actor process does the same way: read its environment, load the network description and
 * its participant's secrets, connect to NATS as its own NKEY user, open its participant's database,
 * start tracing, and stop cleanly on SIGTERM/SIGINT. The actor itself only supplies `start`.
 */
import postgres, { type Sql } from 'postgres';
import { createBus, type Bus } from './bus.js';
import { EventStore } from './event-store/event-store.js';
import { isDatabaseUnavailable } from './event-store/postgres-errors.js';
import { createLogger, type Logger } from './logger.js';
import { connectActor } from './nats/connect.js';
import { loadNetwork, loadSecrets } from './network/load.js';
import type { ActorName, NetworkDescription, ParticipantSecrets } from './network/description.js';
import type { Scope } from './subjects.js';
import { shutdownTracing, startTracing } from './tracing.js';
import { startCpuProfile } from './cpu-profile.js';

export interface BaseRuntime {
  network: NetworkDescription;
  secrets: ParticipantSecrets;
  participant: string;
  scope: Scope;
  bus: Bus;
  log: Logger;
}

/** Actors that keep state get their participant's database and their own event-store chain. */
export interface ActorRuntime extends BaseRuntime {
  sql: Sql;
  store: EventStore;
}

export interface RunningActor {
  stop(): Promise<void>;
}

/**
 * The client's pool. postgres.js waits before reconnecting after a failed connect, by default up to 20 s
 * (3^n / 100 s, shared by the pool): after an outage of a few seconds every actor would stay away for tens of
 * seconds after the database is back. At most half a second between attempts instead; a connect that hangs (a
 * host that drops packets) gives up after 10 s rather than 30.
 */
const DATABASE_OPTIONS = {
  max: 8,
  onnotice: () => {},
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
  connect_timeout: 10,
} as const;

/** How often a starting actor asks again for a database that is away (restarting, recovering). */
const DATABASE_RETRY_MS = 250;

/**
 * Open the actor's event store, waiting for a database that is away rather than exiting: an actor that exits
 * is restarted by the supervisor with a growing backoff (up to seconds), so it would come back late; one that
 * waits here is back within DATABASE_RETRY_MS of the database. Any other failure (bad URL, bad credentials,
 * a failed migration) is thrown as before.
 */
async function openStore(sql: Sql, actor: ActorName, log: Logger): Promise<EventStore> {
  const since = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const store = await EventStore.open(sql, actor);
      if (attempt > 0) log.info('database reachable', { waitedMs: Date.now() - since });
      return store;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      if (attempt % 40 === 0) log.warn('database unavailable; waiting for it', { waitedMs: Date.now() - since }, err);
      await new Promise((r) => setTimeout(r, DATABASE_RETRY_MS));
    }
  }
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is required`);
  return v;
}

export function runActor(actor: ActorName, start: (rt: ActorRuntime) => Promise<RunningActor>): Promise<void> {
  return run(actor, true, (rt) => start(rt as ActorRuntime));
}

/** For an actor with no tables of its own (the gateway): no database connection. */
export function runStatelessActor(actor: ActorName, start: (rt: BaseRuntime) => Promise<RunningActor>): Promise<void> {
  return run(actor, false, start);
}

async function run(actor: ActorName, withDatabase: boolean, start: (rt: BaseRuntime | ActorRuntime) => Promise<RunningActor>): Promise<void> {
  const participant = required('QUORUM_PARTICIPANT');
  const log = createLogger({ actor, participant });
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', {}, err);
    process.exit(1);
  });
  process.on('unhandledRejection', (err, promise) => {
    // A postgres.js query is the promise and carries its SQL: name it, or an error shared by pipelined queries
    // (or a connect that failed before the query was sent) points nowhere.
    const { string, strings } = (promise ?? {}) as { string?: unknown; strings?: unknown };
    const query = typeof string === 'string' ? string : Array.isArray(strings) ? strings.join('$') : undefined;
    const where = query === undefined ? { promise: String(promise?.constructor?.name) } : { query: query.slice(0, 300) };
    if (isDatabaseUnavailable(err)) {
      // postgres.js drops the promise of the array-type query it runs first on every new connection
      // (connection.js fetchArrayTypes; porsager/postgres#1192, #1223): a database that goes away at that moment
      // surfaces here, out of reach of any caller. Nothing waits on that promise and nothing was written, so the
      // actor goes on (its own queries fail, as Unavailable, and are retried); exiting would only take it away too.
      log.warn('database connection lost outside any request', where, err);
      return;
    }
    log.error('unhandled rejection', where, err);
    process.exit(1);
  });
  try {
    await startTracing({ participant, actor });
    const stopProfile = await startCpuProfile(`${participant}-${actor}`);
    const network = await loadNetwork(required('QUORUM_NETWORK'));
    const secrets = await loadSecrets(required('QUORUM_SECRETS'), network);
    if (secrets.participant !== participant) throw new Error(`secrets file belongs to ${secrets.participant}, not ${participant}`);
    const scope: Scope = { net: network.name, participant };
    const sql = withDatabase ? postgres(required('QUORUM_PG_URL'), DATABASE_OPTIONS) : null;
    const store = sql ? await openStore(sql, actor, log) : null;
    const connection = await connectActor({ url: required('QUORUM_NATS_URL'), network, secrets, actor });
    const bus = createBus(connection, scope, actor, log);
    const base: BaseRuntime = { network, secrets, participant, scope, bus, log };
    const running = await start(sql && store ? { ...base, sql, store } : base);
    log.info('ready', {});
    let stopping = false;
    const shutdown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      const force = setTimeout(() => process.exit(1), 8000);
      force.unref();
      try {
        await running.stop();
        await bus.close();
        await sql?.end({ timeout: 2 });
        await stopProfile?.();
        await shutdownTracing(); // the last spans (this stop's included) reach the collector
      } catch (err) {
        log.error('unclean stop', {}, err);
      }
      process.exit(0);
    };
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
    process.on('SIGINT', () => void shutdown('SIGINT'));
  } catch (err) {
    log.error('failed to start', {}, err);
    process.exit(1);
  }
}
