/**
 * The Raft core behind the ConsensusCore interface, driven the way the shell drives it (tick, message,
 * propose; persist the events, deliver the messages, apply what is final), and the proposer policies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoggedBlock } from '../../actors/consensus/block-data.js';
import type { CoreEvent, CoreOutput } from '../../actors/consensus/core.js';
import { onDemandPolicy, periodicPolicy } from '../../actors/consensus/proposer-policy.js';
import { FetchBlocks } from '../../actors/consensus/block-sync.js';
import { finalBlocksFrom } from '../../actors/consensus/raft-archive.js';
import { RAFT_STREAM } from '../../actors/consensus/raft-events.js';
import type { EventStore, StoredEvent } from '../../lib/event-store/event-store.js';
import { RaftCore, type RaftCoreConfig } from '../../actors/consensus/raft-core.js';

const PEERS = ['p1', 'p2', 'p3'];
const config = (self: string, over: Partial<RaftCoreConfig> = {}): RaftCoreConfig => ({ self, peers: PEERS, permitted: [...PEERS, 'p4'], electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 7, ...over });

function tx(n: number) {
  const hash = '0x' + n.toString(16).padStart(64, '0');
  return { raw: '0x01', hash, from: '0x' + '11'.repeat(20), nonce: '0x' + n.toString(16), gasLimit: '0x5208' };
}

class Cluster {
  readonly stored = new Map<string, CoreEvent[]>(PEERS.map((p) => [p, []]));
  readonly final = new Map<string, LoggedBlock[]>(PEERS.map((p) => [p, []]));
  readonly refused: string[] = [];
  cores = new Map(PEERS.map((p) => [p, new RaftCore(config(p), [], 0)]));
  private queue: { to: string; from: string; message: unknown }[] = [];

  apply(id: string, out: CoreOutput): void {
    this.stored.get(id)!.push(...out.events);
    for (const m of out.messages) this.queue.push({ to: m.to, from: id, message: m.message });
    this.final.get(id)!.push(...out.committed.map((f) => f.block));
    this.refused.push(...out.refused.map((r) => r.reason));
    for (const f of out.committed) assert.equal(f.extraData, '0x');
  }

  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) {
      for (const [id, core] of this.cores) this.apply(id, core.step({ type: 'tick' }));
      while (this.queue.length) {
        const m = this.queue.shift()!;
        this.apply(m.to, this.cores.get(m.to)!.step({ type: 'message', from: m.from, message: m.message }));
      }
    }
  }

  leader(): [string, RaftCore] {
    const found = [...this.cores].find(([, c]) => c.proposalHeight() !== null);
    assert.ok(found, 'a leader that may propose');
    return found;
  }
}

test('a block proposed at proposalHeight becomes final on every node, once', () => {
  const c = new Cluster();
  c.run(60);
  const [id, leader] = c.leader();
  assert.deepEqual(leader.forwardTargets(), []);
  for (const [other, core] of c.cores) if (other !== id) assert.deepEqual(core.forwardTargets(), [id]);
  const block: LoggedBlock = { height: leader.proposalHeight()!, timestamp: 5, proposer: id, transactions: [tx(1)] };
  c.apply(id, leader.step({ type: 'propose', block }));
  assert.equal(leader.proposalHeight(), null, 'one block in flight at a time');
  c.run(5);
  for (const p of PEERS) {
    assert.deepEqual(c.final.get(p)!.map((b) => b.height), [1], p);
    assert.equal(c.cores.get(p)!.finalHeight(), 1);
    assert.equal(c.cores.get(p)!.finalBlock(1)?.block.transactions[0].hash, tx(1).hash);
  }
  assert.equal(leader.proposalHeight(), 2);
  assert.equal(leader.lastTimestamp(), 5);
});

test('a proposal at the wrong height is ignored; a forged sender is refused', () => {
  const c = new Cluster();
  c.run(60);
  const [id, leader] = c.leader();
  const out = leader.step({ type: 'propose', block: { height: 9, timestamp: 1, proposer: id, transactions: [] } });
  assert.equal(out.events.length + out.messages.length, 0);
  const other = PEERS.find((p) => p !== id)!;
  const forged = c.cores.get(other)!.step({ type: 'message', from: PEERS.find((p) => p !== id && p !== other)!, message: { type: 'AppendEntries', from: id, to: other, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 } });
  assert.equal(forged.refused.length, 1);
  assert.match(forged.refused[0].reason, /claiming to be from/);
  assert.equal(c.cores.get(other)!.step({ type: 'message', from: id, message: { type: 'Nonsense' } }).refused.length, 1);
});

test('a restarted core restores its final blocks from its events and does not emit them again', () => {
  const c = new Cluster();
  c.run(60);
  const [id, leader] = c.leader();
  for (let n = 1; n <= 3; n++) {
    c.apply(id, leader.step({ type: 'propose', block: { height: leader.proposalHeight()!, timestamp: n, proposer: id, transactions: [tx(n)] } }));
    c.run(3);
  }
  const follower = PEERS.find((p) => p !== id)!;
  const restarted = new RaftCore(config(follower), c.stored.get(follower)!, 0);
  const restored = restarted.restored();
  assert.ok(restored.final.length >= 2, 'final blocks come back from the commit hint');
  assert.equal(restarted.finalBlock(1)?.block.transactions[0].hash, tx(1).hash);
  c.cores.set(follower, restarted);
  c.final.set(follower, []);
  c.run(10);
  const heights = [...restored.final, ...c.final.get(follower)!].map((b) => b.height);
  assert.deepEqual(heights, [1, 2, 3], 'each height final exactly once across the restart');
});

test('on-demand policy (Raft): nothing to wait for without transactions, at once for a lone one', () => {
  const p = onDemandPolicy(100);
  assert.equal(p.delay(0, 0), null);
  assert.equal(p.delay(0, 1), 0);
  assert.equal(p.proposesEmpty, false);
});

test('periodic policy (QBFT): one block a period after the last final one, empty blocks as configured', () => {
  const p = periodicPolicy(1000, true);
  assert.equal(p.delay(0, 0), 0, 'the first block at once');
  p.finalised(5000);
  assert.equal(p.delay(5200, 0), 800);
  assert.equal(p.delay(7000, 3), 0, 'a later round: at once');
  const quiet = periodicPolicy(1000, false);
  quiet.finalised(0);
  assert.equal(quiet.delay(10, 0), null, 'no empty blocks');
  assert.equal(quiet.delay(10, 2), 990);
  quiet.attempted(2000, false);
  assert.equal(quiet.delay(2000, 2), 1000, 'a fruitless attempt waits a period');
});

// ---- snapshots, compaction and catch-up from a peer's blocks

/** Small intervals so a few dozen blocks cross several snapshots and compactions. */
const SMALL = { snapshotEvery: 4, keepEntries: 3 };

/** An event as the store returns it, enough for the archive reader (raft-archive.ts). */
type Row = StoredEvent;

/** The shell's part, in memory: persist, snapshot after applying, serve block fetches from memory or the stream. */
class SnapCluster {
  readonly rows = new Map<string, Row[]>(PEERS.map((p) => [p, []]));
  readonly final = new Map<string, number[]>(PEERS.map((p) => [p, []]));
  readonly refused: string[] = [];
  readonly isolated = new Set<string>();
  dropFetches = false;
  cores = new Map(PEERS.map((p) => [p, new RaftCore(config(p, SMALL), [], 0)]));
  private queue: { to: string; from: string; message: unknown }[] = [];

  store(id: string) {
    const rows = this.rows.get(id)!;
    return {
      lastEvent: async (_stream: string, o: { type?: string; before?: number } = {}) =>
        [...rows].reverse().find((r) => (o.type === undefined || r.type === o.type) && (o.before === undefined || r.streamPosition < o.before)),
      readStream: async (_stream: string, from = 1, limit = 10_000) => rows.filter((r) => r.streamPosition >= from).slice(0, limit),
    } as unknown as EventStore;
  }

  private persist(id: string, events: CoreEvent[]): void {
    const rows = this.rows.get(id)!;
    for (const e of events) rows.push({ stream: RAFT_STREAM, streamPosition: rows.length + 1, type: e.type, payload: JSON.parse(JSON.stringify(e.payload)) } as Row);
  }

  apply(id: string, out: CoreOutput): void {
    this.persist(id, out.events);
    for (const m of out.messages) this.queue.push({ to: m.to, from: id, message: m.message });
    const heights = this.final.get(id)!;
    for (const f of out.committed) {
      assert.equal(f.block.height, (heights.at(-1) ?? 0) + 1, `${id} applies heights in order, each once`);
      heights.push(f.block.height);
    }
    this.refused.push(...out.refused.map((r) => r.reason));
    const core = this.cores.get(id)!;
    if (core.snapshotDue()) this.persist(id, [core.takeSnapshot({ position: 0, local: [], nonces: [] })]);
  }

  async run(ticks: number): Promise<void> {
    for (let t = 0; t < ticks; t++) {
      for (const [id, core] of this.cores) this.apply(id, core.step({ type: 'tick' }));
      while (this.queue.length) {
        const m = this.queue.shift()!;
        if (this.isolated.has(m.to) || this.isolated.has(m.from)) continue;
        const fetch = FetchBlocks.safeParse(m.message);
        if (fetch.success && this.dropFetches) continue;
        if (fetch.success) {
          const blocks = await finalBlocksFrom(this.cores.get(m.to)!, this.store(m.to), fetch.data.fromHeight, fetch.data.toHeight - fetch.data.fromHeight + 1, 1e9);
          const message = { type: 'Blocks', from: m.to, to: m.from, blocks: blocks.map((f) => ({ block: f.block, term: f.position.term, index: f.position.index })) };
          this.queue.push({ to: m.from, from: m.to, message });
          continue;
        }
        this.apply(m.to, this.cores.get(m.to)!.step({ type: 'message', from: m.from, message: m.message }));
      }
    }
  }

  leader(): [string, RaftCore] {
    const found = [...this.cores].find(([id, c]) => !this.isolated.has(id) && c.proposalHeight() !== null);
    assert.ok(found, 'a leader that may propose');
    return found;
  }

  async proposeBlocks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const [id, leader] = this.leader();
      const height = leader.proposalHeight()!;
      this.apply(id, leader.step({ type: 'propose', block: { height, timestamp: height, proposer: id, transactions: [tx(height)] } }));
      await this.run(2);
    }
  }
}

/** What a node folds from its stream as it was before snapshots existed: every event but SnapshotTaken. */
const withoutSnapshots = (rows: readonly Row[]) => rows.filter((r) => r.type !== 'SnapshotTaken');
const fromLatestSnapshot = (rows: readonly Row[]) => {
  const at = rows.map((r) => r.type).lastIndexOf('SnapshotTaken');
  return at < 0 ? rows : rows.slice(at);
};

function observable(core: RaftCore) {
  const final = core.finalHeight();
  return { status: core.status(), final, timestamp: core.lastTimestamp(), proposal: core.proposalHeight(), inFlight: core.restored().inFlight, membership: core.membership() };
}

test('a restart from the latest snapshot and the tail rebuilds exactly what folding the whole log gives', async () => {
  const c = new SnapCluster();
  await c.run(60);
  await c.proposeBlocks(20);
  for (const p of PEERS) {
    const rows = c.rows.get(p)!;
    assert.ok(rows.filter((r) => r.type === 'SnapshotTaken').length >= 3, `${p} took snapshots`);
    const tail = fromLatestSnapshot(rows);
    assert.ok(tail.length < rows.length / 2, 'the restart reads only the tail');
    const fromSnapshot = new RaftCore(config(p, SMALL), tail, 0);
    const fromEverything = new RaftCore(config(p, SMALL), withoutSnapshots(rows), 0);
    assert.ok(fromSnapshot.finalHeight() >= 19, 'final up to the last commit hint');
    assert.deepEqual(observable(fromSnapshot), observable(fromEverything), p);
  }
});

test('the log in memory is compacted behind the commit index; old final blocks come from the stream', async () => {
  const c = new SnapCluster();
  await c.run(60);
  await c.proposeBlocks(16);
  const [id, leader] = c.leader();
  assert.ok(leader.firstLogIndex() > 8, `compacted (log from ${leader.firstLogIndex()})`);
  assert.equal(leader.finalBlock(1), undefined, 'height 1 left memory');
  assert.equal(leader.finalBlock(16)?.block.height, 16);
  const blocks = await finalBlocksFrom(leader, c.store(id), 1, 100, 1e9);
  assert.deepEqual(blocks.map((f) => f.block.height), Array.from({ length: 16 }, (_, i) => i + 1));
  assert.deepEqual(blocks.map((f) => f.block.transactions[0].hash), blocks.map((f) => tx(f.block.height).hash));
  assert.ok(blocks.every((f, i) => i === 0 || f.position.index > blocks[i - 1].position.index));
});

test('a follower cut off past the compaction installs the snapshot, fetches the blocks below it, applies each height once', async () => {
  const c = new SnapCluster();
  await c.run(60);
  await c.proposeBlocks(2);
  const [leaderId] = c.leader();
  const behind = PEERS.find((p) => p !== leaderId)!;
  c.isolated.add(behind);
  await c.proposeBlocks(20);
  assert.deepEqual(c.final.get(behind), [1, 2]);
  c.isolated.delete(behind);
  await c.run(40);
  const core = c.cores.get(behind)!;
  assert.ok(c.rows.get(behind)!.some((r) => r.type === 'SnapshotInstalled'), 'a snapshot was installed');
  assert.ok(c.rows.get(behind)!.some((r) => r.type === 'BlocksSynced'), 'blocks were fetched');
  assert.equal(core.missingBlocks(), null);
  assert.deepEqual(c.final.get(behind), Array.from({ length: 22 }, (_, i) => i + 1), 'every height once, in order');
  await c.proposeBlocks(1);
  assert.equal(c.final.get(behind)!.at(-1), 23, 'and it follows on');
  // Restarted, it rebuilds the same state, and the stream still serves every block it applied.
  const rows = c.rows.get(behind)!;
  assert.deepEqual(observable(new RaftCore(config(behind, SMALL), fromLatestSnapshot(rows), 0)), observable(new RaftCore(config(behind, SMALL), withoutSnapshots(rows), 0)));
  const served = await finalBlocksFrom(core, c.store(behind), 1, 100, 1e9);
  assert.deepEqual(served.map((f) => f.block.height), Array.from({ length: 23 }, (_, i) => i + 1));
  assert.deepEqual(c.refused, []);
});

test('a crash while blocks are missing: the restarted follower fetches them again and applies each once', async () => {
  const c = new SnapCluster();
  await c.run(60);
  const [leaderId] = c.leader();
  const behind = PEERS.find((p) => p !== leaderId)!;
  c.isolated.add(behind);
  await c.proposeBlocks(20);
  c.isolated.delete(behind);
  c.dropFetches = true;
  await c.run(20);
  const gap = c.cores.get(behind)!.missingBlocks();
  assert.equal(gap?.fromHeight, 1, 'snapshot installed, blocks not fetched yet');
  // Crash: a new core from what was stored, from the latest snapshot on.
  const restarted = new RaftCore(config(behind, SMALL), fromLatestSnapshot(c.rows.get(behind)!), 0);
  assert.deepEqual(restarted.missingBlocks(), gap);
  assert.deepEqual(restarted.restored().final, []);
  c.cores.set(behind, restarted);
  c.dropFetches = false;
  await c.run(40);
  assert.equal(restarted.missingBlocks(), null);
  assert.deepEqual(c.final.get(behind), Array.from({ length: 20 }, (_, i) => i + 1));
});

test('a blocks reply that does not fit the installed snapshot, or claims another sender, is refused', async () => {
  const c = new SnapCluster();
  await c.run(60);
  const [leaderId] = c.leader();
  const behind = PEERS.find((p) => p !== leaderId)!;
  c.isolated.add(behind);
  await c.proposeBlocks(12);
  c.isolated.delete(behind);
  const core = c.cores.get(behind)!;
  const snapshot = { type: 'InstallSnapshot', from: leaderId, to: behind, term: c.cores.get(leaderId)!.status().term, snapshot: { index: 30, term: c.cores.get(leaderId)!.status().term, config: { index: 0, voters: PEERS, learners: [] }, data: { finalHeight: 12, timestamp: 12 } } };
  const installed = core.step({ type: 'message', from: leaderId, message: snapshot });
  assert.ok(installed.events.some((e) => e.type === 'SnapshotInstalled'));
  assert.deepEqual(core.missingBlocks(), { fromHeight: 1, toHeight: 12 });
  const block = (height: number, index: number, term = 1) => ({ block: { height, timestamp: height, proposer: leaderId, transactions: [tx(height)] }, term, index });
  const reply = (blocks: unknown[], from = leaderId) => core.step({ type: 'message', from, message: { type: 'Blocks', from, to: behind, blocks } });
  assert.match(reply([block(1, 31)]).refused[0].reason, /past the snapshot/);
  assert.match(reply([block(1, 3), block(2, 2)]).refused[0].reason, /goes back in the log/);
  assert.match(core.step({ type: 'message', from: 'p4', message: { type: 'Blocks', from: leaderId, to: behind, blocks: [block(1, 3)] } }).refused[0].reason, /claiming to be from/);
  assert.deepEqual(reply([block(2, 3)]).committed, [], 'a reply that does not start at the gap fills nothing');
  const ok = reply([block(1, 3), block(2, 4)]);
  assert.deepEqual(ok.committed.map((f) => f.block.height), [1, 2]);
  assert.deepEqual(ok.events.map((e) => e.type), ['BlocksSynced']);
  assert.deepEqual(core.missingBlocks(), { fromHeight: 3, toHeight: 12 });
});
