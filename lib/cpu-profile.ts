/**
 * Optional CPU profiling of an actor process, for performance work: with QUORUM_CPU_PROFILE_DIR set, the
 * process records a V8 CPU profile and writes <dir>/<participant>-<actor>-<pid>.cpuprofile when it stops
 * (open it in Chrome DevTools). QUORUM_CPU_PROFILE_ONLY=p1-executor,p2-gateway limits it to those processes.
 * Node refuses --cpu-prof in NODE_OPTIONS, hence the inspector session.
 */
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function startCpuProfile(name: string): Promise<(() => Promise<void>) | null> {
  const dir = process.env.QUORUM_CPU_PROFILE_DIR;
  if (!dir) return null;
  const only = process.env.QUORUM_CPU_PROFILE_ONLY?.split(',').map((s) => s.trim());
  if (only && !only.includes(name)) return null;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  // QUORUM_CPU_PROFILE_DELAY_MS leaves start-up out of the profile.
  const delay = Number(process.env.QUORUM_CPU_PROFILE_DELAY_MS ?? 0);
  const started = new Promise<void>((resolve) =>
    setTimeout(() => void session.post('Profiler.start').then(() => resolve()), delay).unref(),
  );
  if (delay === 0) await started;
  return async () => {
    await started;
    const { profile } = await session.post('Profiler.stop');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  };
}
