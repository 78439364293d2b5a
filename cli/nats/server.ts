/**
 * Starts the project's own nats-server (never the system one on 4222) with the configuration generated
 * from the network description, on a free 127.0.0.1 port unless one is given; and, when the permission list
 * changes, rewrites that configuration and reloads the running server in place (no restart, no dropped
 * connections except those of users who are no longer on the list). With restartCrashed (the launcher), a
 * broker that dies is started again on the same port from the same config file: see supervise().
 */
import { existsSync, openSync, closeSync, readFileSync, writeSync, appendFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { NetworkDescription } from '../../lib/network/description.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { freePort, freePorts, waitForPort } from '../ports.js';
import type { ChildProcess } from 'node:child_process';
import { hasExited, killGroup, spawnBound, tailFile, terminate, waitExit } from '../launcher/child.js';
import { natsServerConfig, type NatsClusterOptions, type NatsConfigOptions } from './server-config.js';

export interface StartNatsOptions {
  network: NetworkDescription;
  /** Config goes to <dir>/nats/nats-server.conf, the log to <dir>/logs/nats-server.log. */
  dir: string;
  /** Default: a free port (retried if it is taken between probing and binding). */
  port?: number;
  host?: string;
  /** Path of the nats-server binary. Default: $QUORUM_NATS_SERVER, /usr/sbin/nats-server, or nats-server on PATH. */
  binary?: string;
  startTimeoutMs?: number;
  /**
   * Start the server again, on the same port with the same (current) config file, when it exits unexpectedly.
   * Default false: a test that starts a bare broker wants to see it die. The launcher turns it on.
   */
  restartCrashed?: boolean;
  /** Called after each restart (the pid has changed): the launcher rewrites launcher.json for the admin command. */
  onRestart?: (server: NatsServer) => void;
  /** Names this server's files (<dir>/nats/nats-server-<id>.conf, <dir>/logs/nats-server-<id>.log): one of several. */
  id?: string;
  /** Joins the server to a cluster (then `port` should be given: the others' routes do not follow a retried port). */
  cluster?: NatsClusterOptions;
}

/** What it takes to rewrite a running server's configuration and reload it, from this or another process. */
export interface NatsServerRef {
  pid: number;
  configFile: string;
  /** The server's stdout/stderr log; a reload is confirmed by reading it. */
  logFile: string;
  /** The options the configuration was generated with (everything but the users). */
  config: NatsConfigOptions;
}

export interface NatsServer extends NatsServerRef {
  url: string;
  host: string;
  port: number;
  /** How many times the supervisor started the server again after it died (restartCrashed). */
  readonly restarts: number;
  /** True while a server process is up (false between a crash and the restart). */
  running(): boolean;
  /** Signals the current server process and waits for it to exit (the supervisor restarts it if restartCrashed). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export function findNatsServerBinary(): string {
  const env = process.env.QUORUM_NATS_SERVER;
  if (env) return env;
  for (const p of ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server']) if (existsSync(p)) return p;
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (d && existsSync(path.join(d, 'nats-server'))) return path.join(d, 'nats-server');
  }
  throw new Error('nats-server not found: install it (apt-get install -y nats-server, or run scripts/ensure-deps.sh) or set QUORUM_NATS_SERVER');
}

/** QUORUM_NATS_MONITOR_PORT turns on nats-server's HTTP monitoring (/varz, /connz) on that port, for operators and profiling. */
function monitorPort(): number | undefined {
  const v = process.env.QUORUM_NATS_MONITOR_PORT;
  if (!v) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`QUORUM_NATS_MONITOR_PORT: a port number, got ${JSON.stringify(v)}`);
  return n;
}

class StartFailed extends Error {
  constructor(message: string, readonly addressInUse: boolean) {
    super(message);
  }
}

/**
 * Spawns nats-server with `configFile` and waits until it is ready. "Server is ready" in our own log segment
 * proves that *this* process bound the port (a TCP probe alone could reach another process that grabbed the
 * port in the meantime).
 */
async function spawnReady(binary: string, configFile: string, logFile: string, host: string, port: number, timeoutMs: number, why: string): Promise<ChildProcess> {
  const marker = `=== ${new Date().toISOString()} pid ${process.pid} ${why} ${binary} on ${host}:${port}`;
  const fd = openSync(logFile, 'a');
  writeSync(fd, marker + '\n');
  const child = spawnBound(binary, ['-c', configFile], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  const sinceMarker = () => {
    const t = tailFile(logFile, 200);
    const i = t.lastIndexOf(marker);
    return i < 0 ? '' : t.slice(i + marker.length);
  };
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message}`);
      if (hasExited(child)) throw new Error(`nats-server exited (code ${child.exitCode}, signal ${child.signalCode}) during start-up:\n${sinceMarker().trim()}`);
      if (/Server is ready/.test(sinceMarker())) break;
      if (Date.now() > deadline) throw new Error(`nats-server did not become ready within ${timeoutMs} ms:\n${sinceMarker().trim()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    await waitForPort(port, host, 5_000);
    return child;
  } catch (err) {
    await terminate(child, 2_000);
    throw new StartFailed((err as Error).message, /address already in use/i.test(sinceMarker()));
  }
}

export async function startNatsServer(opts: StartNatsOptions): Promise<NatsServer> {
  const host = opts.host ?? '127.0.0.1';
  const binary = opts.binary ?? findNatsServerBinary();
  const dir = path.resolve(opts.dir);
  const suffix = opts.id ? `-${opts.id}` : '';
  const configFile = path.join(dir, 'nats', `nats-server${suffix}.conf`);
  const logFile = path.join(dir, 'logs', `nats-server${suffix}.log`);
  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  await mkdir(path.dirname(configFile), { recursive: true });
  await mkdir(path.dirname(logFile), { recursive: true });
  const attempts = opts.port === undefined ? 3 : 1;

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = opts.port ?? (await freePort(host));
    // The monitoring port is one: it goes to the single server, not to the members of a cluster.
    const config: NatsConfigOptions = {
      port,
      host,
      serverName: `${opts.network.name}-${opts.id ? `${opts.id}-` : ''}${port}`,
      httpPort: opts.id ? undefined : monitorPort(),
      ...(opts.cluster ? { cluster: opts.cluster } : {}),
    };
    await writeNatsConfigFile(configFile, opts.network, config);
    let child: ChildProcess;
    try {
      child = await spawnReady(binary, configFile, logFile, host, port, timeoutMs, 'starting');
    } catch (err) {
      lastError = err as Error;
      if (err instanceof StartFailed && err.addressInUse) continue;
      throw err;
    }
    return supervise({ child, binary, configFile, logFile, host, port, config, timeoutMs, restartCrashed: opts.restartCrashed ?? false, onRestart: opts.onRestart });
  }
  throw lastError ?? new Error('nats-server did not start');
}

interface SuperviseOptions {
  child: ChildProcess;
  binary: string;
  configFile: string;
  logFile: string;
  host: string;
  port: number;
  config: NatsConfigOptions;
  timeoutMs: number;
  restartCrashed: boolean;
  onRestart?: (server: NatsServer) => void;
}

/**
 * The broker fails like any other part: when it exits unexpectedly it is started again on the same port, from
 * the config file as it is now (the permission list it followed until then), so every actor's connection
 * (nats.js reconnects for ever, lib/nats/connect.ts) comes back on its own with the same NKEY. The back-off
 * grows while it keeps failing (a port taken by another process, a broken config) and resets after a good run.
 */
function supervise(o: SuperviseOptions): NatsServer {
  let child = o.child;
  let restarts = 0;
  let crashesInRow = 0;
  let startedAt = Date.now();
  let stopping: Promise<void> | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let restarting: Promise<void> | undefined;
  /** A back-off that stop() cuts short. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      restartTimer = setTimeout(resolve, ms);
    }).finally(() => {
      restartTimer = undefined;
      wake = undefined;
    });

  const note = (line: string) => {
    try {
      appendFileSync(o.logFile, `=== ${new Date().toISOString()} ${line}\n`);
    } catch {
      /* log dir removed */
    }
  };

  const restart = async (): Promise<void> => {
    while (!stopping) {
      try {
        const next = await spawnReady(o.binary, o.configFile, o.logFile, o.host, o.port, o.timeoutMs, `restarting (restart ${restarts + 1})`);
        if (stopping) {
          await terminate(next, 5_000);
          return;
        }
        child = next;
        restarts++;
        startedAt = Date.now();
        watch(next);
        o.onRestart?.(server);
        return;
      } catch (err) {
        note(`restart failed: ${(err as Error).message.split('\n')[0]}`);
        await pause(Math.min(5_000, 250 * 2 ** crashesInRow++));
      }
    }
  };

  const watch = (c: ChildProcess) =>
    c.once('exit', (code, signal) => {
      if (stopping || c !== child) return;
      note(`nats-server pid ${c.pid} exited (code ${code}, signal ${signal})${o.restartCrashed ? '; restarting' : ''}`);
      if (!o.restartCrashed) return;
      if (Date.now() - startedAt > 10_000) crashesInRow = 0;
      const delay = crashesInRow === 0 ? 50 : Math.min(5_000, 250 * 2 ** (crashesInRow - 1));
      crashesInRow++;
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        restarting = restart().finally(() => (restarting = undefined));
      }, delay);
    });
  watch(child);

  const server: NatsServer = {
    url: `nats://${o.host}:${o.port}`,
    host: o.host,
    port: o.port,
    get pid() {
      return child.pid!;
    },
    configFile: o.configFile,
    logFile: o.logFile,
    config: o.config,
    get restarts() {
      return restarts;
    },
    running: () => !hasExited(child),
    async kill(signal = 'SIGKILL') {
      const c = child;
      if (hasExited(c)) return;
      killGroup(c, signal);
      if (!(await waitExit(c, 30_000))) throw new Error(`nats-server (pid ${c.pid}) did not exit after ${signal}`);
    },
    stop: () =>
      (stopping ??= (async () => {
        if (restartTimer) clearTimeout(restartTimer);
        wake?.();
        await restarting;
        await terminate(child, 5_000);
      })()),
  };
  return server;
}

export interface StartClusterOptions extends Omit<StartNatsOptions, 'id' | 'cluster' | 'port' | 'onRestart'> {
  /** One broker per id (a participant), in this order. */
  ids: string[];
  onRestart?: (id: string, server: NatsServer) => void;
}

/** What a newcomer needs to join a running cluster: its name, route credentials and where the members listen. */
export type ClusterJoin = Pick<NatsClusterOptions, 'name' | 'routeUser' | 'routePassword'> & { routes: string[] };

/**
 * One nats-server per participant, joined as one cluster by routes, each with the same generated users and
 * permissions: losing one broker is losing one participant's connections, not the network's. Every member names
 * every other in its routes (a newcomer added later names the members; the cluster gossips it to the rest).
 */
export async function startNatsCluster(opts: StartClusterOptions): Promise<{ servers: Record<string, NatsServer>; join: ClusterJoin }> {
  const host = opts.host ?? '127.0.0.1';
  const ports = await freePorts(2 * opts.ids.length, host);
  const routeOf = (i: number) => `${host}:${ports[opts.ids.length + i]}`;
  const join: ClusterJoin = { name: opts.network.name, routeUser: 'route', routePassword: randomBytes(18).toString('hex'), routes: opts.ids.map((_, i) => routeOf(i)) };
  const started = await Promise.allSettled(
    opts.ids.map((id, i) =>
      startNatsServer({
        ...opts,
        id,
        port: ports[i],
        cluster: { ...join, listen: routeOf(i), routes: join.routes.filter((_, j) => j !== i) },
        onRestart: (server) => opts.onRestart?.(id, server),
      }),
    ),
  );
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  const servers: Record<string, NatsServer> = {};
  opts.ids.forEach((id, i) => (servers[id] = (started[i] as PromiseFulfilledResult<NatsServer>).value));
  return { servers, join };
}

/** Starts one more member of a running cluster (a newly permitted participant's broker); returns it and the new join. */
export async function joinNatsCluster(opts: Omit<StartNatsOptions, 'cluster' | 'port'> & { id: string; join: ClusterJoin }): Promise<{ server: NatsServer; join: ClusterJoin }> {
  const host = opts.host ?? '127.0.0.1';
  const [port, routePort] = await freePorts(2, host);
  const listen = `${host}:${routePort}`;
  const { join, ...rest } = opts;
  const server = await startNatsServer({ ...rest, port, cluster: { name: join.name, routeUser: join.routeUser, routePassword: join.routePassword, listen, routes: join.routes } });
  return { server, join: { ...join, routes: [...join.routes, listen] } };
}

/**
 * Writes the configuration for `network` atomically (temp file + rename: a reload, or a second writer, never sees
 * half a file). Returns false, writing nothing, when the file already holds exactly that configuration.
 */
export async function writeNatsConfigFile(configFile: string, network: NetworkDescription, config: NatsConfigOptions): Promise<boolean> {
  const text = natsServerConfig(network, config);
  const current = await readFile(configFile, 'utf8').catch(() => undefined);
  if (current === text) return false;
  const tmp = `${configFile}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, configFile);
  return true;
}

/**
 * True when `pid` is a live nats-server (and, with `configFile`, one started with that file). A pid read from a
 * state file may since have been given to another process; signalling that one would be wrong.
 */
export function isNatsServerRunning(pid: number, configFile?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return true; // no /proc (not Linux): the pid is alive, trust it
  }
  return /nats-server/.test(cmdline) && (configFile === undefined || cmdline.includes(configFile));
}

export interface ReloadOptions {
  /** How long to wait for the server to confirm the reload in its log. Default 5 s. */
  timeoutMs?: number;
}

/**
 * Makes a running nats-server re-read its configuration (SIGHUP, what `nats-server --signal reload=<pid>` sends).
 * The server keeps its pid, port and every connection whose user is still configured; connections of users that
 * were removed are closed by the reload itself (nats-server 2.9 re-authorizes every client on reload), and their
 * reconnects fail with "Authorization Violation".
 *
 * Given only a pid, it signals and returns. Given a server (pid + log file), it waits until the server logs
 * "Reloaded server configuration", and throws the server's own message if it refused the new configuration.
 */
export async function reloadNatsServer(target: number | Pick<NatsServerRef, 'pid' | 'logFile' | 'configFile'>, opts: ReloadOptions = {}): Promise<void> {
  const ref = typeof target === 'number' ? { pid: target } : target;
  const configFile = 'configFile' in ref ? ref.configFile : undefined;
  if (!isNatsServerRunning(ref.pid, configFile)) {
    throw new CodedError(ErrorCode.Unavailable, `no nats-server with pid ${ref.pid}${configFile ? ` and config ${configFile}` : ''} is running`, { pid: ref.pid });
  }
  const logFile = 'logFile' in ref ? ref.logFile : undefined;
  // A marker in the server's log (it appends there too) separates this reload's outcome from earlier ones.
  const marker = `=== ${new Date().toISOString()} pid ${process.pid} reload ${Math.random().toString(36).slice(2)}`;
  if (logFile) appendFileSync(logFile, marker + '\n');
  process.kill(ref.pid, 'SIGHUP');
  if (!logFile) return;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = tailFile(logFile, 400, 256 * 1024);
    const i = t.lastIndexOf(marker);
    const since = i < 0 ? '' : t.slice(i + marker.length);
    if (/Reloaded server configuration/.test(since)) return;
    const failed = /Failed to reload server configuration[^\n]*/.exec(since);
    if (failed) throw new CodedError(ErrorCode.Rejected, `nats-server (pid ${ref.pid}) refused the new configuration: ${failed[0]}`, { pid: ref.pid });
    if (!isNatsServerRunning(ref.pid)) throw new CodedError(ErrorCode.Unavailable, `nats-server (pid ${ref.pid}) exited during reload`, { pid: ref.pid });
    if (Date.now() > deadline) throw new CodedError(ErrorCode.Unavailable, `nats-server (pid ${ref.pid}) did not confirm the reload within ${timeoutMs} ms`, { pid: ref.pid });
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Brings a running server in line with `network`'s permission list: rewrites its configuration and reloads it.
 * 'if-changed' skips the reload when the file already matched (the launcher's watcher, after the admin did it).
 */
export async function applyPermissionList(
  server: NatsServerRef,
  network: NetworkDescription,
  opts: ReloadOptions & { reload?: 'always' | 'if-changed' } = {},
): Promise<'reloaded' | 'unchanged'> {
  const changed = await writeNatsConfigFile(server.configFile, network, server.config);
  if (!changed && opts.reload === 'if-changed') return 'unchanged';
  await reloadNatsServer(server, opts);
  return 'reloaded';
}
