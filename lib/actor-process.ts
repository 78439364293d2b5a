/**
 * What every actor process does the same way: read its environment, load the network description and
 * its participant's secrets, connect to NATS as its own NKEY user, open its participant's database,
 * start tracing, and stop cleanly on SIGTERM/SIGINT. The actor itself only supplies `start`.
 */
import postgres, { type Sql } from 'postgres';
import { createBus, type Bus } from './bus.js';
import { EventStore } from './event-store/event-store.js';
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
  process.on('unhandledRejection', (err) => {
    log.error('unhandled rejection', {}, err);
    process.exit(1);
  });
  try {
    await startTracing({ participant, actor });
    const stopProfile = await startCpuProfile(`${participant}-${actor}`);
    const network = await loadNetwork(required('QUORUM_NETWORK'));
    const secrets = await loadSecrets(required('QUORUM_SECRETS'), network);
    if (secrets.participant !== participant) throw new Error(`secrets file belongs to ${secrets.participant}, not ${participant}`);
    const scope: Scope = { net: network.name, participant };
    const sql = withDatabase ? postgres(required('QUORUM_PG_URL'), { max: 8, onnotice: () => {} }) : null;
    const store = sql ? await EventStore.open(sql, actor) : null;
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
