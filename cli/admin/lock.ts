/**
 * One writer of network.json at a time, across processes (two operators, or the admin CLI and a test calling
 * net.permit): an exclusive lock file holding the owner's pid. A lock whose owner died is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { CodedError, ErrorCode } from '../../lib/errors.js';

/** True when a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryAcquire(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'wx', 0o600);
    await fh.writeFile(String(process.pid));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  // An empty file is a lock being written this instant: wait. A dead owner's lock is stale: take it over.
  if (Number.isInteger(owner) && owner > 0 && !isProcessAlive(owner)) await rm(file, { force: true });
  return false;
}

export async function withFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (!(await tryAcquire(file))) {
    if (Date.now() > deadline) {
      throw new CodedError(ErrorCode.Unavailable, `${file} is held by another process (pid ${(await readFile(file, 'utf8').catch(() => '?')).trim()})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
