/**
 * Starts the project's own nats-server (never the system one on 4222) with the configuration generated
 * from the network description, on a free 127.0.0.1 port unless one is given.
 */
import { existsSync, openSync, closeSync, writeSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { NetworkDescription } from '../network/description.js';
import { freePort, waitForPort } from '../ports.js';
import { hasExited, spawnBound, tailFile, terminate } from '../child.js';
import { natsServerConfig } from './server-config.js';

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

export interface NatsServer {
  url: string;
  host: string;
  port: number;
  pid: number;
  configFile: string;
  logFile: string;
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
    await writeFile(configFile, natsServerConfig(opts.network, { port, host, serverName: `${opts.network.name}-${port}`, httpPort: monitorPort() }), { mode: 0o600 });
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
      stop: () => (stopping ??= terminate(child, 5_000)),
    };
  }
  throw lastError ?? new Error('nats-server did not start');
}
