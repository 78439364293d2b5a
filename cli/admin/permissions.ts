/**
 * permit / revoke: the one implementation of changing who may connect, used by `npm run admin` and by the
 * launcher's RunningNetwork.permit/revoke. It works on the files (network.json, secrets/<id>.json) and on the
 * running nats-server (its config file, reloaded in place); the launcher, watching network.json, starts or stops
 * the participant's actors.
 *
 * Order matters for who can connect when:
 * - permit: secrets, then the broker learns the new users, then network.json — whoever starts the newcomer's
 *   actors on seeing network.json finds the broker already accepting them;
 * - revoke: network.json first (it is the source of truth), then the broker reload closes the revoked users'
 *   connections and refuses their reconnects.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { NetworkDescription, Participant, ParticipantSecrets } from '../../lib/network/description.js';
import { generateParticipant, networkPaths, writeSecretsFile } from '../network/generate.js';
import { loadNetwork } from '../../lib/network/load.js';
import { applyPermissionList, isNatsServerRunning, writeNatsConfigFile, type NatsServerRef } from '../nats/server.js';
import { natsServerConfig } from '../nats/server-config.js';
import { isPortFree } from '../ports.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { writeJsonAtomic } from './atomic-write.js';
import { readLauncherState } from './launcher-state.js';
import { isProcessAlive, withFileLock } from './lock.js';
import { addParticipant, assertParticipantId, nextParticipantId, nextParticipantPorts, removeParticipant } from './participants.js';

export interface BrokerOptions {
  /** The nats-server to reload. Default: the running launcher's, from <dir>/launcher.json. */
  nats?: NatsServerRef;
}

export interface RevokeOptions extends BrokerOptions {
  /**
   * Runs after network.json no longer lists the participant and before the broker drops it: the launcher stops the
   * participant's actors here, so they shut down cleanly instead of finding their connections gone. Default: wait
   * for a launcher running in another process to do the same (see waitForLauncher).
   */
  beforeBroker?: (network: NetworkDescription) => Promise<void>;
}

export interface PermitOptions extends BrokerOptions {
  /** Default: the next p<n>. */
  id?: string;
  /** Default 'Participant <n>'. */
  name?: string;
  /** Default: after the highest existing ones, free on this host. */
  rpcPort?: number;
  tmPort?: number;
  /** Node-managed accounts. Default 2 (they are not funded: genesis cannot change). */
  accounts?: number;
}

/** What happened at the broker: reloaded (pid), or no launcher's nats-server runs for this dir (next start reads the list). */
export type BrokerOutcome = { status: 'reloaded'; pid: number } | { status: 'not-running' };

export interface PermitResult {
  participant: Participant;
  secrets: ParticipantSecrets;
  secretsFile: string;
  network: NetworkDescription;
  broker: BrokerOutcome;
}

export interface RevokeResult {
  participant: Participant;
  network: NetworkDescription;
  broker: BrokerOutcome;
}

const lockFile = (dir: string) => path.join(path.resolve(dir), 'network.json.lock');

async function loadExisting(dir: string): Promise<{ file: string; network: NetworkDescription }> {
  const file = networkPaths(dir).network;
  if (!existsSync(file)) throw new CodedError(ErrorCode.NotFound, `no network in ${path.resolve(dir)} (${file} does not exist)`);
  return { file, network: await loadNetwork(file) };
}

/** Ids that have a secrets file: current participants and revoked ones whose keys were kept. */
async function idsWithSecrets(secretsDir: string): Promise<string[]> {
  const names = await readdir(secretsDir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
}

/** The broker to reload: the one given, else the running launcher's for this dir, else none. */
async function brokerOf(dir: string, opts: BrokerOptions): Promise<NatsServerRef | undefined> {
  if (opts.nats) return opts.nats;
  const nats = (await readLauncherState(dir))?.running?.nats;
  return nats && isNatsServerRunning(nats.pid, nats.configFile) ? nats : undefined;
}

/** How long the admin waits for a running launcher to stop a revoked participant's actors before reloading anyway. */
const LAUNCHER_FOLLOW_TIMEOUT_MS = 20_000;

/**
 * When another process's launcher follows this dir, it stops a revoked participant's actors and then brings the
 * broker in line itself: waiting for that (the config file matching the new list) lets those actors shut down
 * while their connections still work. The admin reloads afterwards regardless, so a launcher that is slow or gone
 * only costs the wait.
 */
async function waitForLauncher(dir: string, network: NetworkDescription): Promise<void> {
  const running = (await readLauncherState(dir))?.running;
  const pid = running?.launcherPid;
  if (!running || !pid || pid === process.pid || !isProcessAlive(pid)) return;
  const want = natsServerConfig(network, running.nats.config);
  const deadline = Date.now() + LAUNCHER_FOLLOW_TIMEOUT_MS;
  while (Date.now() < deadline && isProcessAlive(pid)) {
    if ((await readFile(running.nats.configFile, 'utf8').catch(() => '')) === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function syncBroker(dir: string, network: NetworkDescription, opts: BrokerOptions): Promise<BrokerOutcome> {
  const nats = await brokerOf(dir, opts);
  if (!nats) return { status: 'not-running' };
  await applyPermissionList(nats, network, { reload: 'always' });
  return { status: 'reloaded', pid: nats.pid };
}

/** Generates a participant, writes its secrets (0600), lets the broker accept it and appends it to network.json. */
export async function permitParticipant(dir: string, opts: PermitOptions = {}): Promise<PermitResult> {
  return withFileLock(lockFile(dir), async () => {
    const { file, network } = await loadExisting(dir);
    const paths = networkPaths(dir);
    const withSecrets = await idsWithSecrets(paths.secretsDir);
    const id = opts.id ?? nextParticipantId(network, withSecrets);
    assertParticipantId(id);
    if (network.participants.some((p) => p.id === id)) throw new CodedError(ErrorCode.Conflict, `participant ${id} is already permitted`, { id });
    const secretsFile = path.join(paths.secretsDir, `${id}.json`);
    if (existsSync(secretsFile)) {
      throw new CodedError(ErrorCode.Conflict, `${secretsFile} already exists (a revoked participant's keys?); remove it or choose another id`, { id });
    }
    const free = await nextParticipantPorts(network, isPortFree);
    const { participant, secrets } = generateParticipant({
      id,
      name: opts.name,
      rpcPort: opts.rpcPort ?? free.rpcPort,
      tmPort: opts.tmPort ?? free.tmPort,
      accounts: opts.accounts,
    });
    const next = addParticipant(network, participant);

    await mkdir(paths.secretsDir, { recursive: true, mode: 0o700 });
    await writeSecretsFile(secretsFile, secrets);
    let broker: BrokerOutcome;
    try {
      broker = await syncBroker(dir, next, opts);
    } catch (err) {
      // The broker refused or did not answer: leave everything as it was, the old list in force.
      await rm(secretsFile, { force: true });
      const nats = await brokerOf(dir, opts).catch(() => undefined);
      if (nats) await writeNatsConfigFile(nats.configFile, network, nats.config).catch(() => {});
      throw err;
    }
    await writeJsonAtomic(file, next);
    return { participant, secrets, secretsFile, network: next, broker };
  });
}

/**
 * Removes participant `id` from network.json, then reloads the broker: its users' live connections are closed
 * and their reconnects refused. Its secrets file and database are kept (an auditor may need them).
 */
export async function revokeParticipant(dir: string, id: string, opts: RevokeOptions = {}): Promise<RevokeResult> {
  return withFileLock(lockFile(dir), async () => {
    const { file, network } = await loadExisting(dir);
    const next = removeParticipant(network, id);
    const participant = network.participants.find((p) => p.id === id)!;
    await writeJsonAtomic(file, next);
    await (opts.beforeBroker ?? ((n) => waitForLauncher(dir, n)))(next);
    const broker = await syncBroker(dir, next, opts);
    return { participant, network: next, broker };
  });
}

/** The permitted participants, as network.json lists them. */
export async function listParticipants(dir: string): Promise<Participant[]> {
  return (await loadExisting(dir)).network.participants;
}
