/**
 * Starts the project's own nats-server (never the system one on 4222) with the configuration generated
 * from the network description, on a free 127.0.0.1 port unless one is given; and, when the permission list
 * changes, rewrites that configuration and reloads the running server in place (no restart, no dropped
 * connections except those of users who are no longer on the list).
 */
import { existsSync, openSync, closeSync, readFileSync, writeSync, appendFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { NetworkDescription } from '../../lib/network/description.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { freePort, waitForPort } from '../ports.js';
import { hasExited, spawnBound, tailFile, terminate } from '../launcher/child.js';
import { natsServerConfig, type NatsConfigOptions } from './server-config.js';

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

export async function startNatsServer(opts: StartNatsOptions): Promise<NatsServer> {
  const host = opts.host ?? '127.0.0.1';
  const binary = opts.binary ?? findNatsServerBinary();
  const dir = path.resolve(opts.dir);
  const configFile = path.join(dir, 'nats', 'nats-server.conf');
  const logFile = path.join(dir, 'logs', 'nats-server.log');
  await mkdir(path.dirname(configFile), { recursive: true });
  await mkdir(path.dirname(logFile), { recursive: true });
  const attempts = opts.port === undefined ? 3 : 1;

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = opts.port ?? (await freePort(host));
    const config: NatsConfigOptions = { port, host, serverName: `${opts.network.name}-${port}`, httpPort: monitorPort() };
    await writeNatsConfigFile(configFile, opts.network, config);
    const marker = `=== ${new Date().toISOString()} pid ${process.pid} starting ${binary} on ${host}:${port}`;
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
      // "Server is ready" in our own log segment proves that *this* process bound the port (a TCP probe
      // alone could reach another process that grabbed the port in the meantime).
      const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
      for (;;) {
        if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message}`);
        if (hasExited(child)) throw new Error(`nats-server exited (code ${child.exitCode}, signal ${child.signalCode}) during start-up:\n${sinceMarker().trim()}`);
        if (/Server is ready/.test(sinceMarker())) break;
        if (Date.now() > deadline) throw new Error(`nats-server did not become ready within ${opts.startTimeoutMs ?? 10_000} ms:\n${sinceMarker().trim()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      await waitForPort(port, host, 5_000);
    } catch (err) {
      lastError = err as Error;
      await terminate(child, 2_000);
      if (/address already in use/i.test(sinceMarker())) continue;
      throw lastError;
    }
    let stopping: Promise<void> | undefined;
    return {
      url: `nats://${host}:${port}`,
      host,
      port,
      pid: child.pid!,
      configFile,
      logFile,
      config,
      stop: () => (stopping ??= terminate(child, 5_000)),
    };
  }
  throw lastError ?? new Error('nats-server did not start');
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
