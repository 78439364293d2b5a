/**
 * A Postgres cluster of the test's own (initdb into a temp dir, a free port), for tests that stop and start the
 * database: the shared server other tests use is never touched.
 *
 * The postmaster runs as a child bound to this process (spawnBound: its own process group, killed if we die),
 * not daemonised by `pg_ctl start`, so a crashed test leaves no server behind. `stop('immediate')` is what an
 * operator's `pg_ctl stop -m immediate` does (the postmaster quits without a checkpoint; the next start
 * recovers from the WAL). Postgres refuses to run as root: when we are root, it runs as the `postgres` user.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { freePort } from '../../cli/ports.js';
import { spawnBound, tailFile, terminate, waitExit } from '../../cli/launcher/child.js';

export interface PrivatePostgres {
  /** Admin URL (user postgres, trust auth, database postgres). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  running(): boolean;
  /** `pg_ctl stop -m <mode>`; waits until the postmaster has exited. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts the postmaster again (crash recovery after an immediate stop) and waits until it takes queries. */
  start(): Promise<void>;
  /** Stops the server (immediately) and removes its directory. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const env = process.env.QUORUM_PG_BIN;
  if (env) return env;
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no initdb under ${root}/*/bin (set QUORUM_PG_BIN to the directory holding initdb and postgres)`);
  return path.join(root, versions[0], 'bin');
}

/** uid/gid to run Postgres as: ours, unless we are root (then the `postgres` user's). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const out = spawnSyncText('id', ['-u', 'postgres']).trim();
  const gid = spawnSyncText('id', ['-g', 'postgres']).trim();
  if (!/^\d+$/.test(out) || !/^\d+$/.test(gid)) throw new Error('running as root and there is no postgres user to run a private cluster as');
  return { uid: Number(out), gid: Number(gid) };
}

function spawnSyncText(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

function runTool(bin: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(user ?? {}) });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(bin)} ${args.join(' ')} exited ${code}: ${out.slice(-2000)}`))));
  });
}

async function untilQueryable(url: string, postmaster: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (postmaster.exitCode !== null || postmaster.signalCode !== null) throw new Error(`postgres exited while starting:\n${tailFile(logFile, 20)}`);
    const sql = postgres(url, { max: 1, connect_timeout: 2, idle_timeout: 1, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`private postgres did not take queries within ${timeoutMs} ms: ${(err as Error).message}\n${tailFile(logFile, 20)}`);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startPrivatePostgres(label = 'pg'): Promise<PrivatePostgres> {
  const bin = binDir();
  const user = runAs();
  const dir = await mkdtemp(path.join(tmpdir(), `qa-${label}-`));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  // trust: only local test clients; fsync off: an immediate stop is a crash of Postgres, not of the OS, so the
  // WAL in the page cache survives it, and the suite does not wait on disk flushes.
  await runTool(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], user);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let postmaster: ChildProcess | undefined;

  const launch = async () => {
    const fd = openSync(logFile, 'a');
    if (user) chownSync(logFile, user.uid, user.gid);
    try {
      postmaster = spawnBound(
        path.join(bin, 'postgres'),
        ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'max_connections=200'],
        { stdio: ['ignore', fd, fd], ...(user ?? {}) },
      );
    } finally {
      closeSync(fd);
    }
    await untilQueryable(url, postmaster, logFile, 60_000);
  };
  await launch();

  const running = () => postmaster !== undefined && postmaster.exitCode === null && postmaster.signalCode === null;
  const handle: PrivatePostgres = {
    url,
    port,
    dir,
    running,
    async stop(mode = 'fast') {
      if (!postmaster || !running()) return;
      await runTool(path.join(bin, 'pg_ctl'), ['stop', '-D', data, '-m', mode, '-w', '-t', '30'], user);
      if (!(await waitExit(postmaster, 10_000))) throw new Error('the postmaster did not exit after pg_ctl stop');
    },
    async start() {
      if (running()) return;
      await launch();
    },
    async destroy() {
      if (postmaster && running()) {
        await handle.stop('immediate').catch(() => undefined);
        await terminate(postmaster, 5_000);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
