/** The QBFT core, scripted: in-order delivery over a tiny in-memory bus with the simulation's fake crypto. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keccak_256 } from '@noble/hashes/sha3';
import { fromHex, toHex } from '../../lib/hex.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { CoreEvent, CoreInput, CoreOutput, FinalBlock } from '../../actors/consensus/core.js';
import {
  createQbftCore,
  decodeExtraData,
  signPrepare,
  verifyParentSeals,
  type QbftCore,
  type QbftCrypto,
} from '../../actors/consensus/qbft/index.js';
import { Keyring, SimRandom, addressFor, forgedSignature } from '../sim/qbft-network.js';

interface Node {
  id: string;
  crypto: QbftCrypto;
  core: QbftCore;
  disk: CoreEvent[];
  finals: FinalBlock[];
  refused: string[];
}

class Bus {
  readonly keyring = new Keyring(new SimRandom(7));
  readonly participants: { id: string; address: string }[];
  readonly genesis: string[];
  readonly nodes = new Map<string, Node>();
  queue: { from: string; to: string; message: unknown }[] = [];
  /** Return false to drop a message. */
  filter: (m: { from: string; to: string; message: unknown }) => boolean = () => true;

  constructor(validators: number, observers = 0, readonly timeoutTicks = 10) {
    const ids = Array.from({ length: validators + observers }, (_, i) => `p${i + 1}`);
    this.participants = ids.map((id) => ({ id, address: addressFor(id) }));
    this.genesis = this.participants.slice(0, validators).map((p) => p.address);
    for (const { id, address } of this.participants) {
      const crypto = this.keyring.cryptoFor(address);
      this.nodes.set(id, { id, crypto, core: this.create(id, crypto, []), disk: [], finals: [], refused: [] });
    }
  }

  create(id: string, crypto: QbftCrypto, stored: CoreEvent[]): QbftCore {
    return createQbftCore({ self: id, participants: this.participants, genesisValidators: this.genesis, requestTimeoutTicks: this.timeoutTicks, crypto }, stored);
  }

  node(id: string): Node {
    return this.nodes.get(id)!;
  }

  step(id: string, input: CoreInput): CoreOutput {
    const node = this.node(id);
    const out = node.core.step(input);
    node.disk.push(...out.events);
    for (const m of out.messages) this.queue.push({ from: id, ...m });
    node.finals.push(...out.committed);
    node.refused.push(...out.refused.map((r) => r.reason));
    return out;
  }

  /** The shell: the node the core asks proposes a block. */
  proposeWhereAsked(): void {
    for (const node of this.nodes.values()) {
      const height = node.core.proposalHeight();
      if (height === null) continue;
      const raw = toHex(new TextEncoder().encode(`tx-${node.id}-${height}`));
      this.step(node.id, {
        type: 'propose',
        block: {
          height,
          timestamp: node.core.lastTimestamp() + 1,
          proposer: node.id,
          transactions: [{ raw, hash: toHex(keccak_256(fromHex(raw))), from: addressFor('alice'), nonce: '0x0', gasLimit: '0x5208' }],
        },
      });
    }
  }

  /** Delivers in order until nothing is in flight. */
  deliver(): void {
    while (this.queue.length > 0) {
      const m = this.queue.shift()!;
      if (this.filter(m)) this.step(m.to, { type: 'message', from: m.from, message: m.message });
    }
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) for (const id of this.nodes.keys()) this.step(id, { type: 'tick' });
  }

  /** Propose + deliver + tick until every node has finalised `height` (or give up). */
  runUntil(height: number, maxTicks = 500): void {
    for (let t = 0; t < maxTicks; t++) {
      this.proposeWhereAsked();
      this.deliver();
      if ([...this.nodes.values()].every((n) => n.core.finalHeight() >= height)) return;
      this.tick();
    }
    assert.fail(`not every node reached height ${height}: ${[...this.nodes.values()].map((n) => `${n.id}=${n.core.finalHeight()}`).join(' ')}`);
  }
}

test('happy path: 4 validators finalise blocks; extraData decodes and the next block carries a quorum of seals', () => {
  const bus = new Bus(4);
  const proposer = bus.node('p1').core.proposer(1, 0);
  assert.deepEqual([...bus.nodes.values()].filter((n) => n.core.proposalHeight() === 1).map((n) => n.id), [proposer]);
  bus.proposeWhereAsked();
  bus.deliver();
  for (const node of bus.nodes.values()) {
    assert.equal(node.finals.length, 1, `${node.id} finalised height 1`);
    assert.equal(node.core.finalHeight(), 1);
    assert.deepEqual(node.refused, []);
  }
  const [first] = bus.node('p1').finals;
  assert.equal(first.block.proposer, proposer);
  assert.deepEqual(first.position, { term: 0, index: 1 });
  for (const node of bus.nodes.values()) assert.equal(node.finals[0].extraData, first.extraData, 'identical extraData everywhere');
  const extra = decodeExtraData(first.extraData);
  assert.equal(extra.round, 0);
  assert.deepEqual(extra.parentSeals, []);
  assert.equal(extra.vote, null);
  assert.equal(bus.node('p2').core.finalBlock(1)?.extraData, first.extraData);
  assert.ok(bus.node('p1').disk.some((e) => e.type === 'BlockFinalized'));

  bus.runUntil(3);
  const second = bus.node('p3').finals[1];
  assert.equal(decodeExtraData(second.extraData).parentSeals.length, 3);
  assert.equal(verifyParentSeals(first.extraData, second.extraData, bus.genesis, bus.keyring.verifier()), null);
  // Every node emitted each height exactly once, in order.
  for (const node of bus.nodes.values()) assert.deepEqual(node.finals.map((f) => f.block.height), [1, 2, 3]);
  const status = bus.node('p1').core.status();
  assert.equal(status.commitIndex, 3);
  assert.equal(status.cluster.length, 4);
  assert.equal(status.cluster.filter((c) => c.role === 'minter').length, 1);
  assert.deepEqual(bus.node('p1').core.forwardTargets().sort(), ['p2', 'p3', 'p4']);
});

test('proposer rotation: (height + round) mod n over the sorted validator addresses', () => {
  const bus = new Bus(4);
  const sorted = [...bus.genesis].sort();
  const core = bus.node('p2').core;
  const idOf = (a: string) => bus.participants.find((p) => p.address === a)!.id;
  for (let h = 1; h <= 6; h++) for (let r = 0; r <= 5; r++) assert.equal(core.proposer(h, r), idOf(sorted[(h + r) % 4]));
  // Height by height, the proposer moves along the ring.
  bus.runUntil(4);
  const proposers = bus.node('p1').finals.map((f) => f.block.proposer);
  assert.deepEqual(proposers, [1, 2, 3, 4].map((h) => idOf(sorted[h % 4])));
  const leader = core.status();
  assert.equal(leader.leader, idOf(sorted[5 % 4]));
  assert.equal(bus.node(leader.leader!).core.status().role, 'leader');
});

test('forged, foreign and malformed messages are refused', () => {
  const bus = new Bus(4, 1);
  const target = bus.node('p1');
  const digest = '0x' + '12'.repeat(32);
  // A prepare in p2's name that p3 made up: p3 does not hold p2's key.
  const random = new SimRandom(3);
  const out1 = bus.step('p1', { type: 'message', from: 'p3', message: { type: 'PREPARE', height: 1, round: 0, digest, signature: forgedSignature(random, addressFor('p2')) } });
  assert.match(out1.refused[0]?.reason ?? '', /bad signature/);
  // p3 signs properly but the broker says the message came from p2.
  const out2 = bus.step('p1', { type: 'message', from: 'p2', message: signPrepare(bus.node('p3').crypto, 1, 0, digest) });
  assert.match(out2.refused[0]?.reason ?? '', /bad signature/);
  // p5 is a participant but not a validator.
  const out3 = bus.step('p1', { type: 'message', from: 'p5', message: signPrepare(bus.node('p5').crypto, 1, 0, digest) });
  assert.match(out3.refused[0]?.reason ?? '', /not a validator/);
  const out4 = bus.step('p1', { type: 'message', from: 'p2', message: { type: 'PREPARE', height: 'one' } });
  assert.match(out4.refused[0]?.reason ?? '', /malformed/);
  const out5 = bus.step('p1', { type: 'message', from: 'stranger', message: signPrepare(bus.node('p2').crypto, 1, 0, digest) });
  assert.match(out5.refused[0]?.reason ?? '', /not a participant/);
  // A forged synced block is refused too.
  const out6 = bus.step('p1', {
    type: 'message',
    from: 'p3',
    message: {
      type: 'SYNC-RESPONSE',
      blocks: [
        {
          proposal: { block: { height: 1, timestamp: 5, proposer: target.core.proposer(1, 0), transactions: [] }, round: 0, parentSeals: [] },
          seals: bus.genesis.map((a) => forgedSignature(random, a)),
        },
      ],
    },
  });
  assert.match(out6.refused[0]?.reason ?? '', /invalid commit seal/);
  assert.equal(target.core.finalHeight(), 0);
});

test('round change after a timeout: the next proposer re-proposes the prepared block itself', () => {
  const bus = new Bus(4);
  const first = bus.node('p1').core.proposer(1, 0);
  // Commits are lost in round 0: everyone prepares, nobody finalises.
  bus.filter = (m) => (m.message as { type: string }).type !== 'COMMIT';
  bus.proposeWhereAsked();
  bus.deliver();
  for (const node of bus.nodes.values()) {
    assert.equal(node.core.finalHeight(), 0);
    assert.ok(node.disk.some((e) => e.type === 'Prepared'), `${node.id} prepared`);
  }
  bus.filter = () => true;
  const nextProposer = bus.node('p1').core.proposer(1, 1);
  bus.tick(10); // round 0 times out everywhere: round changes for round 1 carry the prepared certificate
  bus.deliver();
  // The proposer of round 1 re-proposed without being asked by the shell (no proposeWhereAsked above).
  assert.ok(bus.node(nextProposer).disk.some((e) => e.type === 'MessageSigned' && (e.payload as { kind: string; round: number }).kind === 'proposal'));
  for (const node of bus.nodes.values()) {
    assert.equal(node.core.finalHeight(), 1, `${node.id} finalised in round 1`);
    const [final] = node.finals;
    assert.equal(final.block.proposer, first, 'the original block, unchanged');
    assert.deepEqual(final.position, { term: 0, index: 1 });
    assert.equal(node.core.round(), 0);
  }
  assert.ok(bus.node('p1').disk.some((e) => e.type === 'RoundEntered'));
});

test('without a prepared block, the proposer of the next round asks the shell for a new block', () => {
  const bus = new Bus(4);
  // The round-0 proposer is silent.
  const silent = bus.node('p1').core.proposer(1, 0);
  bus.filter = (m) => m.from !== silent;
  bus.tick(10);
  bus.deliver();
  const next = bus.node('p1').core.proposer(1, 1);
  assert.equal(bus.node(next).core.proposalHeight(), 1);
  bus.proposeWhereAsked();
  bus.deliver();
  for (const node of bus.nodes.values()) if (node.id !== silent) assert.equal(node.finals[0]?.block.proposer, next);
});

test('vote tally: a majority of proposers voting adds a validator from the next height on', () => {
  const bus = new Bus(4, 1);
  const p5 = addressFor('p5');
  for (const id of ['p1', 'p2', 'p3', 'p4']) {
    const { events } = bus.node(id).core.command('istanbul_propose', [p5, true]);
    bus.node(id).disk.push(...events);
  }
  assert.deepEqual(bus.node('p1').core.command('istanbul_candidates', []).result, { [p5]: true });
  bus.runUntil(1);
  const snapshot = bus.node('p2').core.command('istanbul_getSnapshot', [1]).result as { votes: unknown[]; tally: Record<string, unknown> };
  assert.equal(snapshot.votes.length, 1);
  assert.deepEqual(snapshot.tally, { [p5]: { authorize: true, votes: 1 } });
  bus.runUntil(3); // three distinct proposers voted: 3 > 4/2
  for (const node of bus.nodes.values()) {
    assert.equal((node.core.command('istanbul_getValidators', [2]).result as string[]).length, 4);
    assert.deepEqual(node.core.command('istanbul_getValidators', [3]).result, [...bus.genesis, p5].sort());
    assert.deepEqual((node.core.command('istanbul_getSnapshot', [3]).result as { tally: object }).tally, {});
  }
  assert.equal(bus.node('p5').core.command('istanbul_isValidator', []).result, true);
  assert.equal(bus.node('p5').core.command('istanbul_isValidator', [2]).result, false);
  assert.equal(bus.node('p1').core.command('istanbul_nodeAddress', []).result, addressFor('p1'));
  bus.runUntil(8); // p5 now takes part in proposing
  const status = bus.node('p1').core.command('istanbul_status', [4, 8]).result as { numBlocks: number; sealerActivity: Record<string, number> };
  assert.equal(status.numBlocks, 5);
  assert.equal(status.sealerActivity[p5], 1);
  // No more votes for an existing validator.
  const votes = bus.node('p1').finals.slice(3).map((f) => decodeExtraData(f.extraData).vote);
  assert.ok(votes.every((v) => v === null));
});

test('commands refuse bad params with InvalidInput', () => {
  const core = new Bus(4).node('p1').core;
  const invalid = (method: string, params: unknown[]) =>
    assert.throws(() => core.command(method, params), (err: unknown) => err instanceof CodedError && err.code === ErrorCode.InvalidInput);
  invalid('istanbul_propose', ['0x12', true]);
  invalid('istanbul_propose', [addressFor('x'), 'yes']);
  invalid('istanbul_discard', [42]);
  invalid('istanbul_getValidators', ['soon']);
  invalid('istanbul_nope', []);
  assert.throws(() => core.command('istanbul_getValidators', [5]), (err: unknown) => err instanceof CodedError && err.code === ErrorCode.NotFound);
});

test('restore from events: resumes at the next height, re-emits nothing, and never signs twice in a round', () => {
  const bus = new Bus(4);
  bus.runUntil(2);
  const node = bus.node('p2');
  const restored = bus.create('p2', node.crypto, node.disk);
  assert.equal(restored.finalHeight(), 2);
  assert.equal(restored.height(), 3);
  assert.equal(restored.finalBlock(2)?.extraData, node.core.finalBlock(2)?.extraData);
  assert.equal(restored.lastTimestamp(), node.core.lastTimestamp());
  node.core = restored;
  bus.runUntil(4);
  assert.deepEqual(node.finals.map((f) => f.block.height), [1, 2, 3, 4], 'heights 1 and 2 not emitted again');

  // A restarted validator that prepared one block in a round does not prepare another in that round.
  const proposer = bus.node('p1').core.proposer(5, 0);
  const voter = [...bus.nodes.keys()].find((id) => id !== proposer)!;
  bus.proposeWhereAsked();
  const proposal = bus.queue.find((m) => m.to === voter && (m.message as { type: string }).type === 'PROPOSAL')!;
  bus.queue = [];
  bus.step(voter, { type: 'message', from: proposal.from, message: proposal.message });
  assert.ok(bus.node(voter).disk.some((e) => e.type === 'MessageSigned' && (e.payload as { kind: string; height: number }).height === 5));
  const again = bus.create(voter, bus.node(voter).crypto, bus.node(voter).disk);
  const original = proposal.message as { proposal: { block: { timestamp: number } } };
  // The same proposer equivocates: same round, another block (a later timestamp).
  const proposerNode = bus.node(proposer);
  const other = bus.create(proposer, proposerNode.crypto, proposerNode.disk.filter((e) => !(e.type === 'MessageSigned' && (e.payload as { height: number }).height === 5)));
  const out = other.step({
    type: 'propose',
    block: { ...(original.proposal.block as never as object), timestamp: original.proposal.block.timestamp + 7 } as never,
  });
  const second = out.messages.find((m) => m.to === voter)!;
  const reply = again.step({ type: 'message', from: proposer, message: second.message });
  assert.equal(reply.messages.filter((m) => (m.message as { type: string }).type === 'PREPARE').length, 0, 'no second prepare');
  // The first proposal still gets its prepare again (same digest).
  const replay = again.step({ type: 'message', from: proposer, message: proposal.message });
  assert.ok(replay.messages.some((m) => (m.message as { type: string }).type === 'PREPARE'));
});
