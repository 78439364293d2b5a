/**
 * The Raft core behind the ConsensusCore interface, driven the way the shell drives it (tick, message,
 * propose; persist the events, deliver the messages, apply what is final), and the proposer policies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoggedBlock } from '../../actors/consensus/block-data.js';
import type { CoreEvent, CoreOutput } from '../../actors/consensus/core.js';
import { onDemandPolicy, periodicPolicy } from '../../actors/consensus/proposer-policy.js';
import { RaftCore } from '../../actors/consensus/raft-core.js';

const PEERS = ['p1', 'p2', 'p3'];
const config = (self: string) => ({ self, peers: PEERS, permitted: [...PEERS, 'p4'], electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 7 });

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
