/**
 * The local launcher: runs a whole network on this machine without Docker — the project's own
 * nats-server, one Postgres database per participant, and each actor of each participant as its own
 * OS process under a small supervisor. Tests, benchmarks and `npm run devnet` use it.
 *
 * Re-running on a directory that already holds network.json reuses that network, its keys and its
 * databases: the actors resume from Postgres.
 *
 * While it runs, network.json's participant list governs who runs: the launcher watches the file and, when a
 * participant is permitted (cli/admin permit, or RunningNetwork.permit), creates its database and starts its
 * actors; when one is revoked, it stops that participant's actors. The nats-server follows the same list (its
 * config is regenerated and reloaded in place). <dir>/launcher.json records the nats-server for the admin command.
 *
 * The nats-server is supervised like the actors: killed, it is started again on the same port and config, and the
 * actors' connections come back on their own (lib/nats/connect.ts, lib/bus.ts). With brokers 'per-participant'
 * each participant has its own nats-server, joined to the others' as one cluster (cli/nats/server.ts), so losing a
 * broker is losing one participant; launcher.json then records the first participant's broker (the admin reloads
 * it; the launcher, following network.json, reloads the others).
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, appendFileSync, openSync, closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActorName, NetworkDescription, Participant, ParticipantSecrets } from '../../lib/network/description.js';
import { generateNetworkFiles, networkPaths, type GenerateOptions } from '../network/generate.js';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import { watchNetworkFile } from '../../lib/network/watch.js';
import { applyPermissionList, joinNatsCluster, startNatsCluster, startNatsServer, type ClusterJoin, type NatsServer } from '../nats/server.js';
import { natsServerRecord, readLauncherState, writeLauncherState, type LauncherState } from '../admin/launcher-state.js';
import { permitParticipant, revokeParticipant, type PermitOptions } from '../admin/permissions.js';
import { createDatabase, databaseName, databaseUrl, dropDatabase } from '../postgres-admin.js';
import { freePorts, isPortFree } from '../ports.js';
import { hasExited, killGroup, spawnBound, tailFile, terminate, waitExit } from './child.js';

/** Order in which a participant's actors are started (stores first, the public endpoint last). */
export const ACTOR_START_ORDER: readonly ActorName[] = ['enclave', 'tm', 'state', 'privateState', 'executor', 'consensus', 'gateway'];

/** <repo>/dist (this file compiles to <repo>/dist/cli/launcher/network-runner.js). */
export const DIST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO_DIR = path.dirname(DIST_DIR);

const ENTRY: Record<ActorName, string> = {
  gateway: 'actors/gateway/main.js',
  consensus: 'actors/consensus/main.js',
  executor: 'actors/ledger/executor/main.js',
  state: 'actors/ledger/state/main.js',
  privateState: 'actors/ledger/state/private-main.js',
  tm: 'actors/tm/main.js',
  enclave: 'actors/enclave/main.js',
};

/** Path of an actor's compiled entry point. */
export function actorEntry(actor: ActorName, distDir = DIST_DIR): string {
  return path.join(distDir, ENTRY[actor]);
}

export interface StartOptions {
  /** Network directory. Default: a fresh temp dir (removed by destroy()). Reused if it holds network.json. */
  dir?: string;
  /** Participants when generating. Default 4. */
  participants?: number;
  /** RPC port of participant i is basePort + i. Default: free ports (the devnet CLI uses 22000). */
  basePort?: number;
  /** tm API port of participant i is tmBasePort + i (only when generating with basePort). Default 9081. */
  tmBasePort?: number;
  /** Extra addresses funded in genesis (only when generating; on reuse they must already be funded). */
  fund?: string[];
  /** Consensus algorithm and its parameter overrides (only when generating; see GenerateOptions). */
  consensusType?: GenerateOptions['consensusType'];
  consensus?: GenerateOptions['consensus'];
  /** Database names are <dbPrefix>_<participant>. Default: recorded in <dir>/launcher.json, else quorum_<random>. */
  dbPrefix?: string;
  /** Restart an actor process that exits unexpectedly. Default true. */
  restartCrashed?: boolean;
  /** Extra environment for every actor process. */
  env?: Record<string, string>;
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** NATS port. Default: a free port. (The shared broker only.) */
  natsPort?: number;
  /**
   * 'per-participant' (default): one nats-server per participant, joined as one cluster; each participant's
   * actors connect to their own, so losing a broker is losing one participant, as in a real consortium.
   * 'shared': one nats-server for the network. Default from QUORUM_BROKERS (per-participant unless 'shared').
   */
  brokers?: 'shared' | 'per-participant';
  /** Wait for readiness before resolving. Default true. */
  wait?: boolean;
  /** Stop the network (and exit) on SIGINT/SIGTERM of this process. Default true; the devnet CLI handles them itself. */
  handleSignals?: boolean;
  /** Directory of the compiled project (default: the dist/ this file lives in). */
  distDir?: string;
}

export interface ActorProcessInfo {
  participant: string;
  actor: ActorName;
  pid: number | undefined;
  running: boolean;
  restarts: number;
  logFile: string;
}

export interface RunningNetwork {
  dir: string;
  network: NetworkDescription;
  /** Index i = participant i+1. */
  rpcUrls: string[];
  /** Index i = participant i+1: the tm's Tessera-compatible API. */
  tmUrls: string[];
  /** The (first participant's) nats-server. */
  natsUrl: string;
  /** The nats-server each participant's actors connect to, keyed by participant id. */
  natsUrls: Record<string, string>;
  /** Keyed by participant id. */
  secrets: Record<string, ParticipantSecrets>;
  /** Paths of network.json and the secrets files. */
  networkFile: string;
  secretsFiles: Record<string, string>;
  /** Database URL per participant id. */
  databases: Record<string, string>;
  dbPrefix: string;
  /** Kills one actor process and waits for it to exit (the supervisor restarts it if restartCrashed). */
  kill(participant: string, actor: ActorName, signal?: NodeJS.Signals): Promise<void>;
  /** Stops one actor (SIGTERM) and keeps it stopped: the supervisor does not restart it until startActor. */
  stopActor(participant: string, actor: ActorName): Promise<void>;
  /** Starts an actor stopped by stopActor again, optionally with extra environment. */
  startActor(participant: string, actor: ActorName, env?: Record<string, string>): void;
  /**
   * Kills the nats-server (of `participant`, default the first one's) and waits for it to exit; the launcher starts
   * it again on the same port if restartCrashed.
   */
  killBroker(signal?: NodeJS.Signals, participant?: string): Promise<void>;
  /** A nats-server now (of `participant`, default the first one's): pid, whether it is up, restarts by the launcher. */
  broker(participant?: string): { pid: number; running: boolean; restarts: number };
  /** SIGTERM all actors (SIGKILL after 10 s), then the nats-server. Keeps databases and dir. */
  stop(): Promise<void>;
  /** stop() + drop the databases + remove the dir if it was a temp dir created by startNetwork. */
  destroy(): Promise<void>;
  /**
   * Resolves when every actor of every participant answers (READY): see checkEveryActor. Rejects after
   * `timeoutMs` naming what did not answer last, with the tail of every actor's log.
   */
  waitReady(timeoutMs?: number): Promise<void>;
  /**
   * Resolves when every actor of one participant answers, as in waitReady but without asking its consensus to
   * agree on a leader (a newly permitted participant is not a member of the consensus yet).
   */
  waitParticipantReady(participant: string, timeoutMs?: number): Promise<void>;
  /**
   * Permits a new participant (as `npm run admin -- permit`: keys, secrets file, network.json, nats-server reload)
   * and resolves once its database exists and its actors are started (not yet ready: see waitParticipantReady).
   */
  permit(opts?: Omit<PermitOptions, 'nats'>): Promise<Participant>;
  /**
   * Revokes a participant (as `npm run admin -- revoke`): removed from network.json, its NATS connections closed
   * by the reload; resolves once its actors have stopped. Its database is kept until destroy().
   */
  revoke(participant: string): Promise<void>;
  processes(): ActorProcessInfo[];
  logFile(participant: string, actor: ActorName): string;
}

// ---------------------------------------------------------------------------------------------
// signal handling: one set of handlers for all running networks of this process

const runningNetworks = new Set<{ stop(): Promise<void> }>();
let signalHandlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  const code = 128 + (os.constants.signals[signal] ?? 15);
  process.stderr.write(`launcher: ${signal} received, stopping ${runningNetworks.size} network(s)\n`);
  // A second signal while stopping forces an immediate exit (children die through the exit hook).
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  process.once('SIGINT', () => process.exit(code));
  process.once('SIGTERM', () => process.exit(code));
  void Promise.allSettled([...runningNetworks].map((n) => n.stop())).finally(() => process.exit(code));
}

function trackRunning(n: { stop(): Promise<void> }, handleSignals: boolean): void {
  runningNetworks.add(n);
  if (handleSignals && !signalHandlersInstalled) {
    signalHandlersInstalled = true;
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
}

function untrackRunning(n: { stop(): Promise<void> }): void {
  runningNetworks.delete(n);
  if (runningNetworks.size === 0 && signalHandlersInstalled) {
    signalHandlersInstalled = false;
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

// ---------------------------------------------------------------------------------------------
// one supervised actor process

class ActorProcess {
  child: ChildProcess | undefined;
  restarts = 0;
  private crashesInRow = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    readonly participant: string,
    readonly actor: ActorName,
    private readonly entry: string,
    private env: NodeJS.ProcessEnv,
    readonly logFile: string,
    private readonly restartCrashed: boolean,
  ) {}

  start(): void {
    if (this.stopping) return;
    const fd = openSync(this.logFile, 'a');
    try {
      writeSync(fd, `=== ${new Date().toISOString()} starting ${this.participant}/${this.actor}${this.restarts ? ` (restart ${this.restarts})` : ''}\n`);
      // A larger young generation: actors allocate many short-lived buffers per block, and scavenges were a
      // visible share of their CPU with the default semi-space.
      // QUORUM_NODE_FLAGS adds V8/Node flags for experiments (space-separated), e.g. '--always-sparkplug'.
      const extra = (this.env.QUORUM_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
      this.child = spawnBound(process.execPath, ['--enable-source-maps', '--max-semi-space-size=32', ...extra, this.entry], {
        cwd: REPO_DIR,
        env: this.env,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    this.startedAt = Date.now();
    const child = this.child;
    child.once('error', (err) => this.note(`spawn error: ${err.message}`));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private note(line: string): void {
    try {
      appendFileSync(this.logFile, `=== ${new Date().toISOString()} ${line}\n`);
    } catch {
      /* log dir removed */
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.note(`${this.participant}/${this.actor} pid ${child.pid} exited (code ${code}, signal ${signal})`);
    if (this.stopping || child !== this.child) return;
    if (!this.restartCrashed) return;
    if (Date.now() - this.startedAt > 10_000) this.crashesInRow = 0;
    const delay = this.crashesInRow === 0 ? 100 : Math.min(5_000, 250 * 2 ** (this.crashesInRow - 1));
    this.crashesInRow++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.start();
    }, delay);
  }

  running(): boolean {
    return this.child !== undefined && !hasExited(this.child);
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || hasExited(child)) return;
    killGroup(child, signal);
    if (!(await waitExit(child, 30_000))) throw new Error(`${this.participant}/${this.actor} (pid ${child.pid}) did not exit after ${signal}`);
  }

  /** Starts again after stop(), with extra environment for this run (e.g. QUORUM_TM_RECOVER=1). */
  resume(extraEnv: Record<string, string> = {}): void {
    if (this.running()) throw new Error(`${this.participant}/${this.actor} is already running`);
    this.stopping = false;
    this.crashesInRow = 0;
    this.env = { ...this.env, ...extraEnv };
    this.start();
  }

  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.child) await terminate(this.child, graceMs);
  }
}

// ---------------------------------------------------------------------------------------------

type RpcReply = { result?: unknown; error?: unknown };

/** Longer than the gateway's read budget, so a dependency that is away is reported by the gateway itself. */
const PROBE_TIMEOUT_MS = 5_000;

async function rpc(url: string, method: string, params: unknown[] = []): Promise<RpcReply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
  });
  return (await res.json()) as RpcReply;
}

const isQuantity = (v: unknown) => typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v);

/**
 * READY means every actor of every participant answers a request, each through the API that reaches it:
 * - gateway: eth_blockNumber;
 * - executor (a ledger query): eth_getBlockByNumber('latest') is a block, eth_getTransactionReceipt of a random
 *   hash is null (not an error);
 * - public state store: eth_getBalance; private state store: eth_storageRoot (it reads the private state first);
 * - consensus: eth_getTransactionCount('pending') (the pool's nonce) and raft_leader, the same leader on every
 *   participant (QBFT: istanbul_getValidators, the same validators on every participant);
 * - tm: GET /upcheck; enclave: GET /keys through the tm, which must list the participant's privacy key.
 * Throws an Error naming the first participant and actor that did not answer.
 */
async function checkEveryActor(network: NetworkDescription, rpcUrls: string[], tmUrls: string[]): Promise<void> {
  const leaders = await Promise.all(network.participants.map((p, i) => checkParticipant(p, rpcUrls[i], tmUrls[i], network.consensus.type)));
  if (new Set(leaders).size !== 1) {
    const what = network.consensus.type === 'raft' ? 'the raft leader' : 'the validator set';
    throw new Error(`${what} is not known to all yet: ${network.participants.map((p, i) => `${p.id} → ${leaders[i]}`).join(', ')}`);
  }
}

/**
 * One participant's part of checkEveryActor; with `askLeader`, returns what its consensus must agree on with the
 * others (Raft: the leader it names; QBFT: the validator set).
 */
async function checkParticipant(p: Participant, rpcUrl: string, tmUrl: string, askLeader: 'raft' | 'qbft' | false): Promise<string | undefined> {
  const zero = '0x' + '00'.repeat(20);
  const unknownTx = '0x' + randomBytes(32).toString('hex');
  const ask = async (actor: string, method: string, params: unknown[], ok: (result: unknown) => boolean): Promise<unknown> => {
    const r = await rpc(rpcUrl, method, params).catch((err: Error) => {
      throw new Error(`${p.id} ${actor}: ${method} at ${rpcUrl} failed: ${err.message}`);
    });
    if (r.error !== undefined || !ok(r.result)) throw new Error(`${p.id} ${actor}: ${method} answered ${JSON.stringify(r.error ?? r.result)}`);
    return r.result;
  };
  const get = async (actor: string, url: string): Promise<Response> => {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) }).catch((err: Error) => {
      throw new Error(`${p.id} ${actor}: GET ${url} failed: ${err.message}`);
    });
    if (!res.ok) throw new Error(`${p.id} ${actor}: GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res;
  };
  await ask('gateway', 'eth_blockNumber', [], isQuantity);
  await ask('executor', 'eth_getBlockByNumber', ['latest', false], (b) => typeof b === 'object' && b !== null);
  await ask('executor', 'eth_getTransactionReceipt', [unknownTx], (r) => r === null);
  await ask('public state store', 'eth_getBalance', [zero, 'latest'], isQuantity);
  await ask('private state store', 'eth_storageRoot', [zero, 'latest'], (v) => typeof v === 'string');
  await ask('consensus', 'eth_getTransactionCount', [zero, 'pending'], isQuantity);
  const leader =
    askLeader === 'raft'
      ? await ask('consensus', 'raft_leader', [], (v) => typeof v === 'string' && v.length > 0)
      : askLeader === 'qbft'
        ? JSON.stringify(await ask('consensus', 'istanbul_getValidators', [], (v) => Array.isArray(v) && v.length > 0))
        : undefined;
  await get('tm', `${tmUrl}/upcheck`);
  const keys = (await (await get('enclave (through its tm)', `${tmUrl}/keys`)).json()) as { keys?: { key?: string }[] };
  if (!keys.keys?.some((k) => k.key === p.privacyPublicKey)) {
    throw new Error(`${p.id} enclave (through its tm): /keys does not list ${p.privacyPublicKey}: ${JSON.stringify(keys).slice(0, 200)}`);
  }
  return leader as string | undefined;
}

export async function startNetwork(opts: StartOptions = {}): Promise<RunningNetwork> {
  const createdDir = opts.dir === undefined;
  const dir = createdDir ? await mkdtemp(path.join(os.tmpdir(), 'quorum-net-')) : path.resolve(opts.dir!);
  try {
    return await launch(opts, dir, createdDir);
  } catch (err) {
    if (createdDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function launch(opts: StartOptions, dir: string, createdDir: boolean): Promise<RunningNetwork> {
  await mkdir(dir, { recursive: true });
  const distDir = opts.distDir ?? DIST_DIR;

  // 1. the network: reuse or generate
  let paths = networkPaths(dir);
  let network: NetworkDescription;
  if (existsSync(paths.network)) {
    network = await loadNetwork(paths.network);
    if (opts.participants !== undefined && opts.participants !== network.participants.length) {
      throw new Error(`${paths.network} describes ${network.participants.length} participants, not ${opts.participants}; use another dir to generate a new network`);
    }
    const norm = (a: string) => '0x' + a.trim().replace(/^0x/i, '').toLowerCase();
    const missing = (opts.fund ?? []).filter((a) => !network.genesis.alloc[norm(a)]);
    if (missing.length) throw new Error(`${paths.network} already exists and does not fund ${missing.join(', ')} (genesis cannot change); use a fresh dir`);
  } else {
    const n = opts.participants ?? 4;
    const ports = opts.basePort !== undefined ? undefined : await freePorts(2 * n);
    const rpcPorts = ports?.slice(0, n);
    const tmPorts = ports?.slice(n);
    network = (await generateNetworkFiles(dir, { participants: n, basePort: opts.basePort, rpcPorts, tmPorts, tmBasePort: opts.tmBasePort, fund: opts.fund, consensusType: opts.consensusType, consensus: opts.consensus })).network;
  }
  paths = networkPaths(dir, network);
  const secrets: Record<string, ParticipantSecrets> = {};
  for (const p of network.participants) secrets[p.id] = await loadSecrets(paths.secrets[p.id], network);

  // 2. launcher state (database prefix), kept beside the network so a restart finds the same databases
  const previous = await readLauncherState(dir);
  const dbPrefix = opts.dbPrefix ?? previous?.dbPrefix ?? `quorum_${randomBytes(4).toString('hex')}`;
  const baseState: LauncherState = {
    dbPrefix,
    createdAt: previous && previous.dbPrefix === dbPrefix ? (previous.createdAt ?? new Date().toISOString()) : new Date().toISOString(),
  };
  await writeLauncherState(dir, baseState);

  // 3. preflight: entry points built, RPC ports free
  const missingEntries = ACTOR_START_ORDER.map((a) => actorEntry(a, distDir)).filter((f) => !existsSync(f));
  if (missingEntries.length) throw new Error(`actor entry points missing (run npm run build): ${missingEntries.join(', ')}`);
  for (const p of network.participants) {
    if (!(await isPortFree(p.rpcPort))) throw new Error(`RPC port ${p.rpcPort} of ${p.id} is in use (is another network running from ${dir}?)`);
    if (!(await isPortFree(p.tmPort))) throw new Error(`tm port ${p.tmPort} of ${p.id} is in use (is another network running from ${dir}?)`);
  }

  // 4. databases
  const databases: Record<string, string> = {};
  const dbNames: string[] = [];
  for (const p of network.participants) {
    const name = databaseName(dbPrefix, p.id);
    dbNames.push(name);
    await createDatabase(name);
    databases[p.id] = databaseUrl(name);
  }

  // 5. nats-server
  const logDir = path.join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  const perParticipant = (opts.brokers ?? (process.env.QUORUM_BROKERS === 'shared' ? 'shared' : 'per-participant')) === 'per-participant';
  /** The broker of each participant (in shared mode, the same one for all). */
  const brokers = new Map<string, NatsServer>();
  let cluster: ClusterJoin | undefined;
  // launcher.json names one broker for the admin command: the shared one, or the first participant's.
  const recordedId = network.participants[0].id;
  const recorded = () => brokers.get(recordedId) ?? [...brokers.values()][0];
  const record = (server: NatsServer) => ({ ...baseState, running: { launcherPid: process.pid, nats: natsServerRecord(server) } });
  // A restarted broker has a new pid, which the admin must find. (stop() writes the state without the server after
  // stopping the brokers, which ends all restarts: it has the last word.)
  const onRestart = (server: NatsServer) => {
    if (server === recorded()) void writeLauncherState(dir, record(server)).catch(() => {});
  };
  const restartCrashed = opts.restartCrashed ?? true;
  try {
    if (perParticipant) {
      const started = await startNatsCluster({ network, dir, ids: network.participants.map((p) => p.id), restartCrashed, onRestart: (_, server) => onRestart(server) });
      cluster = started.join;
      for (const [id, server] of Object.entries(started.servers)) brokers.set(id, server);
    } else {
      // The broker is supervised like the actors.
      const shared = await startNatsServer({ network, dir, port: opts.natsPort, restartCrashed, onRestart });
      for (const p of network.participants) brokers.set(p.id, shared);
    }
  } catch (err) {
    if (createdDir) for (const name of dbNames) await dropDatabase(name).catch(() => {});
    throw err;
  }
  const distinctBrokers = () => [...new Set(brokers.values())];
  const brokerOf = (participant?: string): NatsServer => {
    const b = participant === undefined ? recorded() : brokers.get(participant);
    if (!b) throw new Error(`no nats-server for ${participant} in this network`);
    return b;
  };
  /** The broker of a newly permitted participant: its own, joined to the cluster, or the shared one. */
  const brokerFor = async (id: string, next: NetworkDescription): Promise<NatsServer> => {
    if (!perParticipant || !cluster) return recorded();
    const joined = await joinNatsCluster({ network: next, dir, id, join: cluster, restartCrashed, onRestart });
    cluster = joined.join;
    return joined.server;
  };
  // For `npm run admin`: which server to reload, and how its config was generated.
  await writeLauncherState(dir, record(recorded()));

  // 6. actors
  const procs: ActorProcess[] = [];
  // The actors inherit this process's environment (OTEL_*, PATH...), minus what would confuse them:
  // node:test's marker (an actor is not a test file).
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  delete inherited.NODE_TEST_CONTEXT;
  const logFile = (participant: string, actor: ActorName) => path.join(logDir, `${participant}-${actor}.log`);
  /** The supervised processes of one participant, in start order (the same path at start-up and on permit). */
  const addActors = (p: Participant): ActorProcess[] =>
    ACTOR_START_ORDER.map((actor) => {
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        QUORUM_NETWORK: paths.network,
        QUORUM_SECRETS: secretsFiles[p.id],
        QUORUM_PARTICIPANT: p.id,
        QUORUM_ACTOR: actor,
        QUORUM_NATS_URL: brokerOf(p.id).url,
        QUORUM_PG_URL: databases[p.id],
        ...(opts.env ?? {}),
      };
      const proc = new ActorProcess(p.id, actor, actorEntry(actor, distDir), env, logFile(p.id, actor), opts.restartCrashed ?? true);
      procs.push(proc);
      return proc;
    });
  const secretsFiles: Record<string, string> = { ...paths.secrets };
  const natsUrls: Record<string, string> = Object.fromEntries(network.participants.map((p) => [p.id, brokerOf(p.id).url]));
  for (const p of network.participants) addActors(p);

  const rpcUrls = network.participants.map((p) => `http://127.0.0.1:${p.rpcPort}`);
  const tmUrls = network.participants.map((p) => `http://127.0.0.1:${p.tmPort}`);
  let stopping: Promise<void> | undefined;
  let destroying: Promise<void> | undefined;

  const logTails = () =>
    procs
      .map((a) => `--- ${path.basename(a.logFile)} (${a.running() ? `pid ${a.child?.pid}` : 'not running'}, restarts ${a.restarts}) ---\n${tailFile(a.logFile, 15) || '(empty)'}`)
      .join('\n');

  const procOf = (participant: string, actor: ActorName): ActorProcess => {
    const proc = procs.find((a) => a.participant === participant && a.actor === actor);
    if (!proc) throw new Error(`no actor ${participant}/${actor} in this network`);
    return proc;
  };

  const pollUntil = async (check: () => Promise<unknown>, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'not polled yet';
    for (;;) {
      if (stopping) throw new Error('network is stopping');
      try {
        await check();
        return;
      } catch (err) {
        lastProblem = err instanceof Error ? `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}` : String(err);
      }
      if (Date.now() > deadline) throw new Error(`${what} in ${dir} not ready after ${timeoutMs} ms: ${lastProblem}\n${logTails()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  // ---- following the permission list -------------------------------------------------------
  // Every trigger (the file watcher, permit(), revoke()) re-reads network.json inside one queue, so whatever the
  // order in which triggers fire, the running set converges on the file's latest content.
  let following: Promise<void> = Promise.resolve();
  const enqueue = (fn: () => Promise<void>): Promise<void> => {
    const run = following.then(fn);
    following = run.catch(() => {});
    return run;
  };
  const stopParticipant = async (id: string): Promise<void> => {
    const mine = procs.filter((a) => a.participant === id);
    await Promise.all(mine.map((a) => a.stop(10_000)));
    for (const a of mine) procs.splice(procs.indexOf(a), 1);
  };
  const follow = (): Promise<void> =>
    enqueue(async () => {
      if (stopping) return;
      const next = await loadNetwork(paths.network);
      const current = handle.network;
      const same = (a: Participant, list: Participant[]) => list.some((b) => b.id === a.id && JSON.stringify(b) === JSON.stringify(a));
      const removed = current.participants.filter((p) => !same(p, next.participants));
      const added = next.participants.filter((p) => !same(p, current.participants));
      // Removed actors stop before the broker drops them (a clean shutdown needs its connection); added ones start
      // after the broker knows them.
      for (const p of removed) {
        await stopParticipant(p.id);
        delete secrets[p.id];
        delete secretsFiles[p.id];
        delete databases[p.id];
        const own = brokers.get(p.id);
        brokers.delete(p.id);
        delete natsUrls[p.id];
        if (own && !distinctBrokers().includes(own)) await own.stop(); // its own broker (per participant) goes with it
      }
      // Hand edits too, not only the admin's; every broker of the cluster holds the same users.
      for (const b of distinctBrokers()) await applyPermissionList(b, next, { reload: 'if-changed' });
      // Everything a newcomer needs is prepared before any of its actors starts, so a failure leaves nothing half-run.
      for (const p of added) {
        const file = path.join(paths.secretsDir, `${p.id}.json`);
        const s = await loadSecrets(file, next);
        for (const [what, port] of [['RPC', p.rpcPort], ['tm', p.tmPort]] as const) {
          if (!(await isPortFree(port))) throw new Error(`${what} port ${port} of ${p.id} is in use; its actors are not started`);
        }
        const name = databaseName(dbPrefix, p.id);
        await createDatabase(name);
        if (!dbNames.includes(name)) dbNames.push(name);
        databases[p.id] = databaseUrl(name);
        secrets[p.id] = s;
        secretsFiles[p.id] = file;
        if (!brokers.has(p.id)) brokers.set(p.id, await brokerFor(p.id, next));
        natsUrls[p.id] = brokerOf(p.id).url;
      }
      handle.network = next;
      rpcUrls.splice(0, rpcUrls.length, ...next.participants.map((p) => `http://127.0.0.1:${p.rpcPort}`));
      tmUrls.splice(0, tmUrls.length, ...next.participants.map((p) => `http://127.0.0.1:${p.tmPort}`));
      for (const p of added) for (const a of addActors(p)) a.start();
    });
  const watcher = watchNetworkFile(paths.network, async () => {
    await follow().catch((err: Error) => {
      process.stderr.write(`launcher: cannot follow ${paths.network}: ${err.message}\n`);
    });
  });

  const handle: RunningNetwork = {
    dir,
    network,
    rpcUrls,
    tmUrls,
    natsUrl: recorded().url,
    natsUrls,
    secrets,
    networkFile: paths.network,
    secretsFiles,
    databases,
    dbPrefix,
    logFile,
    processes: () =>
      procs.map((a) => ({ participant: a.participant, actor: a.actor, pid: a.child?.pid, running: a.running(), restarts: a.restarts, logFile: a.logFile })),

    async kill(participant, actor, signal = 'SIGKILL') {
      await procOf(participant, actor).kill(signal);
    },
    async stopActor(participant, actor) {
      await procOf(participant, actor).stop(10_000);
    },
    startActor(participant, actor, env) {
      procOf(participant, actor).resume(env);
    },
    killBroker: (signal = 'SIGKILL', participant) => brokerOf(participant).kill(signal),
    broker: (participant) => {
      const b = brokerOf(participant);
      return { pid: b.pid, running: b.running(), restarts: b.restarts };
    },

    async permit(permitOpts = {}) {
      const { participant } = await permitParticipant(dir, { ...permitOpts, nats: recorded() });
      await follow();
      return participant;
    },

    async revoke(participant) {
      // Its actors stop while their connections still work, then the reload shuts the door.
      await revokeParticipant(dir, participant, { nats: recorded(), beforeBroker: () => enqueue(() => stopParticipant(participant)) });
      await follow();
    },

    stop() {
      stopping ??= (async () => {
        watcher.close();
        await following; // a permit/revoke in flight finishes first (it may be starting actors)
        await Promise.all(procs.map((a) => a.stop(10_000)));
        await Promise.all(distinctBrokers().map((b) => b.stop()));
        // The admin must no longer find a server to reload.
        await writeLauncherState(dir, baseState).catch(() => {});
        untrackRunning(handle);
      })();
      return stopping;
    },

    destroy() {
      destroying ??= (async () => {
        await handle.stop();
        for (const name of dbNames) await dropDatabase(name);
        if (createdDir) await rm(dir, { recursive: true, force: true });
      })();
      return destroying;
    },

    async waitReady(timeoutMs = opts.readyTimeoutMs ?? 60_000) {
      await pollUntil(() => checkEveryActor(handle.network, rpcUrls, tmUrls), timeoutMs, 'network');
    },

    async waitParticipantReady(participant, timeoutMs = opts.readyTimeoutMs ?? 60_000) {
      await pollUntil(
        async () => {
          const i = handle.network.participants.findIndex((p) => p.id === participant);
          if (i < 0) throw new Error(`${participant} is not permitted`);
          await checkParticipant(handle.network.participants[i], rpcUrls[i], tmUrls[i], false);
        },
        timeoutMs,
        `participant ${participant}`,
      );
    },
  };

  trackRunning(handle, opts.handleSignals ?? true);
  try {
    for (const p of network.participants) for (const a of procs.filter((x) => x.participant === p.id)) a.start();
    // A change made between loading network.json and starting the watcher is caught up with here.
    await follow();
    if (opts.wait ?? true) await handle.waitReady();
  } catch (err) {
    // A temp-dir network cannot be resumed by anyone: remove it (the error carries the log tails).
    // A caller-chosen dir keeps its databases and logs, like stop().
    await (createdDir ? handle.destroy() : handle.stop()).catch(() => {});
    throw err;
  }
  return handle;
}
