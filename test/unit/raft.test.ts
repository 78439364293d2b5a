/**
 * Focused scenarios for the Raft core, each driving a few nodes by hand: messages are delivered
 * synchronously (or dropped on purpose) and time passes only when a test ticks a node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  commitIndex,
  createRaft,
  entriesFrom,
  lastIndex,
  leaderId,
  peersStatus,
  role,
  step,
  term,
  compact,
  RaftMessage,
} from '../../actors/consensus/raft/index.js';
import { CodedError } from '../../lib/errors.js';
import type {
  Entry,
  EntryData,
  PersistedRaft,
  RaftConfig,
  RaftInput,
  RaftOutput,
  RaftState,
} from '../../actors/consensus/raft/types.js';

const IDS = ['a', 'b', 'c'];

function config(id: string, peers: string[] = IDS, extra: Partial<RaftConfig> = {}): RaftConfig {
  return { id, peers, electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 1, ...extra };
}

function block(name: string): EntryData {
  return { kind: 'block', block: { name } };
}

function entry(term: number, index: number, data: EntryData = { kind: 'noop' }): Entry {
  return { term, index, data };
}

/** A tiny synchronous network: every sent message is queued and `settle` delivers until silence. */
class Net {
  readonly states = new Map<string, RaftState>();
  readonly committed = new Map<string, Entry[]>();
  readonly sent: RaftMessage[] = [];
  queue: RaftMessage[] = [];
  /** Return true to drop a message. */
  cut: (m: RaftMessage) => boolean = () => false;

  constructor(ids: string[] = IDS, extra: Partial<RaftConfig> = {}) {
    for (const id of ids) {
      this.states.set(id, createRaft(config(id, ids, extra)));
      this.committed.set(id, []);
    }
  }

  state(id: string): RaftState {
    return this.states.get(id)!;
  }

  step(id: string, input: RaftInput): RaftOutput {
    const { state, output } = step(this.state(id), input);
    this.states.set(id, state);
    this.committed.get(id)!.push(...output.committed);
    for (const m of output.messages) {
      this.sent.push(m);
      if (!this.cut(m)) this.queue.push(m);
    }
    return output;
  }

  settle(limit = 10_000): number {
    let delivered = 0;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.cut(m)) continue;
        this.step(m.to, { type: 'message', message: m });
        if (++delivered > limit) throw new Error('network did not settle');
      }
    }
    return delivered;
  }

  /** Ticks only `id` until it has started campaigning, then lets the election play out. */
  elect(id: string): void {
    for (let i = 0; i < 100 && role(this.state(id)) === 'follower'; i++) this.step(id, { type: 'tick' });
    this.settle();
    assert.equal(role(this.state(id)), 'leader', `${id} did not win`);
  }

  tickAll(times: number, ids = [...this.states.keys()]): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.step(id, { type: 'tick' });
      this.settle();
    }
  }

  leaders(): string[] {
    return [...this.states].filter(([, s]) => role(s) === 'leader').map(([id]) => id);
  }
}

test('ticking elects exactly one leader, which every node learns', () => {
  const net = new Net();
  for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tickAll(1);
  assert.equal(net.leaders().length, 1);
  const [leader] = net.leaders();
  net.tickAll(3); // a heartbeat reaches everyone
  for (const id of IDS) {
    assert.equal(leaderId(net.state(id)), leader);
    assert.equal(term(net.state(id)), term(net.state(leader)));
  }
});

test('nodes with the same seed still draw different election timeouts', () => {
  const timeouts = ['a', 'b', 'c', 'd', 'e'].map((id) => createRaft(config(id, ['a', 'b', 'c', 'd', 'e'])).electionTimeout);
  assert.ok(new Set(timeouts).size > 1, `timeouts ${timeouts}`);
  for (const t of timeouts) assert.ok(t >= 10 && t <= 20);
});

test('a proposal is replicated and committed on every node, each entry exactly once, in order', () => {
  const net = new Net();
  net.elect('a');
  const result = net.step('a', { type: 'propose', data: block('one') }).proposal!;
  assert.equal(result.accepted, true);
  assert.equal(result.index, 2); // after the leader's no-op
  net.settle();
  net.tickAll(2);
  for (const id of IDS) {
    const committed = net.committed.get(id)!;
    assert.deepEqual(
      committed.map((e) => [e.index, e.data.kind]),
      [
        [1, 'noop'],
        [2, 'block'],
      ],
    );
    assert.equal(commitIndex(net.state(id)), 2);
    assert.deepEqual(entriesFrom(net.state(id), 2, 10), [entry(1, 2, block('one'))]);
  }
});

test('a follower whose answer was late for the commit broadcast learns the commit on that answer, not at the next heartbeat', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const net = new Net(ids);
  net.elect('a');
  net.tickAll(3);
  const held: RaftMessage[] = [];
  net.cut = (m) => {
    if (m.from === 'd' && m.type === 'AppendEntriesResponse') {
      held.push(m);
      return true;
    }
    return false;
  };
  const index = net.step('a', { type: 'propose', data: block('one') }).proposal!.index!;
  net.settle(); // b and c answer: a majority of four, so the leader commits and tells the followers that are idle
  assert.equal(commitIndex(net.state('a')), index);
  assert.equal(commitIndex(net.state('b')), index);
  assert.ok(commitIndex(net.state('d')) < index, 'd has not heard of the commit yet');
  net.cut = () => false;
  for (const m of held.splice(0)) net.step('a', { type: 'message', message: m });
  net.settle(); // no tick: the answer itself must bring d the commit
  assert.equal(commitIndex(net.state('d')), index);
  assert.deepEqual(net.committed.get('d')!.map((e) => e.index).at(-1), index);
});

test('heartbeats are skipped to followers that answered entries sent since the last one, and sent when blocks stop', () => {
  const net = new Net();
  net.elect('a');
  net.tickAll(3);
  /** AppendEntries the leader sends on a tick: its heartbeats. */
  const tick = () => {
    const out = net.step('a', { type: 'tick' });
    net.settle();
    return out.messages.filter((m) => m.type === 'AppendEntries').length;
  };
  let whileFlowing = 0;
  for (let i = 0; i < 8; i++) {
    net.step('a', { type: 'propose', data: block(`b${i}`) }); // blocks flow: one per tick, answered at once
    net.settle();
    whileFlowing += tick();
  }
  let whenIdle = 0;
  for (let i = 0; i < 8; i++) whenIdle += tick();
  assert.equal(whileFlowing, 0, 'no heartbeat while every follower answered what it was sent');
  assert.ok(whenIdle >= 6, `once blocks stop, heartbeats every 2 ticks resume (${whenIdle} in 8 ticks to 2 followers)`);
  for (const id of IDS) assert.equal(commitIndex(net.state(id)), commitIndex(net.state('a')));
});

test('a follower refuses proposals and names the leader', () => {
  const net = new Net();
  net.elect('a');
  const output = net.step('b', { type: 'propose', data: block('x') });
  assert.deepEqual(output.proposal, { accepted: false, reason: 'not leader' });
  assert.equal(output.persist.entries.length, 0);
  assert.equal(leaderId(net.state('b')), 'a');
});

test('a follower truncates a conflicting tail and takes the leader entries', () => {
  // b holds entries 2..3 from a term-2 leader that never committed them; the term-3 leader has another index 2.
  let b = createRaft(config('b'), {
    hardState: { term: 2, votedFor: null },
    entries: [entry(1, 1), entry(2, 2, block('x')), entry(2, 3, block('y'))],
    commitIndex: 1,
  });
  const base = { type: 'AppendEntries', from: 'a', to: 'b', term: 3, leaderCommit: 1 } as const;

  // The probe after index 3 fails; the hint names b's last index whose term is <= 3: index 3 of term 2.
  let r = step(b, { type: 'message', message: { ...base, prevLogIndex: 3, prevLogTerm: 3, entries: [] } });
  b = r.state;
  assert.deepEqual(r.output.messages, [
    {
      type: 'AppendEntriesResponse',
      from: 'b',
      to: 'a',
      term: 3,
      success: false,
      matchIndex: 0,
      reject: { prevLogIndex: 3, hintIndex: 3, hintTerm: 2 },
    },
  ]);
  assert.deepEqual(r.output.persist, { hardState: { term: 3, votedFor: null }, entries: [] });

  r = step(b, { type: 'message', message: { ...base, prevLogIndex: 1, prevLogTerm: 1, entries: [entry(3, 2, block('z'))] } });
  b = r.state;
  assert.deepEqual(r.output.persist, { truncateFrom: 2, entries: [entry(3, 2, block('z'))] });
  assert.equal(lastIndex(b), 2);
  assert.deepEqual(r.output.messages.map((m) => m.type === 'AppendEntriesResponse' && [m.success, m.matchIndex]), [[true, 2]]);

  // A duplicate of the same request changes nothing.
  r = step(b, { type: 'message', message: { ...base, prevLogIndex: 1, prevLogTerm: 1, entries: [entry(3, 2, block('z'))] } });
  assert.deepEqual(r.output.persist, { entries: [] });
});

test('a follower does not commit past what the leader proved to match', () => {
  // b has a stale entry at index 2; leaderCommit 2 arrives with a heartbeat that only proves index 1.
  const b = createRaft(config('b'), { hardState: { term: 2, votedFor: null }, entries: [entry(1, 1), entry(2, 2)] });
  const message: RaftMessage = { type: 'AppendEntries', from: 'a', to: 'b', term: 3, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 2 };
  const { state, output } = step(b, { type: 'message', message });
  assert.equal(commitIndex(state), 1);
  assert.deepEqual(output.committed, [entry(1, 1)]);
});

test('a leader commits an entry of an earlier term only through one of its own term', () => {
  // a was elected in term 3 holding index 2 from term 2, and appended its no-op at index 3.
  const net = new Net();
  net.states.set('a', createRaft(config('a'), { hardState: { term: 2, votedFor: null }, entries: [entry(1, 1), entry(2, 2)] }));
  net.cut = () => true; // deliver nothing automatically: the test answers for the followers
  for (let i = 0; i < 100 && role(net.state('a')) !== 'candidate'; i++) net.step('a', { type: 'tick' });
  const grant = (from: string, preVote: boolean) =>
    net.step('a', { type: 'message', message: { type: 'RequestVoteResponse', from, to: 'a', term: term(net.state('a')) + (preVote ? 1 : 0), preVote, granted: true } });
  grant('b', true); // pre-vote won: a is now a candidate of term 3
  assert.equal(term(net.state('a')), 3);
  grant('b', false);
  assert.equal(role(net.state('a')), 'leader');
  assert.equal(lastIndex(net.state('a')), 3);

  const ack = (matchIndex: number) =>
    net.step('a', { type: 'message', message: { type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 3, success: true, matchIndex } });
  // A majority (a, b) holds index 2, but it is of term 2: committing it by counting could be undone (§5.4.2).
  assert.deepEqual(ack(2).committed, []);
  assert.equal(commitIndex(net.state('a')), 0);
  // Once the term-3 no-op is on a majority, it and everything before it commit.
  assert.deepEqual(ack(3).committed.map((e) => e.index), [1, 2, 3]);
});

test('votes go only to candidates whose log is at least as up to date, and once per term', () => {
  const voter = createRaft(config('c'), { hardState: { term: 2, votedFor: null }, entries: [entry(1, 1), entry(2, 2)] });
  const ask = (state: RaftState, from: string, t: number, lastLogIndex: number, lastLogTerm: number) =>
    step(state, { type: 'message', message: { type: 'RequestVote', from, to: 'c', term: t, preVote: false, lastLogIndex, lastLogTerm } });
  const granted = (output: RaftOutput) => output.messages.some((m) => m.type === 'RequestVoteResponse' && m.granted);

  // Older last term, even with a longer log: refused (and c does not vote in term 3).
  let r = ask(voter, 'a', 3, 5, 1);
  assert.equal(granted(r.output), false);
  assert.deepEqual(r.output.persist.hardState, { term: 3, votedFor: null });
  // Same last term, shorter log: refused.
  r = ask(r.state, 'a', 3, 1, 2);
  assert.equal(granted(r.output), false);
  // Same last term, same length: granted, and the vote is persisted with the reply.
  r = ask(r.state, 'b', 3, 2, 2);
  assert.equal(granted(r.output), true);
  assert.deepEqual(r.output.persist.hardState, { term: 3, votedFor: 'b' });
  // A second candidate in the same term gets nothing, even with a better log; the first is answered again.
  assert.equal(granted(ask(r.state, 'a', 3, 9, 3).output), false);
  assert.equal(granted(ask(r.state, 'b', 3, 2, 2).output), true);
});

test('a restarted node keeps its term and vote and does not vote twice', () => {
  const first = step(createRaft(config('c')), {
    type: 'message',
    message: { type: 'RequestVote', from: 'b', to: 'c', term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0 },
  });
  const persisted: PersistedRaft = { hardState: first.output.persist.hardState!, entries: first.output.persist.entries };
  assert.deepEqual(persisted.hardState, { term: 5, votedFor: 'b' });

  const restarted = createRaft(config('c'), persisted);
  assert.equal(term(restarted), 5);
  assert.equal(role(restarted), 'follower');
  assert.equal(leaderId(restarted), null);
  const { output } = step(restarted, {
    type: 'message',
    message: { type: 'RequestVote', from: 'a', to: 'c', term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0 },
  });
  assert.deepEqual(output.messages, [{ type: 'RequestVoteResponse', from: 'c', to: 'a', term: 5, preVote: false, granted: false }]);
});

test('a restart with a commit hint does not emit the already-applied entries again', () => {
  const entries = [entry(1, 1), entry(1, 2, block('x')), entry(1, 3, block('y'))];
  const node = createRaft(config('b'), { hardState: { term: 1, votedFor: 'a' }, entries, commitIndex: 2 });
  assert.equal(commitIndex(node), 2);
  const { output } = step(node, {
    type: 'message',
    message: { type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 3, prevLogTerm: 1, entries: [], leaderCommit: 3 },
  });
  assert.deepEqual(output.committed, [entries[2]]);
});

test('a leader cut off from the majority steps down and refuses proposals (check quorum)', () => {
  const net = new Net();
  net.elect('a');
  net.cut = (m) => m.from === 'a' || m.to === 'a';
  // Within an election timeout it still believes it leads.
  net.tickAll(5, ['a']);
  assert.equal(role(net.state('a')), 'leader');
  net.tickAll(2 * 10, ['a']);
  assert.equal(role(net.state('a')), 'follower');
  assert.equal(leaderId(net.state('a')), null);
  assert.deepEqual(net.step('a', { type: 'propose', data: block('late') }).proposal, { accepted: false, reason: 'not leader' });
});

test('a stale leader steps down as soon as it hears of a later term', () => {
  const net = new Net();
  net.elect('a');
  const staleTerm = term(net.state('a'));
  const output = net.step('a', {
    type: 'message',
    message: { type: 'AppendEntriesResponse', from: 'b', to: 'a', term: staleTerm + 1, success: false, matchIndex: 0 },
  });
  assert.equal(role(net.state('a')), 'follower');
  assert.deepEqual(output.persist.hardState, { term: staleTerm + 1, votedFor: null });
  // And a node in a later term answers a stale leader's AppendEntries with its term, so the leader learns it.
  const b = createRaft(config('b'), { hardState: { term: 9, votedFor: null }, entries: [] });
  const reply = step(b, {
    type: 'message',
    message: { type: 'AppendEntries', from: 'a', to: 'b', term: 4, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 },
  }).output.messages;
  assert.deepEqual(reply, [{ type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 9, success: false, matchIndex: 0 }]);
});

test('pre-vote: a node cut off keeps its term, and its return does not depose the leader', () => {
  const net = new Net();
  net.elect('a');
  const leaderTerm = term(net.state('a'));
  net.cut = (m) => m.from === 'c' || m.to === 'c';
  net.tickAll(100);
  assert.equal(term(net.state('c')), leaderTerm, 'the isolated node must not raise its term');
  assert.equal(role(net.state('a')), 'leader');
  net.cut = () => false;
  net.tickAll(30);
  assert.equal(role(net.state('a')), 'leader');
  assert.equal(term(net.state('a')), leaderTerm);
  assert.equal(leaderId(net.state('c')), 'a');
});

test('followers that hear from a leader ignore requests to start a new term', () => {
  const net = new Net();
  net.elect('a');
  const t = term(net.state('a'));
  const output = net.step('b', {
    type: 'message',
    message: { type: 'RequestVote', from: 'c', to: 'b', term: t + 1, preVote: false, lastLogIndex: 99, lastLogTerm: 99 },
  });
  assert.deepEqual(output.messages, []);
  assert.equal(term(net.state('b')), t);
});

test('a single-node cluster elects itself and commits its own proposals', () => {
  const net = new Net(['solo']);
  net.elect('solo');
  const output = net.step('solo', { type: 'propose', data: block('x') });
  assert.deepEqual(output.committed, [entry(1, 2, block('x'))]);
  assert.deepEqual(output.persist.entries, [entry(1, 2, block('x'))]);
  assert.deepEqual(net.committed.get('solo')!.map((e) => e.index), [1, 2]);
});

test('a follower far behind catches up in a bounded number of round trips', () => {
  const net = new Net(IDS, { maxEntriesPerAppend: 64 });
  net.elect('a');
  net.cut = (m) => m.from === 'c' || m.to === 'c';
  for (let i = 0; i < 1000; i++) net.step('a', { type: 'propose', data: block(`b${i}`) });
  net.settle();
  net.cut = () => false;
  const before = net.sent.length;
  net.tickAll(2, ['a']); // one heartbeat starts the catch-up
  const toC = net.sent.slice(before).filter((m) => m.to === 'c' && m.type === 'AppendEntries');
  assert.equal(lastIndex(net.state('c')), 1001);
  // ceil(1001 / 64) = 16 batches, plus a heartbeat or two.
  assert.ok(toC.length <= 16 + 3, `${toC.length} AppendEntries to catch up`);
  for (const m of toC) assert.ok(m.type === 'AppendEntries' && m.entries.length <= 64);
});

test('a divergent follower is repaired with one refusal per term, not per entry', () => {
  // c led term 2 alone and wrote 200 entries no one else has; a and b hold 200 other entries from term 3.
  const tail = (t: number, name: string) => Array.from({ length: 200 }, (_, i) => entry(t, i + 2, block(`${name}${i}`)));
  const net = new Net();
  net.states.set('c', createRaft(config('c'), { hardState: { term: 2, votedFor: 'c' }, entries: [entry(1, 1), ...tail(2, 'stale')] }));
  for (const id of ['a', 'b']) {
    net.states.set(id, createRaft(config(id), { hardState: { term: 3, votedFor: 'a' }, entries: [entry(1, 1), ...tail(3, 'kept')] }));
  }
  net.cut = (m) => m.from === 'c' || m.to === 'c';
  net.elect('a'); // term 4; its first probe to c (after index 201) is lost
  net.cut = () => false;
  const before = net.sent.length;
  net.tickAll(2, ['a']);
  const toC = net.sent.slice(before).filter((m) => m.to === 'c');
  const refusals = net.sent.slice(before).filter((m) => m.type === 'AppendEntriesResponse' && m.from === 'c' && !m.success);
  // The probe at 201 is refused with a hint naming term 2, which a lacks past index 1: the next probe is at 1.
  assert.equal(refusals.length, 1);
  // One refused probe, then ceil(201 / 64) = 4 batches.
  assert.ok(toC.length <= 1 + 4 + 1, `${toC.length} messages to c`);
  assert.equal(lastIndex(net.state('c')), 202);
  net.tickAll(2);
  assert.equal(commitIndex(net.state('c')), commitIndex(net.state('a')));
  assert.equal(commitIndex(net.state('c')), 202);
  assert.equal(net.committed.get('c')!.some((e) => JSON.stringify(e.data).includes('stale')), false);
});

test('step leaves its input usable: two different inputs from one state do not interfere', () => {
  const net = new Net(['solo']);
  net.elect('solo');
  const start = net.state('solo');
  const x = step(start, { type: 'propose', data: block('x') }).state;
  const y = step(start, { type: 'propose', data: block('y') }).state;
  assert.deepEqual(entriesFrom(x, 2, 1), [entry(1, 2, block('x'))]);
  assert.deepEqual(entriesFrom(y, 2, 1), [entry(1, 2, block('y'))]);
  assert.equal(lastIndex(start), 1);
  assert.equal(start.progress.size, 0);
});

// How long this takes is a benchmark figure (bench/consensus-restart.ts prints it), not a test assertion.
test('a lone leader appends and commits 100k entries, every one readable at its index', () => {
  const net = new Net(['solo']);
  net.elect('solo');
  let state = net.state('solo');
  for (let i = 0; i < 100_000; i++) state = step(state, { type: 'propose', data: block(`${i}`) }).state;
  assert.equal(lastIndex(state), 100_001);
  assert.equal(commitIndex(state), 100_001);
  assert.deepEqual(entriesFrom(state, 99_999, 10).map((e) => e.index), [99_999, 100_000, 100_001]);
});

test('every message a cluster sends is plain JSON and passes the wire schemas', () => {
  const net = new Net();
  net.elect('a');
  for (let i = 0; i < 5; i++) net.step('a', { type: 'propose', data: block(`${i}`) });
  net.settle();
  net.tickAll(25);
  const types = new Set<string>();
  for (const message of net.sent) {
    const wire = JSON.parse(JSON.stringify(message));
    assert.deepEqual(RaftMessage.parse(wire), message);
    types.add(message.type);
  }
  assert.deepEqual([...types].sort(), ['AppendEntries', 'AppendEntriesResponse', 'RequestVote', 'RequestVoteResponse']);
  assert.equal(
    RaftMessage.safeParse({ type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [entry(1, 5)], leaderCommit: 0 }).success,
    false,
    'entries must follow prevLogIndex',
  );
});

test('peersStatus reports progress on the leader only', () => {
  const net = new Net();
  net.elect('a');
  net.tickAll(2);
  const status = peersStatus(net.state('a'));
  assert.deepEqual(
    status.map((p) => [p.id, p.isSelf, p.isLeader, p.matchIndex]),
    [
      ['a', true, true, 1],
      ['b', false, false, 1],
      ['c', false, false, 1],
    ],
  );
  assert.ok(peersStatus(net.state('b')).every((p) => p.matchIndex === null && p.isLeader === (p.id === 'a')));
});

test('createRaft rejects bad configurations and corrupt persisted state', () => {
  const bad: [Partial<RaftConfig>, PersistedRaft?][] = [
    [{ peers: ['b', 'c'] }],
    [{ peers: ['a', 'a', 'b'] }],
    [{ electionTicksMin: 0 }],
    [{ electionTicksMax: 5 }],
    [{ heartbeatTicks: 10 }],
    [{}, { hardState: { term: 1, votedFor: '' }, entries: [] }],
    [{}, { hardState: { term: 1, votedFor: null }, entries: [entry(1, 2)] }],
    [{}, { hardState: { term: 1, votedFor: null }, entries: [entry(2, 1)] }],
    [{}, { hardState: { term: 1, votedFor: null }, entries: [entry(1, 1)], commitIndex: 2 }],
  ];
  for (const [extra, persisted] of bad) {
    assert.throws(() => createRaft({ ...config('a'), ...extra }, persisted), CodedError, JSON.stringify([extra, persisted]));
  }
});

// ---- snapshots and compaction (Raft §7)

test('compaction drops the log before an applied index; a follower behind it gets the snapshot, not entries', () => {
  const net = new Net();
  net.elect('a');
  net.cut = (m) => m.to === 'c' || m.from === 'c';
  for (let i = 0; i < 6; i++) {
    net.step('a', { type: 'propose', data: block(`b${i}`) });
    net.settle();
  }
  assert.equal(commitIndex(net.state('a')), 7);
  assert.throws(() => compact(net.state('a'), 8, null), /no snapshot at 8 \(commit 7/);
  const compacted = compact(net.state('a'), 5, { mine: true });
  net.states.set('a', compacted);
  assert.deepEqual(compacted.snapshot, { index: 5, term: 1, config: { index: 0, voters: IDS, learners: [] }, data: { mine: true } });
  assert.equal(lastIndex(compacted), 7);
  assert.deepEqual(entriesFrom(compacted, 1, 10).map((e) => e.index), [6, 7], 'entries up to 5 are gone');
  // c comes back with an empty log: the leader no longer holds index 1, so it sends the snapshot.
  net.cut = () => false;
  net.tickAll(3);
  const snapshots = net.sent.filter((m) => m.type === 'InstallSnapshot' && m.to === 'c');
  assert.ok(snapshots.length >= 1, 'c was sent the snapshot');
  const c = net.state('c');
  assert.equal(c.log.offset, 5);
  assert.equal(commitIndex(c), 7);
  // (c committed the leader's no-op before it was cut off; 2..5 it never sees: the snapshot stands for them.)
  assert.deepEqual(net.committed.get('c')!.map((e) => e.index), [1, 6, 7], 'only entries after the snapshot are emitted');
});

test('installing a snapshot: replaces a divergent log and says so; a matching log only learns the commit', () => {
  const leader = createRaft(config('a'));
  const snapshot = { index: 3, term: 2, config: { index: 0, voters: IDS, learners: [] }, data: 'app' };
  const install = { type: 'InstallSnapshot', from: 'a', to: 'b', term: 2, snapshot } as const;
  // b holds an uncommitted tail of term 1 that the leader never had: it goes.
  const divergent = createRaft(config('b'), { hardState: { term: 1, votedFor: null }, entries: [entry(1, 1), entry(1, 2), entry(1, 3), entry(1, 4)], commitIndex: 1 });
  const out = step(divergent, { type: 'message', message: install });
  assert.deepEqual(out.output.persist.snapshot, snapshot);
  assert.deepEqual(out.output.committed, []);
  assert.equal(out.state.log.offset, 3);
  assert.equal(lastIndex(out.state), 3);
  assert.equal(commitIndex(out.state), 3);
  assert.deepEqual(out.output.messages, [{ type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 2, success: true, matchIndex: 3 }]);
  // b's log already holds index 3 of term 2: keep the log, commit up to it (emitting those entries).
  const matching = createRaft(config('b'), { hardState: { term: 2, votedFor: null }, entries: [entry(1, 1), entry(2, 2), entry(2, 3), entry(2, 4)], commitIndex: 1 });
  const kept = step(matching, { type: 'message', message: install });
  assert.equal(kept.output.persist.snapshot, undefined);
  assert.deepEqual(kept.output.committed.map((e) => e.index), [2, 3]);
  assert.equal(lastIndex(kept.state), 4);
  // A stale snapshot (at or below our commit) changes nothing.
  const stale = step(kept.state, { type: 'message', message: install });
  assert.equal(stale.output.persist.snapshot, undefined);
  assert.deepEqual(stale.output.messages, [{ type: 'AppendEntriesResponse', from: 'b', to: 'a', term: 2, success: true, matchIndex: 3 }]);
  void leader;
});

test('a node restarts from a snapshot and the entries after it', () => {
  const snapshot = { index: 10, term: 3, config: { index: 7, voters: ['a', 'b'], learners: ['c'] }, data: null };
  const s = createRaft(config('a'), { hardState: { term: 4, votedFor: 'a' }, snapshot, entries: [entry(4, 11), entry(4, 12)], commitIndex: 0 });
  assert.equal(commitIndex(s), 10, 'everything in a snapshot was committed');
  assert.equal(lastIndex(s), 12);
  assert.deepEqual(s.snapshot, snapshot);
  assert.deepEqual(peersStatus(s).map((p) => [p.id, p.isLearner]), [['a', false], ['b', false], ['c', true]], 'membership from the snapshot');
  assert.throws(() => createRaft(config('a'), { hardState: { term: 4, votedFor: null }, snapshot, entries: [entry(4, 12)] }), (err: unknown) => err instanceof CodedError);
});
