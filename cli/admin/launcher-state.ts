/**
 * <dir>/launcher.json: what the launcher leaves beside a network for the next run and for the admin command —
 * the database prefix (a restart finds the same databases) and, while it runs, its nats-server (pid, config file
 * and the options the config was generated with), so `admin permit/revoke` can rewrite and reload it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { NatsServerRef } from '../nats/server.js';
import { writeJsonAtomic } from './atomic-write.js';

const NatsServerRecord = z.object({
  pid: z.number().int().positive(),
  url: z.string(),
  configFile: z.string(),
  logFile: z.string(),
  config: z.object({
    port: z.number().int().min(1).max(65535),
    host: z.string().optional(),
    maxPayload: z.string().optional(),
    httpPort: z.number().int().min(1).max(65535).optional(),
    pidFile: z.string().optional(),
    serverName: z.string().optional(),
    // A broker of a per-participant cluster (cli/nats/server-config.ts): kept, so a reload keeps its routes.
    cluster: z
      .object({ name: z.string(), listen: z.string(), routes: z.array(z.string()), routeUser: z.string(), routePassword: z.string(), noAdvertise: z.boolean().optional() })
      .optional(),
  }),
});
export type NatsServerRecord = z.infer<typeof NatsServerRecord>;

export const LauncherState = z.object({
  dbPrefix: z.string(),
  createdAt: z.string().optional(),
  /** Present while a launcher runs the network (removed by its stop()). */
  running: z
    .object({
      /** The launcher that follows network.json (starts/stops actors). Absent: nobody does, only the broker runs. */
      launcherPid: z.number().int().positive().optional(),
      nats: NatsServerRecord,
    })
    .optional(),
});
export type LauncherState = z.infer<typeof LauncherState>;

const launcherStateFile = (dir: string) => path.join(path.resolve(dir), 'launcher.json');

/** The state, or undefined when there is none or it is unreadable (a fresh dir, an older launcher's file). */
export async function readLauncherState(dir: string): Promise<LauncherState | undefined> {
  try {
    const parsed = LauncherState.safeParse(JSON.parse(await readFile(launcherStateFile(dir), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeLauncherState(dir: string, state: LauncherState): Promise<void> {
  await writeJsonAtomic(launcherStateFile(dir), LauncherState.parse(state));
}

export function natsServerRecord(server: NatsServerRef & { url: string }): NatsServerRecord {
  return { pid: server.pid, url: server.url, configFile: server.configFile, logFile: server.logFile, config: { ...server.config } };
}
