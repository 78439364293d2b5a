/**
 * The consensus shell's recovery over a real Postgres: three Raft participants (real shells, real event stores,
 * an in-memory broker), snapshots every few entries, and crashes at the awkward moments — between persisting and
 * sending, during a group commit of received transactions, and in the middle of a snapshot. A crash abandons the
 * instance (its broker connection goes dead, nothing more is written) and a new one restores from the database.
 *
 * Checked each time: what restore reads (the latest snapshot and the tail) rebuilds exactly what folding every
 * event gives (the reference, the way restore worked before snapshots); and at the end every acknowledged
 * transaction is final exactly once, every participant serves the same blocks from height 1 (compacted ones
 * from its stream), and the streams' hash chains verify.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import postgres, { type Sql } from 'postgres';
import { z } from 'zod';
import { createDatabase, databaseUrl, dropDatabase } from '../../cli/postgres-admin.js';
import type { Bus, HandlerContext } from '../../lib/bus.js';
import { EventStore, type NewEvent, type StoredEvent } from '../../lib/event-store/event-store.js';
import { createLogger } from '../../lib/logger.js';
import { RaftParams, type NetworkDescription, type ParticipantSecrets } from '../../lib/network/description.js';
import { subjects } from '../../lib/subjects.js';
import { CommittedBlock, CommittedRangeReply, SubmitResult } from '../../actors/consensus/messages.js';
import { startConsensus } from '../../actors/consensus/shell.js';
import { restoreConsensus, txsOf, toPoolTx, type Restored } from '../../actors/consensus/restore.js';
import { createCore } from '../../actors/consensus/cores.js';
import { foldPoolEvents, POOL_STREAM } from '../../actors/consensus/events.js';
import { TxPool } from '../../actors/consensus/pool.js';
import { RAFT_STREAM } from '../../actors/consensus/raft-events.js';

const NET = 'rec';
const IDS = ['p1', 'p2', 'p3'];
const SNAPSHOTS = { every: 5, keep: 3 };
const log = createLogger({ test: 'consensus-recovery' }, (process.env.QUORUM_LOG_LEVEL as never) || 'error');

// ---- an in-memory broker: subjects with '*' for one token, JSON on the wire, a dead participant hears nothing

type Handler = (payload: unknown, ctx: HandlerContext) => unknown;
class Hub {
  private readonly subs: { owner: string; pattern: string[]; handler: Handler; serve: boolean }[] = [];
  readonly dead = new Set<string>();

  private matches(pattern: string[], subject: string): boolean {
    const parts = subject.split('.');
    return parts.length === pattern.length && pattern.every((p, i) => p === '*' || p === parts[i]);
  }

  /** `owner` names one incarnation (its liveness); `participant` what subjects it is scoped to. */
  bus(owner: string, participant = owner): Bus {
    const hub = this;
    const add = (subject: string, schema: z.ZodType<unknown>, handler: Handler, serve: boolean) =>
      hub.subs.push({ owner, pattern: subject.split('.'), serve, handler: (payload, ctx) => handler(schema.parse(payload), ctx) });
    return {
      scope: { net: NET, participant },
      connection: undefined as never,
      publish(subject, payload) {
        if (hub.dead.has(owner)) return;
        const wire = JSON.stringify(payload);
        for (const s of hub.subs) {
          if (!s.serve && !hub.dead.has(s.owner) && hub.matches(s.pattern, subject)) setImmediate(() => void s.handler(JSON.parse(wire), { subject, traceparent: null }));
        }
      },
      async request(subject, payload, reply) {
        const server = hub.subs.find((s) => s.serve && !hub.dead.has(s.owner) && hub.matches(s.pattern, subject));
        if (!server) throw new Error(`no responder on ${subject}`);
        return reply.parse(JSON.parse(JSON.stringify(await server.handler(JSON.parse(JSON.stringify(payload)), { subject, traceparent: null }))));
      },
      serve: (subject, schema, handler) => void add(subject, schema as z.ZodType<unknown>, handler as Handler, true),
      subscribe: (subject, schema, handler) => void add(subject, schema as z.ZodType<unknown>, handler as Handler, false),
      // Delivery here is in-process: whatever was published has reached the broker.
      published: async () => true,
      async close() {},
    };
  }

}

// ---- a store that can crash: when `plan` matches an append, the process dies before or after the write

type CrashPlan = { when: (stream: string, events: NewEvent[]) => boolean; at: 'before-write' | 'after-write'; crashed: () => void };
function crashable(store: EventStore, plan: () => CrashPlan | null): EventStore {
  let dead = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'append') return Reflect.get(target, prop, receiver);
      return async (stream: string, expected: never, events: NewEvent[]) => {
        if (dead) throw new Error('crashed: nothing more is written');
        const p = plan();
        if (!p || !p.when(stream, events)) return target.append(stream, expected, events);
        if (p.at === 'after-write') await target.append(stream, expected, events);
        dead = true;
        p.crashed();
        throw new Error(`crashed ${p.at === 'after-write' ? 'after' : 'before'} writing ${events.map((e) => e.type).join(',')}`);
      };
    },
  });
}

// ---- the network

function participantKeys(id: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    id,
    validatorKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'),
    validatorPrivateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('hex'),
  };
}
const keys = IDS.map(participantKeys);
// The shell reads the consensus parameters, the genesis and the participants' ids and validator keys.
const network = {
  name: NET,
  chainId: 1337,
  devOnly: true,
  consensus: RaftParams.parse({ type: 'raft', tickMs: 10, blockPeriodMs: 10, electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, maxTxsPerBlock: 7 }),
  genesis: { timestamp: 1_700_000_000, gasLimit: '30000000', alloc: {} },
  participants: keys.map((k) => ({ id: k.id, validatorKey: k.validatorKey })),
} as unknown as NetworkDescription;
const secretsOf = (id: string) => ({ participant: id, validatorPrivateKey: keys.find((k) => k.id === id)!.validatorPrivateKey }) as unknown as ParticipantSecrets;
const ctxOf = (id: string, seed: number) => ({ network, secrets: secretsOf(id), participant: id, seed, snapshots: SNAPSHOTS });

interface Node {
  id: string;
  sql: Sql;
  plain: EventStore;
  plan: CrashPlan | null;
  stop: () => Promise<void>;
  incarnation: number;
}

const dbs = new Map(IDS.map((id) => [id, `quorum_test_rec_${id}_${randomBytes(4).toString('hex')}`]));
const hub = new Hub();
const nodes = new Map<string, Node>();
const exits: number[] = [];
const realExit = process.exit;
/** Every block each incarnation published, by participant: each height at most once per incarnation. */
const published = new Map<string, Map<number, string>>(IDS.map((id) => [id, new Map()]));

async function start(id: string): Promise<void> {
  const node = nodes.get(id)!;
  node.incarnation += 1;
  const incarnation = node.incarnation;
  const owner = `${id}#${incarnation}`;
  const store = crashable(node.plain, () => node.plan);
  const seen = new Set<number>();
  hub.bus(`watch-${id}-${incarnation}`).subscribe(subjects.committedBlocks({ net: NET, participant: id }), CommittedBlock, (b) => {
    if (node.incarnation !== incarnation) return;
    assert.ok(!seen.has(b.height), `${id} published height ${b.height} twice`);
    seen.add(b.height);
    published.get(id)!.set(b.height, JSON.stringify(b.transactions));
  });
  const handle = await startConsensus({ network, secrets: secretsOf(id), participant: id, bus: hub.bus(owner, id), store, log, now: () => Date.now(), seed: incarnation * 7919, snapshots: SNAPSHOTS });
  node.stop = () => handle.stop();
}

/** Arms a crash; resolves once the instance is dead (broker gone, nothing more written, its timers stopped). */
function crashWhen(id: string, when: CrashPlan['when'], at: CrashPlan['at']): Promise<void> {
  const node = nodes.get(id)!;
  return new Promise((resolve) => {
    node.plan = {
      when,
      at,
      crashed: () => {
        hub.dead.add(`${id}#${node.incarnation}`);
        node.plan = null;
        setImmediate(() => void node.stop().then(resolve));
      },
    };
  });
}

before(async () => {
  // The shell exits its process when persisting fails (the supervisor restarts it): here that is the crash.
  process.exit = ((code?: number) => void exits.push(code ?? 0)) as never;
  for (const id of IDS) {
    await createDatabase(dbs.get(id)!);
    const sql = postgres(databaseUrl(dbs.get(id)!), { max: 4, onnotice: () => {} });
    nodes.set(id, { id, sql, plain: await EventStore.open(sql, 'consensus'), plan: null, stop: async () => {}, incarnation: 0 });
  }
  for (const id of IDS) await start(id);
});

after(async () => {
  for (const n of nodes.values()) await n.stop();
  process.exit = realExit;
  for (const n of nodes.values()) await n.sql.end({ timeout: 2 });
  for (const db of dbs.values()) await dropDatabase(db);
});

// ---- transactions: distinct senders and hashes, nonces in order per sender

let txSeq = 0;
const acked = new Set<string>();
function txs(n: number, sender: number) {
  return Array.from({ length: n }, () => {
    txSeq += 1;
    return { raw: '0x' + txSeq.toString(16).padStart(8, '0'), hash: '0x' + txSeq.toString(16).padStart(64, '0'), from: '0x' + sender.toString(16).padStart(40, '0'), nonce: '0x' + (nonces[sender] = (nonces[sender] ?? -1) + 1).toString(16), gasLimit: '0x5208', accountNonce: '0x0' };
  });
}
const nonces: Record<number, number> = {};

async function submit(id: string, batch: ReturnType<typeof txs>): Promise<void> {
  const r = await hub.bus('gateway').request(subjects.submitTxs({ net: NET, participant: id }), { transactions: batch }, SubmitResult);
  assert.deepEqual(r.rejected, []);
  for (const h of r.accepted) acked.add(h);
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  const states = [];
  for (const id of IDS) {
    if (!isUp(id)) continue;
    const s = await hub.bus('ops').request(subjects.consensusStatus({ net: NET, participant: id }), {}, z.object({ role: z.string(), term: z.number(), leader: z.string().nullable(), commitIndex: z.number(), committedHeight: z.number(), poolSize: z.number() }));
    const missing = [...acked].filter((h) => !finalOf.get(id)?.has(h)).length;
    states.push(`${id}: ${JSON.stringify(s)} missing ${missing}`);
  }
  assert.fail(`gave up waiting: ${what}; ${states.join('; ')}`);
}

async function blocksOf(id: string, from = 1): Promise<CommittedBlock[]> {
  const all: CommittedBlock[] = [];
  for (;;) {
    const { blocks } = await hub.bus('executor').request(subjects.committedRange({ net: NET, participant: id }), { fromHeight: from + all.length, max: 100 }, CommittedRangeReply);
    if (blocks.length === 0) return all;
    all.push(...blocks);
  }
}

const finalOf = new Map<string, Set<string>>();
const finalHashes = async (id: string) => remember(id, new Set((await blocksOf(id)).flatMap((b) => b.transactions.map((raw) => '0x' + BigInt(raw).toString(16).padStart(64, '0')))));
const remember = (id: string, set: Set<string>) => (finalOf.set(id, set), set);
const allFinalEverywhere = async (hashes: Iterable<string>) => {
  for (const id of IDS) {
    if (!isUp(id)) continue;
    const final = await finalHashes(id);
    for (const h of hashes) if (!final.has(h)) return false;
  }
  return true;
};

const isUp = (id: string) => !hub.dead.has(`${id}#${nodes.get(id)!.incarnation}`);

// ---- the reference: fold every event, the way restore worked before snapshots

async function allEvents(store: EventStore, stream: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.streamEvents(stream)) out.push(e);
  return out;
}

async function reference(id: string): Promise<Restored> {
  const store = nodes.get(id)!.plain;
  // A snapshot adds nothing to the log but its commit index: the reference keeps exactly that.
  const raft = (await allEvents(store, RAFT_STREAM)).map((e) =>
    e.type === 'SnapshotTaken' ? { ...e, type: 'CommitAdvanced', payload: { commitIndex: (e.payload as { commitIndex: number }).commitIndex } } : e,
  );
  const core = createCore(ctxOf(id, 1), raft);
  const pooled = foldPoolEvents(await allEvents(store, POOL_STREAM));
  const pool = new TxPool();
  const restored = core.restored();
  for (const b of restored.final) pool.noteCommitted(txsOf(b));
  for (const b of restored.inFlight) pool.noteLogged(txsOf(b));
  pool.noteDropped(pooled.dropped.map((t) => ({ hash: t.hash, from: t.from, nonce: BigInt(t.nonce) })));
  const localTxs = new Map();
  for (const t of pooled.received) {
    if (pool.isCommitted(t.hash)) continue;
    localTxs.set(t.hash, t);
    if (!pool.has(t.hash)) pool.add(toPoolTx(t, BigInt(t.accountNonce), true, 0));
  }
  return { core, pool, localTxs, poolPosition: 0 };
}

function observable(r: Restored, senders: string[]) {
  const { core, pool, localTxs } = r;
  return {
    status: { ...core.status(), role: undefined },
    finalHeight: core.finalHeight(),
    proposal: core.proposalHeight(),
    lastTimestamp: core.lastTimestamp(),
    inFlight: core.restored().inFlight.map((b) => b.height),
    local: [...localTxs.keys()].sort(),
    pending: pool.allPending().map((t) => t.hash).sort(),
    nonces: senders.map((s) => String(pool.nextNonce(s))),
  };
}

async function assertRestoresExactly(id: string): Promise<void> {
  const store = nodes.get(id)!.plain;
  const fromSnapshot = await restoreConsensus(store, ctxOf(id, 1), 0);
  const full = await reference(id);
  const senders = Object.keys(nonces).map((s) => '0x' + Number(s).toString(16).padStart(40, '0'));
  assert.deepEqual(observable(fromSnapshot, senders), observable(full, senders), `${id} restores what folding everything gives`);
  const raft = await allEvents(store, RAFT_STREAM);
  const snapshotAt = raft.map((e) => e.type).lastIndexOf('SnapshotTaken');
  assert.ok(snapshotAt > 0, `${id} has snapshots`);
}

const leader = async () => {
  for (const id of IDS) {
    if (!isUp(id)) continue;
    const s = await hub.bus('ops').request(subjects.consensusStatus({ net: NET, participant: id }), {}, z.object({ role: z.string(), leader: z.string().nullable() }));
    if (s.role === 'leader') return id;
  }
  return null;
};

// ---- the scenario, step by step

test('blocks become final everywhere and snapshots are taken', async () => {
  await until('a leader', async () => (await leader()) !== null);
  for (let i = 0; i < 6; i++) await submit(IDS[i % 3], txs(3, i % 3));
  await until('all final', () => allFinalEverywhere(acked));
  for (const id of IDS) await until(`${id} snapshots`, async () => (await allEvents(nodes.get(id)!.plain, RAFT_STREAM)).some((e) => e.type === 'SnapshotTaken'));
});

test('the leader crashes between persisting entries and sending them: restored exactly, and the network goes on', async () => {
  const l = (await leader())!;
  const crashed = crashWhen(l, (stream, events) => stream === RAFT_STREAM && events.some((e) => e.type === 'EntriesAppended'), 'after-write');
  const others = IDS.filter((p) => p !== l);
  await submit(l, txs(4, 10));
  await crashed;
  await assertRestoresExactly(l);
  // The others elect a new leader; a transaction sent to them is final there.
  await submit(others[0], txs(2, 11));
  await start(l);
  await until('all final after the restart', () => allFinalEverywhere([...acked]));
  await assertRestoresExactly(l);
});

test('a crash during a group commit: transactions written are kept and become final; ones not written are not in the pool', async () => {
  const current = await leader();
  const id = IDS.find((p) => p !== current)!;
  const written = txs(3, 20);
  let crashed = crashWhen(id, (stream) => stream === POOL_STREAM, 'after-write');
  await assert.rejects(submit(id, written), /crashed after writing TransactionsReceived/);
  await crashed;
  await assertRestoresExactly(id);
  const restored = await restoreConsensus(nodes.get(id)!.plain, ctxOf(id, 1), 0);
  for (const t of written) assert.ok(restored.localTxs.has(t.hash) || (await finalHashes(IDS.find((p) => p !== id)!)).has(t.hash), 'a written tx is ours after the restart, or already final');
  await start(id);
  await until('the written txs final everywhere', () => allFinalEverywhere(written.map((t) => t.hash)));

  crashed = crashWhen(id, (stream) => stream === POOL_STREAM, 'before-write');
  const lost = txs(2, 21);
  await assert.rejects(submit(id, lost), /crashed before writing/);
  await crashed;
  const after = await restoreConsensus(nodes.get(id)!.plain, ctxOf(id, 1), 0);
  for (const t of lost) assert.equal(after.localTxs.has(t.hash), false, 'never acknowledged, never stored: not ours to answer for');
  await assertRestoresExactly(id);
  // (They were forwarded to the leader while being written, so they may still land: never acknowledged,
  // nothing promised either way; a retry would find the hash known or the nonce used.)
  await start(id);
  await submit(id, txs(2, 22));
  await until('txs after the restart final', () => allFinalEverywhere(acked));
});

test('a crash in the middle of a snapshot, and just after one: restored exactly from the snapshot that was stored', async () => {
  for (const at of ['before-write', 'after-write'] as const) {
    const id = 'p3';
    const crashed = crashWhen(id, (stream, events) => stream === RAFT_STREAM && events.some((e) => e.type === 'SnapshotTaken'), at);
    for (let i = 0; i < 12 && nodes.get(id)!.plan; i++) {
      await submit(IDS[i % 2], txs(2, 30 + i % 2));
      await until('final', () => allFinalEverywhere(acked));
    }
    assert.equal(nodes.get(id)!.plan, null, `${id} crashed at a snapshot`);
    await crashed;
    const raft = await allEvents(nodes.get(id)!.plain, RAFT_STREAM);
    assert.equal(raft.at(-1)!.type === 'SnapshotTaken', at === 'after-write', `the snapshot ${at === 'after-write' ? 'was' : 'was not'} stored last`);
    await assertRestoresExactly(id);
    await start(id);
    await until('all final after the restart', () => allFinalEverywhere(acked));
  }
});

test('in the end: every acknowledged tx final exactly once, the same blocks everywhere from height 1, chains intact', async () => {
  await submit('p1', txs(2, 40));
  await until('all final', () => allFinalEverywhere(acked));
  const chains = await Promise.all(IDS.map((id) => blocksOf(id)));
  const height = Math.min(...chains.map((c) => c.length));
  assert.ok(height >= 10, `${height} blocks`);
  for (const c of chains) {
    assert.deepEqual(c.map((b) => b.height), Array.from({ length: c.length }, (_, i) => i + 1), 'contiguous from 1 (compacted heights from the stream)');
    assert.deepEqual(c.slice(0, height), chains[0].slice(0, height), 'the same blocks at every height');
  }
  const final = chains[0].flatMap((b) => b.transactions);
  assert.equal(new Set(final).size, final.length, 'no transaction twice');
  const finalHashSet = await finalHashes('p1');
  for (const h of acked) assert.ok(finalHashSet.has(h), `acknowledged ${h} is final`);
  for (const id of IDS) {
    const check = await nodes.get(id)!.plain.verifyChain();
    assert.ok(check.ok, JSON.stringify(check.firstBad));
    // What each incarnation published agrees with what it serves.
    for (const [h, txsJson] of published.get(id)!) assert.equal(JSON.stringify(chains[0][h - 1]?.transactions), txsJson, `${id} height ${h}`);
  }
  assert.ok(exits.length >= 3 && exits.every((c) => c === 70), `every crash in the step loop exited as the shell does when persisting fails (${exits})`);
});
