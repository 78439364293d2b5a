/**
 * The enclave actor over a real nats-server with the generated permissions: each participant's enclave shell
 * runs in-process on its own `enclave` NKEY user, and the shared Enclave suite drives it through
 * createEnclaveClient on that participant's `tm` user. The broker lets only a participant's own tm reach it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errors, type NatsConnection, type Status } from '@nats-io/nats-core';
import { createBus, type Bus } from '../../lib/bus.js';
import { encodeJson } from '../../lib/codec.js';
import { ErrorCode } from '../../lib/errors.js';
import { createLogger } from '../../lib/logger.js';
import type { ActorName } from '../../lib/network/description.js';
import { generateNetwork, writeNetwork, type GeneratedNetwork } from '../../cli/network/generate.js';
import { connectActor } from '../../lib/nats/connect.js';
import { startNatsServer, type NatsServer } from '../../cli/nats/server.js';
import { subjects, type Scope } from '../../lib/subjects.js';
import { createEnclaveClient, startEnclave, type RunningEnclave } from '../../actors/enclave/index.js';
import { KeyUnlockError } from '../../actors/enclave/locked-key.js';
import { enclaveSuite, rejectsWith } from '../support/enclave-suite.js';

const PARTICIPANTS = ['p1', 'p2', 'p3'];
const log = createLogger({ test: 'enclave' }, 'error');

let dir: string;
let gen: GeneratedNetwork;
let server: NatsServer;
const connections: NatsConnection[] = [];
const enclaves: Record<string, RunningEnclave> = {};
const tmBuses: Record<string, Bus> = {};

const scopeOf = (participant: string): Scope => ({ net: gen.network.name, participant });

async function connectAsActor(participant: string, actor: ActorName): Promise<NatsConnection> {
  const nc = await connectActor({ url: server.url, network: gen.network, secrets: gen.secrets[participant], actor, options: { maxReconnectAttempts: 0 } });
  connections.push(nc);
  return nc;
}

async function busOf(participant: string, actor: ActorName): Promise<Bus> {
  return createBus(await connectAsActor(participant, actor), scopeOf(participant), actor, log);
}

/** Resolves with the next permission violation the server reports to `nc`. */
function nextViolation(nc: NatsConnection, timeoutMs = 3_000): Promise<InstanceType<typeof errors.PermissionViolationError>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no permission violation reported')), timeoutMs);
    void (async () => {
      for await (const s of nc.status() as AsyncIterable<Status>) {
        if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) {
          clearTimeout(t);
          resolve(s.error);
          return;
        }
      }
    })();
  });
}

/** The PermissionViolationError a refused request carries (nats.js wraps it in a RequestError), or undefined. */
function refusal(err: unknown): InstanceType<typeof errors.PermissionViolationError> | undefined {
  if (err instanceof errors.PermissionViolationError) return err;
  if (err instanceof errors.RequestError && err.cause instanceof errors.PermissionViolationError) return err.cause;
  return undefined;
}

describe('enclave actor over NATS', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quorum-enclave-'));
    gen = generateNetwork({ participants: PARTICIPANTS.length, name: 'enclnet' });
    await writeNetwork(dir, gen);
    server = await startNatsServer({ network: gen.network, dir });
    for (const p of PARTICIPANTS) {
      enclaves[p] = await startEnclave({ bus: await busOf(p, 'enclave'), secrets: gen.secrets[p], log });
      tmBuses[p] = await busOf(p, 'tm');
    }
  });

  after(async () => {
    await Promise.allSettled(Object.values(enclaves).map((e) => e.stop()));
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  enclaveSuite('clients over each participant’s tm user', async () => ({
    parties: PARTICIPANTS.map((p) => ({ id: p, publicKey: gen.secrets[p].enclaveKey.publicKey, enclave: createEnclaveClient(tmBuses[p]) })),
  }));

  it('each enclave serves the key the network description publishes for its participant', () => {
    for (const p of PARTICIPANTS) {
      const published = gen.network.participants.find((x) => x.id === p)?.privacyPublicKey;
      assert.deepEqual(enclaves[p].publicKeys, [published]);
    }
  });

  it("the broker refuses p3's tm on p1's enclave subjects", async () => {
    const p3tm = tmBuses.p3.connection;
    const subject = subjects.enclave(scopeOf('p1'), 'keys');
    const violation = nextViolation(p3tm);
    await assert.rejects(p3tm.request(subject, encodeJson({}), { timeout: 3_000 }), (err: unknown) => {
      const refused = refusal(err);
      assert.ok(refused, `expected a permission violation, got ${String(err)}`);
      assert.equal(refused.operation, 'publish');
      assert.equal(refused.subject, subject);
      return true;
    });
    assert.equal((await violation).subject, subject);

    // Through the client too: a p3 tm pointed at p1's enclave gets an error, never p1's keys.
    const misdirected = createEnclaveClient({ ...tmBuses.p3, scope: scopeOf('p1') });
    const p1key = gen.secrets.p1.enclaveKey.publicKey;
    const encoded = await createEnclaveClient(tmBuses.p1).encrypt(new Uint8Array([1, 2, 3]), p1key, [], 0);
    await rejectsWith(misdirected.decrypt(encoded, p1key), ErrorCode.Unavailable, /Permissions Violation for Publish/);
    await rejectsWith(misdirected.publicKeys(), ErrorCode.Unavailable, /Permissions Violation for Publish/);
    assert.equal(p3tm.isClosed(), false, 'a refused publish does not close the connection');
  });

  it("only p1's tm may call p1's enclave: not p1's gateway, and no other enclave listens in", async () => {
    const gateway = await connectAsActor('p1', 'gateway');
    const subject = subjects.enclave(scopeOf('p1'), 'keys');
    await assert.rejects(gateway.request(subject, encodeJson({}), { timeout: 3_000 }), (err: unknown) => refusal(err)?.operation === 'publish');

    const p2enclave = await connectAsActor('p2', 'enclave');
    const sub = p2enclave.subscribe(subjects.enclaveAll(scopeOf('p1')));
    await assert.rejects(
      (async () => {
        for await (const _ of sub) {
          /* nothing may arrive */
        }
      })(),
      (err: unknown) => err instanceof errors.PermissionViolationError && err.operation === 'subscription',
    );
  });

  it('starting an enclave with a wrong password fails with a clear error; the running one is unaffected', async () => {
    const bus = await busOf('p1', 'enclave');
    await assert.rejects(
      startEnclave({ bus, secrets: gen.secrets.p1, log, password: 'not the password' }),
      (err: unknown) => err instanceof KeyUnlockError && /^enclave of p1: cannot unlock the enclave key: wrong password, or the key file was altered$/.test(err.message),
    );
    const { enclavePassword: _, ...withoutPassword } = gen.secrets.p1;
    await assert.rejects(startEnclave({ bus, secrets: withoutPassword, log }), /no password for the enclave key of p1: set QUORUM_ENCLAVE_PASSWORD_FILE/);
    // p1's running enclave is still the only one answering, and answers correctly.
    assert.deepEqual(await createEnclaveClient(tmBuses.p1).publicKeys(), [gen.secrets.p1.enclaveKey.publicKey]);
  });

  it('a stopped enclave refuses instead of answering with wiped keys', async () => {
    const client = createEnclaveClient(tmBuses.p3);
    const key = gen.secrets.p3.enclaveKey.publicKey;
    const encoded = await client.encrypt(new Uint8Array([7]), key, [], 0);
    await enclaves.p3.stop();
    await rejectsWith(client.decrypt(encoded, key), ErrorCode.Unavailable, /^the enclave is stopping$/);
  });
});
