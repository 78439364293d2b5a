/**
 * The permission list governs who may connect, at run time: a real nats-server started by the project from a
 * generated 4-participant network; permit/revoke (cli/admin/permissions.ts, the code behind `npm run admin` and
 * RunningNetwork.permit/revoke) rewrite its configuration and reload it in place.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { errors, type NatsConnection, type Status } from '@nats-io/nats-core';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import { ACTORS, type ActorName, type ParticipantSecrets } from '../../lib/network/description.js';
import { loadNetwork, loadSecrets } from '../../lib/network/load.js';
import { isNatsServerRunning, startNatsServer, type NatsServer } from '../../cli/nats/server.js';
import { connectActor } from '../../lib/nats/connect.js';
import { subjects } from '../../lib/subjects.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { permitParticipant, revokeParticipant } from '../../cli/admin/permissions.js';
import { natsServerRecord, writeLauncherState } from '../../cli/admin/launcher-state.js';
import { DIST_DIR } from '../../cli/launcher/network-runner.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const run = promisify(execFile);

let dir: string;
let gen: GeneratedNetwork;
let server: NatsServer;
const open: NatsConnection[] = [];

/** Connects as one actor; no reconnects, so a connection the server drops ends up closed and observable. */
async function as(secrets: ParticipantSecrets, actor: ActorName): Promise<NatsConnection> {
  const nc = await connectActor({ url: server.url, network: gen.network, secrets, actor, options: { reconnect: false, maxReconnectAttempts: 0 } });
  open.push(nc);
  return nc;
}

/** Every status event of a connection, as it happens. */
function statuses(nc: NatsConnection): Status[] {
  const seen: Status[] = [];
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) seen.push(s);
  })();
  return seen;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() =>
    clearTimeout(t),
  );
}

/** Subscribes on `nc` and resolves with the first message body on `subject`. */
async function firstMessage(nc: NatsConnection, subject: string): Promise<() => Promise<string>> {
  const sub = nc.subscribe(subject, { max: 1 });
  await nc.flush();
  return async () => {
    for await (const m of sub) return dec.decode(m.data);
    throw new Error(`subscription to ${subject} ended without a message`);
  };
}

const isAuthError = (err: unknown) => {
  assert.ok(err instanceof errors.AuthorizationError, `expected AuthorizationError, got ${String(err)}`);
  return true;
};

describe('the permission list governs who may connect, at run time', () => {
  let p1: NatsConnection;
  let p1Status: Status[];
  let pid: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-permit-'));
    gen = generateNetwork({ participants: 4, name: 'permlist' });
    await writeNetwork(dir, gen);
    server = await startNatsServer({ network: gen.network, dir });
    pid = server.pid;
    p1 = await as(gen.secrets.p1, 'consensus');
    p1Status = statuses(p1);
  });

  after(async () => {
    await Promise.allSettled(open.map((nc) => nc.close()));
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('revoking p4 closes its live connection and refuses its reconnect; p1 keeps publishing and subscribing', async () => {
    const p4 = await as(gen.secrets.p4, 'consensus');
    const p4Status = statuses(p4);
    const p4Closed = p4.closed();

    const r = await revokeParticipant(dir, 'p4', { nats: server });
    assert.deepEqual(r.broker, { status: 'reloaded', pid });
    assert.deepEqual((await loadNetwork(path.join(dir, 'network.json'))).participants.map((p) => p.id), ['p1', 'p2', 'p3']);

    // The reload itself drops the revoked user's connection: nothing else touches it.
    await within(p4Closed, 5_000, "p4's connection to be closed by the reload");
    assert.equal(p4.isClosed(), true);
    assert.ok(p4Status.some((s) => s.type === 'disconnect'), `p4 saw ${p4Status.map((s) => s.type).join(', ')}`);

    // A reconnect with any of p4's credentials is refused.
    await assert.rejects(as(gen.secrets.p4, 'consensus'), isAuthError);
    await assert.rejects(as(gen.secrets.p4, 'gateway'), isAuthError);

    // p1 is unaffected: it publishes as itself and receives on its own subjects (a peer message to itself).
    const scope = { net: gen.network.name, participant: 'p1' };
    const next = await firstMessage(p1, subjects.peerInbound(scope));
    p1.publish(subjects.peer(scope.net, 'p1', 'p1'), enc.encode('still here'));
    assert.equal(await within(next(), 3_000, 'p1 to receive its own message'), 'still here');
    assert.equal(p1.isClosed(), false);
  });

  it('permitting p5 lets its actors connect and publish at once, without restarting the server', async () => {
    const r = await permitParticipant(dir, { nats: server });
    // p4's keys are still on disk, so the newcomer is p5, not a second p4.
    assert.equal(r.participant.id, 'p5');
    assert.deepEqual(r.broker, { status: 'reloaded', pid });
    const onDisk = await loadNetwork(path.join(dir, 'network.json'));
    assert.deepEqual(onDisk.participants.map((p) => p.id), ['p1', 'p2', 'p3', 'p5']);
    const secrets = await loadSecrets(r.secretsFile, onDisk); // written, 0600, matching the description
    assert.equal(secrets.participant, 'p5');

    // Every actor of p5 can connect.
    const conns = Object.fromEntries(await Promise.all(ACTORS.map(async (a) => [a, await as(secrets, a)] as const))) as Record<ActorName, NatsConnection>;
    // p5's consensus speaks to p1's, on the subject only p5 may publish to.
    const scope1 = { net: gen.network.name, participant: 'p1' };
    const atP1 = await firstMessage(p1, subjects.peerInbound(scope1));
    conns.consensus.publish(subjects.peer(scope1.net, 'p1', 'p5'), enc.encode('hello from p5'));
    assert.equal(await within(atP1(), 3_000, "p1 to hear p5's consensus"), 'hello from p5');
    // p5's gateway reaches p5's consensus (request/reply inside p5's own permissions).
    const scope5 = { net: gen.network.name, participant: 'p5' };
    conns.consensus.subscribe(subjects.submitTxs(scope5), {
      callback: (err, m) => {
        if (!err) m.respond(enc.encode('ack'));
      },
    });
    await conns.consensus.flush();
    const reply = await conns.gateway.request(subjects.submitTxs(scope5), enc.encode('tx'), { timeout: 3_000 });
    assert.equal(dec.decode(reply.data), 'ack');

    // Reloaded, not restarted: same process, one start in its log, and p1's connection never dropped.
    assert.equal(server.pid, pid);
    assert.ok(isNatsServerRunning(pid, server.configFile));
    const log = await readFile(server.logFile, 'utf8');
    assert.equal(log.match(/Server is ready/g)?.length, 1);
    assert.equal(log.match(/Reloaded server configuration/g)?.length, 2);
    assert.deepEqual(p1Status.filter((s) => s.type === 'disconnect' || s.type === 'reconnect'), []);
    assert.equal(p1.isClosed(), false);
  });

  it('refuses to revoke an unknown participant or the last one, changing nothing', async () => {
    const before = await readFile(path.join(dir, 'network.json'), 'utf8');
    await assert.rejects(revokeParticipant(dir, 'p4', { nats: server }), (err: unknown) => err instanceof CodedError && err.code === ErrorCode.NotFound);
    const solo = await mkdtemp(path.join(os.tmpdir(), 'quorum-permit-solo-'));
    try {
      await writeNetwork(solo, generateNetwork({ participants: 1, name: 'solo' }));
      await assert.rejects(revokeParticipant(solo, 'p1'), (err: unknown) => err instanceof CodedError && err.code === ErrorCode.Rejected && /last one/.test(err.message));
    } finally {
      await rm(solo, { recursive: true, force: true });
    }
    assert.equal(await readFile(path.join(dir, 'network.json'), 'utf8'), before);
  });

  it('npm run admin: list, permit and revoke against the running server found through launcher.json', async () => {
    // A broker runs for this dir, no launcher follows it: the admin reloads at once.
    await writeLauncherState(dir, { dbPrefix: 'unused', running: { nats: natsServerRecord(server) } });
    const admin = (...args: string[]) => run(process.execPath, [path.join(DIST_DIR, 'cli/admin.js'), ...args]);

    const list = await admin('list', '--dir', dir);
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => l.split('\t')[0]), ['p1', 'p2', 'p3', 'p5']);

    const permit = await admin('permit', '--dir', dir, '--id', 'p6', '--name', 'Bank F');
    assert.match(permit.stdout, new RegExp(`permitted p6 \\(Bank F\\).*nats-server \\(pid ${pid}\\) reloaded`));
    const net = await loadNetwork(path.join(dir, 'network.json'));
    const p6 = await loadSecrets(path.join(dir, 'secrets', 'p6.json'), net);
    await as(p6, 'tm'); // accepted straight away

    const revoke = await admin('revoke', 'p6', '--dir', dir);
    assert.match(revoke.stdout, /revoked p6/);
    await assert.rejects(as(p6, 'tm'), isAuthError);

    await assert.rejects(admin('revoke', 'p9', '--dir', dir), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /participant p9 is not permitted/);
      return true;
    });
    await assert.rejects(admin('permit', '--dir', dir, '--id', 'p1'), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr ?? '', /p1 is already permitted/);
      return true;
    });
    assert.equal(server.pid, pid);
    assert.equal(p1.isClosed(), false);
  });
});
