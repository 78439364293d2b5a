/**
 * Membership changes in the Raft core (single-server changes, Raft thesis §4.1, and learners): each scenario
 * drives a few nodes by hand over a synchronous network; time passes only when a test ticks a node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  commitIndex,
  createRaft,
  lastIndex,
  membership,
  peersStatus,
  raftId,
  role,
  step,
  term,
  EntryData as EntryDataSchema,
  type ConfigChange,
  type Entry,
  type EntryData,
  type RaftConfig,
  type RaftInput,
  type RaftMessage,
  type RaftOutput,
  type RaftState,
} from '../../actors/consensus/raft/index.js';

interface Layout {
  voters: string[];
  learners?: string[];
  /** Nodes outside the initial configuration, started with an empty log (joinExisting). */
  joining?: string[];
}

function config(id: string, layout: Layout): RaftConfig {
  return {
    id,
    peers: layout.voters,
    learners: layout.learners,
    joinExisting: layout.joining?.includes(id) ?? false,
    electionTicksMin: 10,
    electionTicksMax: 20,
    heartbeatTicks: 2,
    seed: 1,
  };
}

function block(name: string): EntryData {
  return { kind: 'block', block: { name } };
}

function change(type: ConfigChange['type'], id: string): EntryData {
  return { kind: 'config', change: { type, id } };
}

/** A synchronous network: sent messages are queued; `settle` delivers until silence; `down` nodes hear nothing. */
class Net {
  readonly states = new Map<string, RaftState>();
  readonly layout: Layout;
  readonly committed = new Map<string, Entry[]>();
  readonly sent: RaftMessage[] = [];
  queue: RaftMessage[] = [];
  /** Nodes cut off from everyone: what they send and what is sent to them is lost. */
  down = new Set<string>();
  /** Return true to drop a message. */
  drop: (m: RaftMessage) => boolean = () => false;

  constructor(layout: Layout) {
    this.layout = layout;
    for (const id of [...layout.voters, ...(layout.learners ?? []), ...(layout.joining ?? [])]) {
      this.states.set(id, createRaft(config(id, layout)));
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
      if (!this.lost(m)) this.queue.push(m);
    }
    return output;
  }

  propose(id: string, data: EntryData): { accepted: boolean; index?: number; reason?: string } {
    return this.step(id, { type: 'propose', data }).proposal!;
  }

  settle(limit = 10_000): void {
    let delivered = 0;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.lost(m)) continue;
        this.step(m.to, { type: 'message', message: m });
        if (++delivered > limit) throw new Error('network did not settle');
      }
    }
  }

  private lost(m: RaftMessage): boolean {
    return this.down.has(m.from) || this.down.has(m.to) || this.drop(m);
  }

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

  /** Proposes a change on the leader and lets it commit everywhere reachable. */
  change(leader: string, data: EntryData): void {
    const result = this.propose(leader, data);
    assert.equal(result.accepted, true, `change refused: ${result.reason}`);
    this.settle();
    this.tickAll(2); // a heartbeat carries the commit to everyone
  }

  committedNames(id: string): string[] {
    return this.committed.get(id)!.flatMap((e) => (e.data.kind === 'block' ? [(e.data.block as { name: string }).name] : []));
  }

  leaders(): string[] {
    return [...this.states].filter(([, s]) => role(s) === 'leader').map(([id]) => id);
  }
}

test('a learner added to a running cluster catches up from an empty log, and commit never waits for it', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], joining: ['d'] });
  net.elect('a');
  for (const name of ['one', 'two', 'three']) net.propose('a', block(name));
  net.settle();
  assert.deepEqual(membership(net.state('d')), { voters: ['a', 'b', 'c'], learners: [], pendingChange: false });

  net.change('a', change('addLearner', 'd'));
  assert.deepEqual(membership(net.state('a')), { voters: ['a', 'b', 'c'], learners: ['d'], pendingChange: false });
  assert.deepEqual(membership(net.state('d')), membership(net.state('a')));
  assert.deepEqual(net.committedNames('d'), ['one', 'two', 'three'], 'the learner applies what was committed before it joined');
  assert.equal(commitIndex(net.state('d')), commitIndex(net.state('a')));

  // The learner is cut off: the three voters still commit.
  net.down = new Set(['d']);
  const four = net.propose('a', block('four'));
  net.settle();
  assert.equal(commitIndex(net.state('a')), four.index);

  // One voter down and the learner answering: its acknowledgement does not make a majority of 2 of 3 voters.
  net.down = new Set(['b', 'c']);
  const before = commitIndex(net.state('a'));
  const five = net.propose('a', block('five'));
  net.settle();
  net.tickAll(3, ['a', 'd']);
  assert.equal(lastIndex(net.state('d')), five.index, 'the learner holds the entry');
  assert.equal(commitIndex(net.state('a')), before, 'but the leader must not count it');

  net.down = new Set(['c']);
  net.tickAll(3, ['a', 'b', 'd']);
  assert.equal(commitIndex(net.state('a')), five.index, 'two of three voters commit it');
  assert.deepEqual(net.committedNames('d'), ['one', 'two', 'three', 'four', 'five']);
  assert.deepEqual(
    peersStatus(net.state('a')).map((p) => [p.id, p.isLearner, p.matchIndex]),
    [
      ['a', false, five.index],
      ['b', false, five.index],
      ['c', false, four.index],
      ['d', true, five.index],
    ],
  );
});

test('a learner never campaigns, even after a long silence, and its vote does not count', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], learners: ['d'] });
  net.elect('a');
  net.propose('a', block('x'));
  net.settle();
  const learnerTerm = term(net.state('d'));

  // Every voter falls silent; the learner ticks for many election timeouts.
  net.down = new Set(['a', 'b', 'c']);
  net.tickAll(500, ['d']);
  assert.equal(role(net.state('d')), 'follower');
  assert.equal(term(net.state('d')), learnerTerm);
  assert.ok(!net.sent.some((m) => m.from === 'd' && m.type === 'RequestVote'), 'the learner sent a vote request');

  // b polls the voters only; a grant from the learner does not make a majority, a grant from c does.
  net.down = new Set(['a', 'c', 'd']);
  for (let i = 0; i < 100 && role(net.state('b')) === 'follower'; i++) net.step('b', { type: 'tick' });
  const polled = net.sent.filter((m) => m.from === 'b' && m.type === 'RequestVote').map((m) => m.to);
  assert.deepEqual(polled.sort(), ['a', 'c']);
  const pollTerm = term(net.state('b')) + 1;
  const grant = (from: string) =>
    net.step('b', { type: 'message', message: { type: 'RequestVoteResponse', from, to: 'b', term: pollTerm, preVote: true, granted: true } });
  grant('d');
  assert.equal(term(net.state('b')), pollTerm - 1, 'the learner vote counted');
  grant('c');
  assert.equal(term(net.state('b')), pollTerm, 'a voter grant moves b to the election');

  // With a second voter back, b (or c) wins.
  net.down = new Set(['a']);
  net.tickAll(100, ['b', 'c', 'd']);
  assert.equal(net.leaders().filter((id) => id !== 'a').length, 1);
});

test('a promoted learner counts: with two of four voters down nothing commits, with one down it does', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], learners: ['d'] });
  net.elect('a');
  assert.equal(net.propose('a', change('addVoter', 'd')).reason, 'd is a learner: promote it');
  net.change('a', change('promote', 'd'));
  assert.deepEqual(membership(net.state('a')), { voters: ['a', 'b', 'c', 'd'], learners: [], pendingChange: false });
  assert.deepEqual(membership(net.state('d')), membership(net.state('a')));

  net.down = new Set(['c', 'd']);
  const before = commitIndex(net.state('a'));
  const stuck = net.propose('a', block('stuck'));
  net.settle();
  net.tickAll(3, ['a', 'b']);
  assert.equal(commitIndex(net.state('a')), before, 'two of four voters are not a majority');

  net.down = new Set(['c']);
  net.tickAll(3, ['a', 'b', 'd']);
  assert.equal(commitIndex(net.state('a')), stuck.index, 'three of four are');

  // The promoted node now campaigns when the leader goes silent.
  net.down = new Set(['a']);
  net.tickAll(60, ['b', 'c', 'd']);
  assert.equal(net.leaders().filter((id) => id !== 'a').length, 1);
  assert.ok(net.sent.some((m) => m.to === 'd' && m.type === 'RequestVote'), 'candidates ask the promoted node');
});

test('a voter added directly (raft_addPeer) catches up and counts at once', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], joining: ['d'] });
  net.elect('a');
  net.propose('a', block('before'));
  net.settle();
  net.change('a', change('addVoter', 'd'));
  assert.deepEqual(membership(net.state('d')).voters, ['a', 'b', 'c', 'd']);
  assert.deepEqual(net.committedNames('d'), ['before']);
  net.down = new Set(['c', 'd']);
  const before = commitIndex(net.state('a'));
  net.propose('a', block('stuck'));
  net.settle();
  assert.equal(commitIndex(net.state('a')), before);
});

test('removing a voter shrinks the quorum, and the removed node stops campaigning', () => {
  const net = new Net({ voters: ['a', 'b', 'c', 'd'] });
  net.elect('a');
  // Before: with c and d down, a and b are two of four, not enough.
  net.down = new Set(['c', 'd']);
  const before = commitIndex(net.state('a'));
  net.propose('a', block('waits'));
  net.settle();
  assert.equal(commitIndex(net.state('a')), before);
  net.down = new Set();
  net.tickAll(3);
  net.change('a', change('remove', 'd'));
  assert.deepEqual(membership(net.state('a')), { voters: ['a', 'b', 'c'], learners: [], pendingChange: false });
  assert.deepEqual(membership(net.state('d')).voters, ['a', 'b', 'c'], 'd holds the entry that removed it');

  // After: a and b are two of three.
  net.down = new Set(['c', 'd']);
  const commits = net.propose('a', block('commits'));
  net.settle();
  assert.equal(commitIndex(net.state('a')), commits.index);

  // The removed node, left alone for many timeouts, never asks for votes, and the leader no longer sends to it.
  net.down = new Set(['a', 'b', 'c']);
  const sentBefore = net.sent.length;
  net.tickAll(300, ['d']);
  assert.equal(role(net.state('d')), 'follower');
  assert.equal(net.sent.length, sentBefore, 'the removed node sent something');
  net.down = new Set();
  net.tickAll(10, ['a', 'b', 'c']);
  assert.ok(!net.sent.slice(sentBefore).some((m) => m.to === 'd'), 'the leader still replicates to a removed node');
});

test('a leader that removes itself leads until the removal commits without its own ack, then steps down', () => {
  const net = new Net({ voters: ['a', 'b', 'c'] });
  net.elect('a');
  // The new configuration {b, c} needs both of them; a itself no longer counts.
  net.down = new Set(['b']);
  const removal = net.propose('a', change('remove', 'a'));
  assert.equal(removal.accepted, true);
  net.settle();
  net.tickAll(3, ['a', 'c']);
  assert.equal(lastIndex(net.state('c')), removal.index);
  assert.equal(role(net.state('a')), 'leader', 'still leading while the removal is uncommitted');
  assert.ok(commitIndex(net.state('a')) < removal.index!, 'a counted its own acknowledgement');
  assert.equal(membership(net.state('a')).pendingChange, true);
  assert.equal(net.propose('a', change('addLearner', 'x')).reason, `a configuration change is pending (index ${removal.index})`);

  net.down = new Set();
  net.tickAll(2, ['a', 'b', 'c']);
  assert.equal(commitIndex(net.state('a')), removal.index);
  assert.equal(role(net.state('a')), 'follower', 'the removed leader steps down once its removal commits');
  assert.deepEqual(membership(net.state('a')), { voters: ['b', 'c'], learners: [], pendingChange: false });

  // The others elect a successor between themselves; a never campaigns again.
  const requestsBefore = net.sent.filter((m) => m.from === 'a' && m.type === 'RequestVote').length;
  net.tickAll(100);
  assert.equal(net.leaders().length, 1);
  assert.notEqual(net.leaders()[0], 'a');
  assert.equal(net.sent.filter((m) => m.from === 'a' && m.type === 'RequestVote').length, requestsBefore);
  const leader = net.leaders()[0];
  const after = net.propose(leader, block('after'));
  net.settle();
  assert.equal(commitIndex(net.state(leader)), after.index);
});

test('a second configuration change is refused while one is pending; nonsensical changes are refused', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], joining: ['d', 'e'] });
  net.elect('a');
  net.down = new Set(['b', 'c']);
  const first = net.propose('a', change('addLearner', 'd'));
  assert.equal(first.accepted, true);
  assert.equal(membership(net.state('a')).pendingChange, true);
  assert.deepEqual(membership(net.state('a')).learners, ['d'], 'a change takes effect on append');
  assert.deepEqual(net.propose('a', change('addLearner', 'e')), {
    accepted: false,
    reason: `a configuration change is pending (index ${first.index})`,
  });
  assert.equal(net.propose('a', block('still fine')).accepted, true, 'other proposals go on');

  net.down = new Set();
  net.tickAll(3);
  assert.equal(membership(net.state('a')).pendingChange, false);
  assert.equal(net.propose('a', change('addLearner', 'd')).reason, 'd is already a learner');
  assert.equal(net.propose('a', change('addVoter', 'b')).reason, 'b is already a voter');
  assert.equal(net.propose('a', change('promote', 'b')).reason, 'b is not a learner');
  assert.equal(net.propose('a', change('remove', 'zed')).reason, 'zed is not a member');
  assert.equal(net.propose('b', change('addLearner', 'e')).reason, 'not leader');
  assert.equal(net.propose('a', change('addLearner', 'e')).accepted, true);

  const solo = new Net({ voters: ['s'] });
  solo.elect('s');
  assert.equal(solo.propose('s', change('remove', 's')).reason, 's is the last voter');
});

test('a new leader refuses a change until an entry of its own term is committed', () => {
  const net = new Net({ voters: ['a', 'b', 'c'] });
  net.elect('a');
  // With a down, b or c wins the next term, but its no-op is not acknowledged yet.
  net.down = new Set(['a']);
  net.drop = (m) => m.type === 'AppendEntries';
  for (let i = 0; i < 200 && net.leaders().every((id) => id === 'a'); i++) net.tickAll(1, ['b', 'c']);
  const leader = net.leaders().find((id) => id !== 'a')!;
  assert.ok(term(net.state(leader)) > term(net.state('a')));
  assert.equal(net.propose(leader, change('addLearner', 'x')).reason, 'no entry of the current term is committed yet');
  net.drop = () => false;
  net.tickAll(3, ['b', 'c']);
  assert.equal(role(net.state(leader)), 'leader');
  assert.equal(net.propose(leader, change('addLearner', 'x')).accepted, true);
});

test('truncating an uncommitted config entry reverts the membership', () => {
  const layout = { voters: ['a', 'b', 'c'] };
  let b = createRaft(config('b', layout));
  const append = (from: string, t: number, prevLogIndex: number, prevLogTerm: number, entries: Entry[]): RaftOutput => {
    const result = step(b, {
      type: 'message',
      message: { type: 'AppendEntries', from, to: 'b', term: t, prevLogIndex, prevLogTerm, entries, leaderCommit: 1 },
    });
    b = result.state;
    return result.output;
  };
  append('a', 1, 0, 0, [
    { term: 1, index: 1, data: { kind: 'noop' } },
    { term: 1, index: 2, data: change('addLearner', 'd') },
    { term: 1, index: 3, data: block('after') },
  ]);
  assert.deepEqual(membership(b), { voters: ['a', 'b', 'c'], learners: ['d'], pendingChange: true });

  // c leads term 2 without that entry: b's tail from index 2 goes, and the learner with it.
  const output = append('c', 2, 1, 1, [{ term: 2, index: 2, data: change('remove', 'a') }]);
  assert.equal(output.persist.truncateFrom, 2);
  assert.deepEqual(membership(b), { voters: ['b', 'c'], learners: [], pendingChange: true });

  // And a plain truncation back to the initial configuration.
  append('a', 3, 1, 1, [{ term: 3, index: 2, data: block('plain') }]);
  assert.deepEqual(membership(b), { voters: ['a', 'b', 'c'], learners: [], pendingChange: false });
});

test('a restart restores the membership from the persisted log, pending change included', () => {
  const net = new Net({ voters: ['a', 'b', 'c'], joining: ['d', 'e'] });
  net.elect('a');
  net.change('a', change('addLearner', 'd'));
  net.change('a', change('promote', 'd'));
  net.change('a', change('addLearner', 'e'));
  net.change('a', change('remove', 'c'));
  net.down = new Set(['b', 'c', 'd', 'e']);
  net.propose('a', change('promote', 'e'));
  const live = membership(net.state('a'));
  assert.deepEqual(live, { voters: ['a', 'b', 'd', 'e'], learners: [], pendingChange: true });

  for (const id of ['a', 'd']) {
    const s = net.state(id);
    const entries = s.log.entries.slice(0, s.log.length);
    const restored = createRaft(config(id, net.layout), {
      hardState: { term: term(s), votedFor: s.votedFor },
      entries,
      commitIndex: commitIndex(s),
    });
    assert.deepEqual(membership(restored), membership(s), id);
    assert.equal(raftId(restored), id);
    // The entries survive a JSON round trip through the wire schema: what the shell stores is plain JSON.
    for (const e of entries) assert.deepEqual(EntryDataSchema.parse(JSON.parse(JSON.stringify(e.data))), e.data);
  }
  // A restarted leader is a follower: d (a voter now) may campaign, a removed node would not.
  assert.equal(membership(net.state('c')).voters.includes('c'), false);
});

test('answers from nodes outside the configuration are ignored; requests from them are answered', () => {
  const net = new Net({ voters: ['a', 'b', 'c'] });
  net.elect('a');
  const leaderTerm = term(net.state('a'));
  const ignored = net.step('a', {
    type: 'message',
    message: { type: 'AppendEntriesResponse', from: 'zed', to: 'a', term: leaderTerm + 5, success: false, matchIndex: 0 },
  });
  assert.deepEqual(ignored.messages, []);
  assert.equal(role(net.state('a')), 'leader');
  assert.equal(term(net.state('a')), leaderTerm);
  // A node not (yet) in b's configuration may lead a later term: b must follow it to learn of it.
  const answer = net.step('b', {
    type: 'message',
    message: { type: 'AppendEntries', from: 'x', to: 'b', term: leaderTerm + 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0 },
  });
  assert.equal(answer.messages.length, 1);
  assert.equal(answer.messages[0].type, 'AppendEntriesResponse');
});

test('createRaft checks the initial configuration', () => {
  const base = config('a', { voters: ['a', 'b'] });
  assert.throws(() => createRaft({ ...base, peers: ['b'], learners: ['c'] }));
  assert.throws(() => createRaft({ ...base, learners: ['b'] }), /both/);
  assert.throws(() => createRaft({ ...base, joinExisting: true }), /joins an existing cluster/);
  assert.throws(() => createRaft({ ...base, id: 'z', peers: [], joinExisting: true }), /no initial voter/);
  assert.deepEqual(membership(createRaft({ ...base, id: 'z', joinExisting: true })), { voters: ['a', 'b'], learners: [], pendingChange: false });
  assert.deepEqual(membership(createRaft({ ...base, id: 'c', learners: ['c'] })), { voters: ['a', 'b'], learners: ['c'], pendingChange: false });
});
