/**
 * One nats-server per participant, joined as one cluster (cli/nats/server.ts startNatsCluster): traffic between
 * participants crosses the routes (publish, and request/reply with its reply permission), every broker enforces
 * the same generated permissions, and losing one broker loses that participant only; supervised, it rejoins.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { errors, type NatsConnection, type Status } from '@nats-io/nats-core';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import type { ActorName } from '../../lib/network/description.js';
import { startNatsCluster, type NatsServer } from '../../cli/nats/server.js';
import { connectActor } from '../../lib/nats/connect.js';
import { createBus, type Bus } from '../../lib/bus.js';
import { createLogger } from '../../lib/logger.js';
import { subjects, type Scope } from '../../lib/subjects.js';

let dir: string;
let gen: GeneratedNetwork;
let servers: Record<string, NatsServer> = {};
const buses: Bus[] = [];
const log = createLogger({ test: 'nats-cluster' }, 'error');
const scope = (participant: string): Scope => ({ net: gen.network.name, participant });

async function busOf(participant: string, actor: ActorName): Promise<Bus> {
  const nc = await connectActor({ url: servers[participant].url, network: gen.network, secrets: gen.secrets[participant], actor });
  const bus = createBus(nc, scope(participant), actor, log);
  buses.push(bus);
  return bus;
}

/** Publishes with `send` until `received` holds: routes and interest take a moment to spread through a cluster. */
async function deliver(send: () => void, received: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!received()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    send();
    await new Promise((r) => setTimeout(r, 100));
  }
}

function violation(nc: NatsConnection): Promise<Error> {
  return (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) return s.error;
    throw new Error('closed without a permission violation');
  })();
}

describe('one nats-server per participant, joined as a cluster', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-nats-cluster-'));
    gen = generateNetwork({ participants: 3, name: 'clusternet' });
    await writeNetwork(dir, gen);
    ({ servers } = await startNatsCluster({ network: gen.network, dir, ids: ['p1', 'p2', 'p3'], restartCrashed: true }));
  });

  after(async () => {
    await Promise.allSettled(buses.map((b) => b.close()));
    await Promise.allSettled(Object.values(servers).map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('carries traffic between participants on different brokers, with the same permissions on each', async () => {
    assert.equal(new Set(Object.values(servers).map((s) => s.url)).size, 3);
    const c1 = await busOf('p1', 'consensus');
    const c2 = await busOf('p2', 'consensus');
    const got: string[] = [];
    c2.subscribe(subjects.peerInbound(scope('p2')), z.object({ hello: z.string() }), (m, ctx) => void got.push(`${ctx.subject}:${m.hello}`));
    await c2.connection.flush();
    await deliver(() => c1.publish(subjects.peer(gen.network.name, 'p2', 'p1'), { hello: 'p2' }), () => got.length > 0, 'p1 → p2 consensus across the route');
    assert.equal(got[0], `${subjects.peer(gen.network.name, 'p2', 'p1')}:p2`);

    // Request/reply across the route: p1's tm pushes to p3's tm, whose reply goes back through its own broker.
    const t1 = await busOf('p1', 'tm');
    const t3 = await busOf('p3', 'tm');
    t3.serve(subjects.tmPushInbound(scope('p3')), z.object({ n: z.number() }), (r) => ({ ack: r.n + 1 }));
    await t3.connection.flush();
    let reply: unknown;
    const deadline = Date.now() + 10_000;
    while (reply === undefined) {
      reply = await t1.request(subjects.tmPush(gen.network.name, 'p3', 'p1'), { n: 41 }, z.object({ ack: z.number() }), { timeoutMs: 1_000 }).catch((err) => {
        if (Date.now() > deadline) throw err;
        return undefined;
      });
    }
    assert.deepEqual(reply, { ack: 42 });

    // p2's broker refuses what p2's consensus may not do (publish as p1), like p1's would.
    const refused = violation(c2.connection);
    c2.publish(subjects.peer(gen.network.name, 'p3', 'p1'), { hello: 'forged' });
    assert.match(String((await refused).message), /permissions violation for publish/i);
  });

  it('losing one broker loses that participant only; the launcher-style supervisor brings it back into the cluster', async () => {
    const c1 = await busOf('p1', 'consensus');
    const c2 = await busOf('p2', 'consensus');
    const c3 = await busOf('p3', 'consensus');
    const got3: string[] = [];
    const got1: string[] = [];
    c3.subscribe(subjects.peerInbound(scope('p3')), z.object({ n: z.number() }), (m, ctx) => void got3.push(`${ctx.subject}:${m.n}`));
    c1.subscribe(subjects.peerInbound(scope('p1')), z.object({ n: z.number() }), (m, ctx) => void got1.push(`${ctx.subject}:${m.n}`));
    await Promise.all([c1, c3].map((b) => b.connection.flush()));
    const pid = servers.p1.pid;
    await servers.p1.kill('SIGKILL');

    // p2 and p3 still talk while p1's broker is down (or restarting).
    await deliver(() => c2.publish(subjects.peer(gen.network.name, 'p3', 'p2'), { n: 1 }), () => got3.includes(`${subjects.peer(gen.network.name, 'p3', 'p2')}:1`), 'p2 → p3 with p1 down');

    // p1's broker comes back on its port, rejoins by its routes, and p1 hears from p2 again.
    const deadline = Date.now() + 15_000;
    while (!(servers.p1.running() && servers.p1.pid !== pid)) {
      if (Date.now() > deadline) throw new Error('p1 broker not restarted');
      await new Promise((r) => setTimeout(r, 50));
    }
    await deliver(() => c2.publish(subjects.peer(gen.network.name, 'p1', 'p2'), { n: 2 }), () => got1.length > 0, 'p2 → p1 after p1 broker restart', 15_000);
  });
});
