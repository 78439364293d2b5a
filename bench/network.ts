/**
 * The benchmark's network: a launcher network in a caller-chosen dir, its databases named by `dbPrefix`, the
 * given addresses funded in genesis. The launcher keeps the databases of a network that failed to start (the dir
 * is the caller's): they are dropped here before the error goes on.
 */
import { startNetwork, type RunningNetwork, type StartOptions } from '../cli/launcher/network-runner.js';
import { databaseName, dropDatabase } from '../cli/postgres-admin.js';

export async function startBenchNetwork(o: { dir: string; participants: number; dbPrefix: string; fund: string[] } & Pick<StartOptions, 'consensusType' | 'consensus'>): Promise<RunningNetwork> {
  try {
    return await startNetwork({ ...o, handleSignals: false, readyTimeoutMs: 120_000 });
  } catch (err) {
    for (let i = 1; i <= o.participants; i++) await dropDatabase(databaseName(o.dbPrefix, `p${i}`)).catch(() => {});
    throw err;
  }
}
