/**
 * The benchmark's peer: hardhat's node — one in-memory process, automine, gas price 0 — started from
 * bench/hardhat/hardhat.config.cjs with the bench's keys funded, the devnet's chain id and the ledger's
 * hardfork, on 127.0.0.1 and a port the kernel picks (`--port 0`; the node prints the one it got).
 *
 * The node runs in its own process group and stop() kills the group (SIGTERM, then SIGKILL). A Ctrl-C in the
 * terminal does not reach that group, so the caller stops it from its signal handlers; as a last resort every
 * node still running is SIGKILLed when this process exits (process.exit included). Only a SIGKILL of the
 * benchmark itself leaves it behind.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, sleep } from '../rpc.js';
import { bytesToHex, type Key } from '../sign.js';

/** The project root (this file runs as dist/bench/hardhat/node.js). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HARDHAT_CONFIG = path.join(ROOT, 'bench', 'hardhat', 'hardhat.config.cjs');

export interface HardhatNode {
  url: string;
  pid: number;
  /** hardhat's version, e.g. "2.29.1" */
  version: string;
  /** Kills the node's process group; resolves once it is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface HardhatOptions {
  chainId: number;
  /** hardhat's name of the hardfork, e.g. "cancun" */
  hardfork: string;
  /** funded in genesis */
  keys: Key[];
  /** wei per key */
  balance: bigint;
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

/** Process groups of nodes not yet stopped → their temp dirs: SIGKILLed and removed when this process exits, whatever the path. */
const live = new Map<number, string>();
process.on('exit', () => {
  for (const [pgid, tmp] of live) {
    killGroup(pgid, 'SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
});

function killGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

function groupAlive(pgid: number): boolean {
  return killGroup(pgid, 0);
}

export async function startHardhatNode(opts: HardhatOptions): Promise<HardhatNode> {
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('hardhat/package.json');
  const version = (require(pkgFile) as { version: string }).version;
  const cli = path.join(path.dirname(pkgFile), 'internal', 'cli', 'bootstrap.js');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'quorum-bench-hardhat-'));
  const setupFile = path.join(tmp, 'setup.json');
  await writeFile(
    setupFile,
    JSON.stringify({
      chainId: opts.chainId,
      hardfork: opts.hardfork,
      accounts: opts.keys.map((k) => ({ privateKey: bytesToHex(k.priv), balance: opts.balance.toString() })),
      cacheDir: path.join(tmp, 'cache'),
      artifactsDir: path.join(tmp, 'artifacts'),
    }),
  );
  const child = spawn(process.execPath, [cli, '--config', HARDHAT_CONFIG, 'node', '--hostname', '127.0.0.1', '--port', '0'], {
    cwd: ROOT,
    detached: true, // its own process group: stop() kills the group
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BENCH_HARDHAT_SETUP: setupFile, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const pid = child.pid;
  if (pid === undefined) {
    await rm(tmp, { recursive: true, force: true });
    throw new Error('could not spawn hardhat node');
  }
  live.set(pid, tmp);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedP = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  // keep reading both pipes (a full pipe would block the node); keep the tail for error messages
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!exited) {
        killGroup(pid, 'SIGTERM');
        await Promise.race([exitedP, sleep(5_000)]);
      }
      // the leader may be gone while others of its group are not
      if (groupAlive(pid)) {
        killGroup(pid, 'SIGKILL');
        const deadline = Date.now() + 5_000;
        while (groupAlive(pid) && Date.now() < deadline) await sleep(50);
      }
      live.delete(pid);
      child.stdout!.destroy();
      child.stderr!.destroy();
      await rm(tmp, { recursive: true, force: true }).catch(() => {});
    })());

  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    let url: string | undefined;
    while (!url) {
      const m = /Started HTTP and WebSocket JSON-RPC server at (http:\/\/[\d.]+:\d+)\//.exec(out);
      if (m) url = m[1];
      else if (exited) throw new Error(`hardhat node exited (${exited.code ?? exited.signal}) before it was ready:\n${out.trim()}`);
      else if (Date.now() > deadline) throw new Error(`hardhat node not ready within ${(opts.readyTimeoutMs ?? 60_000) / 1000} s:\n${out.trim()}`);
      else await sleep(50);
    }
    const chainId = Number(BigInt(await call<string>(url, 'eth_chainId', [], 10_000)));
    if (chainId !== opts.chainId) throw new Error(`hardhat node answers chain id ${chainId}, not ${opts.chainId}`);
    opts.log?.(`hardhat ${version} node ready at ${url} (pid ${pid}, ${opts.keys.length} funded keys, ${opts.hardfork}, chain id ${chainId})`);
    return { url, pid, version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
