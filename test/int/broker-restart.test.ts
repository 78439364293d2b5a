/**
 * The bus across a broker that dies and comes back (lib/bus.ts, lib/nats/link.ts), with a real nats-server
 * started by the project: what an actor publishes while the broker is down reaches its subscribers once it is
 * back, a request made meanwhile waits for the link and is answered, one in flight when the link drops fails at
 * once, and the supervised server (restartCrashed) comes back by itself on the same port.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { NatsConnection, Status } from '@nats-io/nats-core';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import type { ActorName } from '../../lib/network/description.js';
import { startNatsServer, type NatsServer } from '../../cli/nats/server.js';
import { connectActor } from '../../lib/nats/connect.js';
import { createBus, NoResponderError, type Bus } from '../../lib/bus.js';
import { createLogger } from '../../lib/logger.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { subjects, type Scope } from '../../lib/subjects.js';

let dir: string;
let gen: GeneratedNetwork;
const servers: NatsServer[] = [];
const buses: Bus[] = [];
const log = createLogger({ test: 'broker-restart' }, (process.env.QUORUM_LOG_LEVEL as 'info') ?? 'error');

async function busOf(server: NatsServer, actor: ActorName): Promise<Bus> {
  const nc = await connectActor({ url: server.url, network: gen.network, secrets: gen.secrets.p1, actor });
  const bus = createBus(nc, { net: gen.network.name, participant: 'p1' }, actor, log);
  buses.push(bus);
  return bus;
}

/** Resolves on the connection's next status event of `type`. */
function next(nc: NatsConnection, type: Status['type']): Promise<void> {
  return (async () => {
    for await (const s of nc.status()) if (s.type === type) return;
  })();
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the bus across a broker restart', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-broker-restart-'));
    gen = generateNetwork({ participants: 1, name: 'restartnet' });
    await writeNetwork(dir, gen);
  });

  after(async () => {
    await Promise.allSettled(buses.map((b) => b.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('publishes made while the broker is down arrive after it is back; a request made meanwhile is answered', async () => {
    const first = await startNatsServer({ network: gen.network, dir });
    servers.push(first);
    const scope: Scope = { net: gen.network.name, participant: 'p1' };
    const consensus = await busOf(first, 'consensus');
    const executor = await busOf(first, 'executor');
    const gateway = await busOf(first, 'gateway');
    const got: number[] = [];
    executor.subscribe(subjects.committedBlocks(scope), z.object({ n: z.number() }), (m) => void got.push(m.n));
    executor.serve(subjects.ledgerQuery(scope), z.object({ q: z.string() }), (r) => ({ a: r.q.toUpperCase() }));
    await executor.connection.flush();
    consensus.publish(subjects.committedBlocks(scope), { n: 0 });
    await until(() => got.length === 1, 5_000, 'the first message');

    // In flight when the broker dies: fails at once with Unavailable (it may have been received), not at its timeout.
    const slow = z.object({ a: z.string() });
    const state = await busOf(first, 'state');
    let reached = false;
    state.serve(subjects.stateRead(scope, 'public'), z.unknown(), () => {
      reached = true;
      return new Promise(() => {}); // never answers
    });
    await state.connection.flush();
    const lostAll = Promise.all([consensus, executor, gateway, state].map((b) => next(b.connection, 'disconnect')));
    const inFlight = gateway.request(subjects.stateRead(scope, 'public'), {}, slow, { timeoutMs: 60_000 }).then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    await until(() => reached, 5_000, 'the request to reach its responder');
    await first.kill('SIGKILL');
    await lostAll;
    const lost = await inFlight;
    assert.ok(lost instanceof CodedError && lost.code === ErrorCode.Unavailable, `in flight: ${String(lost)}`);
    assert.match((lost as Error).message, /connection to the broker lost/);

    // While down: published, and asked.
    for (let n = 1; n <= 5; n++) consensus.publish(subjects.committedBlocks(scope), { n });
    // Actors reconnect one by one: until the executor has, the request may meet no responder, and is asked again
    // (never sent twice otherwise), as the gateway does.
    const asked = (async () => {
      for (;;) {
        try {
          return await gateway.request(subjects.ledgerQuery(scope), { q: 'back' }, slow, { timeoutMs: 30_000 });
        } catch (err) {
          if (!(err instanceof NoResponderError)) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();

    const second = await startNatsServer({ network: gen.network, dir, port: first.port });
    servers.push(second);
    assert.deepEqual(await asked, { a: 'BACK' });
    await until(() => [1, 2, 3, 4, 5].every((n) => got.includes(n)), 10_000, `the messages published while down (got ${got.join(',')})`);
  });

  it('a supervised server comes back by itself on the same port, and the bus with it', async () => {
    const server = await startNatsServer({ network: gen.network, dir, restartCrashed: true });
    servers.push(server);
    const scope: Scope = { net: gen.network.name, participant: 'p1' };
    const consensus = await busOf(server, 'consensus');
    const executor = await busOf(server, 'executor');
    const got: number[] = [];
    executor.subscribe(subjects.committedBlocks(scope), z.object({ n: z.number() }), (m) => void got.push(m.n));
    await executor.connection.flush();
    const pid = server.pid;
    const back = next(executor.connection, 'reconnect');
    await server.kill('SIGKILL');
    await until(() => server.running() && server.pid !== pid, 15_000, 'the server to be restarted');
    assert.equal(server.restarts, 1);
    assert.equal(server.url, `nats://127.0.0.1:${server.port}`);
    await back;
    await executor.connection.flush(); // its subscription is back on the server
    consensus.publish(subjects.committedBlocks(scope), { n: 42 });
    await until(() => got.includes(42), 10_000, 'a message through the restarted server');
  });
});
