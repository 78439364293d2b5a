/**
 * The broker enforces the permission list: a real nats-server, started by the project with the
 * configuration generated from the network description (cli/nats/server-config.ts ← lib/subjects.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { errors, type NatsConnection, type Msg, type Status } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import type { ActorName } from '../../lib/network/description.js';
import { startNatsServer, type NatsServer } from '../../cli/nats/server.js';
import { connectAs, connectActor } from '../../lib/nats/connect.js';
import { subjects } from '../../lib/subjects.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

let dir: string;
let gen: GeneratedNetwork;
let server: NatsServer;
const open: NatsConnection[] = [];

async function as(participant: string, actor: ActorName): Promise<NatsConnection> {
  const nc = await connectActor({ url: server.url, network: gen.network, secrets: gen.secrets[participant], actor, options: { maxReconnectAttempts: 0 } });
  open.push(nc);
  return nc;
}

/** Collects the permission violations the server reports to this connection. */
function violations(nc: NatsConnection): { list: InstanceType<typeof errors.PermissionViolationError>[]; next(timeoutMs?: number): Promise<InstanceType<typeof errors.PermissionViolationError>> } {
  const list: InstanceType<typeof errors.PermissionViolationError>[] = [];
  const waiters: Array<() => void> = [];
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status>) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) {
        list.push(s.error);
        waiters.splice(0).forEach((w) => w());
      }
    }
  })();
  return {
    list,
    async next(timeoutMs = 3_000) {
      const seen = list.length;
      if (seen > 0) return list[seen - 1];
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no permission violation reported')), timeoutMs);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
      return list[list.length - 1];
    },
  };
}

/** Subscribes and records every message; `waitFor` resolves when a message with the given body arrives. */
function record(nc: NatsConnection, subject: string) {
  const got: Msg[] = [];
  const waiters = new Map<string, () => void>();
  nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) return;
      got.push(msg);
      waiters.get(dec.decode(msg.data))?.();
    },
  });
  return {
    bodies: () => got.map((m) => dec.decode(m.data)),
    waitFor: (body: string, timeoutMs = 3_000) =>
      got.some((m) => dec.decode(m.data) === body)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`message ${body} not received on ${subject}`)), timeoutMs);
            waiters.set(body, () => {
              clearTimeout(t);
              resolve();
            });
          }),
  };
}

describe('nats-server permissions generated from the network description', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-nats-perm-'));
    gen = generateNetwork({ participants: 3, name: 'permnet' });
    await writeNetwork(dir, gen);
    server = await startNatsServer({ network: gen.network, dir });
  });

  after(async () => {
    await Promise.allSettled(open.map((nc) => nc.close()));
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses a client whose NKEY is not in the configuration', async () => {
    const stranger = createUser();
    await assert.rejects(
      connectAs({
        url: server.url,
        seed: dec.decode(stranger.getSeed()),
        name: 'stranger',
        inboxPrefix: '_INBOX.permnet.p9.gateway',
        options: { maxReconnectAttempts: 0, reconnect: false },
      }),
      (err: unknown) => {
        assert.ok(err instanceof errors.AuthorizationError, `expected AuthorizationError, got ${String(err)}`);
        return true;
      },
    );
  });

  it('refuses a client without credentials', async () => {
    await assert.rejects(connect({ servers: server.url, reconnect: false }), (err: unknown) => {
      assert.ok(err instanceof errors.AuthorizationError, `expected AuthorizationError, got ${String(err)}`);
      return true;
    });
  });

  it("p1's gateway cannot publish on p2's consensus subjects", async () => {
    const net = gen.network.name;
    const p2submit = subjects.submitTxs({ net, participant: 'p2' });
    const p2consensus = await as('p2', 'consensus');
    const inbox = record(p2consensus, p2submit);
    await p2consensus.flush();

    const p1gateway = await as('p1', 'gateway');
    const v = violations(p1gateway);
    p1gateway.publish(p2submit, enc.encode('forged'));
    await p1gateway.flush();
    const violation = await v.next();
    assert.equal(violation.operation, 'publish');
    assert.equal(violation.subject, p2submit);

    // The legitimate publisher (p2's own gateway) gets through; the forged message never arrived.
    const p2gateway = await as('p2', 'gateway');
    p2gateway.publish(p2submit, enc.encode('legit'));
    await p2gateway.flush();
    await inbox.waitFor('legit');
    assert.deepEqual(inbox.bodies(), ['legit']);
    assert.equal(p1gateway.isClosed(), false, 'a permission violation does not close the connection');
  });

  it("p1's gateway can request p1's consensus and gets the reply on its scoped inbox", async () => {
    const scope = { net: gen.network.name, participant: 'p1' };
    const consensus = await as('p1', 'consensus');
    let replyTo = '';
    consensus.subscribe(subjects.submitTxs(scope), {
      callback: (err, msg) => {
        if (err) return;
        replyTo = msg.reply ?? '';
        msg.respond(enc.encode(`ack:${dec.decode(msg.data)}`));
      },
    });
    await consensus.flush();

    const gateway = await as('p1', 'gateway');
    const reply = await gateway.request(subjects.submitTxs(scope), enc.encode('tx1'), { timeout: 3_000 });
    assert.equal(dec.decode(reply.data), 'ack:tx1');
    assert.ok(replyTo.startsWith(`${subjects.inboxPrefix(scope, 'gateway')}.`), `reply subject ${replyTo} is inside the gateway's inbox`);

    // The same request with the default _INBOX prefix fails: replies are scoped per actor.
    const unscoped = await connectAs({
      url: server.url,
      seed: gen.secrets.p1.nkeySeeds.gateway,
      name: 'p1-gateway-unscoped',
      inboxPrefix: '_INBOX',
      options: { maxReconnectAttempts: 0 },
    });
    open.push(unscoped);
    await assert.rejects(unscoped.request(subjects.submitTxs(scope), enc.encode('tx2'), { timeout: 2_000 }));
  });

  it("p2's consensus cannot impersonate p1 towards p3", async () => {
    const net = gen.network.name;
    const forgedSubject = subjects.peer(net, 'p3', 'p1');
    const p3consensus = await as('p3', 'consensus');
    const inbox = record(p3consensus, subjects.peerInbound({ net, participant: 'p3' }));
    await p3consensus.flush();

    const p2consensus = await as('p2', 'consensus');
    const v = violations(p2consensus);
    p2consensus.publish(forgedSubject, enc.encode('forged-by-p2'));
    await p2consensus.flush();
    const violation = await v.next();
    assert.equal(violation.operation, 'publish');
    assert.equal(violation.subject, forgedSubject);

    // p2 may speak as itself, and p1 may speak as p1.
    p2consensus.publish(subjects.peer(net, 'p3', 'p2'), enc.encode('from-p2'));
    await p2consensus.flush();
    const p1consensus = await as('p1', 'consensus');
    p1consensus.publish(forgedSubject, enc.encode('from-p1'));
    await p1consensus.flush();
    await inbox.waitFor('from-p2');
    await inbox.waitFor('from-p1');
    assert.deepEqual(inbox.bodies().sort(), ['from-p1', 'from-p2']);
    assert.equal(v.list.length, 1);
  });

  it('an actor with no publish rights (state) can still answer requests but publish nothing', async () => {
    const scope = { net: gen.network.name, participant: 'p1' };
    const state = await as('p1', 'state');
    state.subscribe(subjects.stateRead(scope), {
      callback: (err, msg) => {
        if (!err) msg.respond(enc.encode('balance:42'));
      },
    });
    await state.flush();
    const gateway = await as('p1', 'gateway');
    const reply = await gateway.request(subjects.stateRead(scope), enc.encode('q'), { timeout: 3_000 });
    assert.equal(dec.decode(reply.data), 'balance:42');

    const v = violations(state);
    state.publish(subjects.blockExecuted(scope), enc.encode('x'));
    await state.flush();
    const violation = await v.next();
    assert.equal(violation.subject, subjects.blockExecuted(scope));
  });

  it('subscriptions are scoped too: p1 gateway cannot listen to p2 events', async () => {
    const gateway = await as('p1', 'gateway');
    const sub = gateway.subscribe(subjects.blockExecuted({ net: gen.network.name, participant: 'p2' }));
    const ended = (async () => {
      for await (const _ of sub) {
        /* nothing may arrive */
      }
    })();
    await assert.rejects(ended, (err: unknown) => {
      assert.ok(err instanceof errors.PermissionViolationError);
      assert.equal(err.operation, 'subscription');
      return true;
    });
  });
});
