/**
 * A small network of transaction managers for the tm's integration tests: a real nats-server with the
 * generated permissions, one fresh Postgres database per participant, and, in-process, each participant's
 * enclave and tm as their own NATS users. Tms can be stopped, restarted and have their store wiped, as a
 * participant's operator would. Everything it starts, `close()` stops and removes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { createBus, type Bus } from '../../lib/bus.js';
import { EventStore } from '../../lib/event-store/event-store.js';
import { createLogger, type Logger, type LogLevel } from '../../lib/logger.js';
import { connectActor } from '../../lib/nats/connect.js';
import { startNatsServer, type NatsServer } from '../../cli/nats/server.js';
import type { ActorName } from '../../lib/network/description.js';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import { createDatabase, databaseUrl, dropDatabase } from '../../cli/postgres-admin.js';
import { freePorts } from '../../cli/ports.js';
import type { Scope } from '../../lib/subjects.js';
import { createEnclaveClient } from '../../actors/enclave/enclave-client.js';
import { startEnclave, type RunningEnclave } from '../../actors/enclave/shell.js';
import { startTm, type Tm, type TmOptions } from '../../actors/tm/shell.js';

export interface TmNode {
  id: string;
  /** The participant's privacy public key (base64). */
  key: string;
  scope: Scope;
  dbName: string;
  sql: Sql;
  store: EventStore;
  httpPort: number;
  tm: Tm | null;
  /** The bus the running tm uses (closed when the tm stops: that is how a tm goes down). */
  tmBus: Bus | null;
}

export type TmStartOptions = Partial<Pick<TmOptions, 'recover' | 'pushTimeoutMs' | 'resendTimeoutMs' | 'recoveryBackoff'>>;

export interface TmHarness {
  gen: GeneratedNetwork;
  net: string;
  nodes: Record<string, TmNode>;
  /** A bus connected as `actor` of `participant` (e.g. its gateway, to call its tm). */
  busAs(participant: string, actor: ActorName): Promise<Bus>;
  startTm(id: string, opts?: TmStartOptions): Promise<Tm>;
  stopTm(id: string): Promise<void>;
  /** A lost store: the participant's database is dropped and made again, empty. */
  wipeStore(id: string): Promise<void>;
  close(): Promise<void>;
}

const level = (process.env.QUORUM_LOG_LEVEL as LogLevel | undefined) ?? 'error';
const quiet = (participant: string, actor: string): Logger => createLogger({ participant, actor }, level);
/** Fast retries so recovery tests do not wait long for a peer that comes back. */
const TEST_BACKOFF = { baseMs: 50, maxMs: 300 };

export async function startTmHarness(opts: { participants: number; name?: string }): Promise<TmHarness> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-tm-'));
  const gen = generateNetwork({ participants: opts.participants, name: opts.name ?? 'tmnet' });
  const net = gen.network.name;
  await writeNetwork(dir, gen);
  const prefix = `quorum_test_tm_${randomBytes(4).toString('hex')}`;
  const buses: Bus[] = [];
  const enclaves: RunningEnclave[] = [];
  const nodes: Record<string, TmNode> = {};
  let server: NatsServer | undefined;

  const busAs = async (participant: string, actor: ActorName): Promise<Bus> => {
    if (!server) throw new Error('nats-server is not running');
    const nc = await connectActor({ url: server.url, network: gen.network, secrets: gen.secrets[participant], actor, options: { maxReconnectAttempts: 0 } });
    const bus = createBus(nc, { net, participant }, actor, quiet(participant, actor));
    buses.push(bus);
    return bus;
  };

  const openStore = async (dbName: string) => {
    await createDatabase(dbName);
    const sql = postgres(databaseUrl(dbName), { max: 4, onnotice: () => {} });
    return { sql, store: await EventStore.open(sql, 'tm') };
  };

  const h: TmHarness = {
    gen,
    net,
    nodes,
    busAs,
    async startTm(id, o = {}) {
      const node = nodes[id];
      if (node.tm) throw new Error(`tm of ${id} is already running`);
      const bus = await busAs(id, 'tm');
      node.tmBus = bus;
      node.tm = await startTm({
        network: gen.network,
        participant: id,
        bus,
        sql: node.sql,
        store: node.store,
        log: quiet(id, 'tm'),
        enclave: createEnclaveClient(bus),
        httpPort: node.httpPort,
        recoveryBackoff: TEST_BACKOFF,
        ...o,
      });
      return node.tm;
    },
    async stopTm(id) {
      const node = nodes[id];
      await node.tm?.stop();
      await node.tmBus?.close();
      node.tm = null;
      node.tmBus = null;
    },
    async wipeStore(id) {
      const node = nodes[id];
      if (node.tm) throw new Error(`stop the tm of ${id} before wiping its store`);
      await node.sql.end({ timeout: 2 });
      await dropDatabase(node.dbName);
      Object.assign(node, await openStore(node.dbName));
    },
    async close() {
      await Promise.allSettled(Object.keys(nodes).map((id) => h.stopTm(id)));
      await Promise.allSettled(enclaves.map((e) => e.stop()));
      await Promise.allSettled(buses.map((b) => b.close()));
      await Promise.allSettled(Object.values(nodes).map((n) => n.sql.end({ timeout: 2 })));
      await Promise.allSettled(Object.values(nodes).map((n) => dropDatabase(n.dbName)));
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    server = await startNatsServer({ network: gen.network, dir });
    const ports = await freePorts(gen.network.participants.length);
    for (const [i, p] of gen.network.participants.entries()) {
      const dbName = `${prefix}_${p.id}`;
      nodes[p.id] = { id: p.id, key: p.privacyPublicKey, scope: { net, participant: p.id }, dbName, httpPort: ports[i], tm: null, tmBus: null, ...(await openStore(dbName)) };
      enclaves.push(await startEnclave({ bus: await busAs(p.id, 'enclave'), secrets: gen.secrets[p.id], log: quiet(p.id, 'enclave') }));
    }
    for (const p of gen.network.participants) await h.startTm(p.id);
    await Promise.all(Object.values(nodes).map((n) => n.tm!.recovered));
  } catch (err) {
    await h.close();
    throw err;
  }
  return h;
}
