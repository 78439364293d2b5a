/**
 * Child processes that never outlive their parent.
 *
 *  - Each child runs in its own process group (detached), so a Ctrl-C on the terminal reaches only the
 *    parent, which then stops its children in order (instead of every child dying at once and a
 *    supervisor mistaking that for a crash).
 *  - On Linux the child is started through `setpriv --pdeathsig KILL` (util-linux), so the kernel kills
 *    it if the parent dies, even by SIGKILL.
 *  - On a normal exit of the parent (including process.exit), every still-registered child is killed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform === 'linux') {
    for (const p of ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']) {
      if (existsSync(p)) {
        setprivPath = p;
        break;
      }
    }
  }
  return setprivPath;
}

/** Spawns `command args` as a child bound to this process's lifetime (see the module comment). */
export function spawnBound(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  installExitHook();
  const sp = setpriv();
  const [cmd, argv] = sp ? [sp, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { ...options, detached: true });
  live.add(child);
  const forget = () => live.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
  return child;
}

/** Signals the child's process group (falls back to the child alone). Never throws. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null || child.pid === undefined;
}

/** Resolves true when the child has exited, false after timeoutMs. */
export function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(t);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM (or `signal`), wait up to graceMs, then SIGKILL and wait for the exit. */
export async function terminate(child: ChildProcess, graceMs = 10_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (hasExited(child)) return;
  killGroup(child, signal);
  if (await waitExit(child, graceMs)) return;
  killGroup(child, 'SIGKILL');
  await waitExit(child, 5_000);
}

/** The last `lines` lines of a text file ('' when missing). */
export function tailFile(file: string, lines = 30, maxBytes = 64 * 1024): string {
  try {
    const buf = readFileSync(file);
    const text = buf.subarray(Math.max(0, buf.length - maxBytes)).toString('utf8');
    const all = text.split('\n');
    if (all.length && all[all.length - 1] === '') all.pop();
    return all.slice(-lines).join('\n');
  } catch {
    return '';
  }
}
