/**
 * Deterministic simulation of the Raft core: many seeded runs of random faults, each checked for safety on
 * every step and for liveness once the faults stop.
 *
 *   RAFT_SIM_RUNS=<n>   number of seeded runs (default 1000, seeds 1..n; the long setting is RAFT_SIM_RUNS=10000)
 *   RAFT_SIM_SEED=<n>   run only that seed (replay a failure)
 *   RAFT_SIM_TRACE=1    with RAFT_SIM_SEED: print every event of the run
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastIndexOf, sliceLog } from '../../actors/consensus/raft/log.js';
import { step } from '../../actors/consensus/raft/step.js';
import { configsOfLog, initialConfiguration } from '../../actors/consensus/raft/membership.js';
import { createRaft, membership } from '../../actors/consensus/raft/state.js';
import type { Entry, RaftState } from '../../actors/consensus/raft/types.js';
import {
  SafetyChecker,
  SafetyViolation,
  SimulatedCluster,
  awaitCommitEverywhere,
  runScenario,
  scenarioForSeed,
  type SimReport,
  type StepFn,
} from './raft-network.js';
import { seedsToRun as seedsToRunFor } from './sim-network.js';

const REPLAY = 'node --test dist/test/sim/raft.test.js';


const seedsToRun = () => seedsToRunFor('RAFT');

test('random faults never break safety, and the cluster recovers once they stop', () => {
  const seeds = seedsToRun();
  const tracing = process.env.RAFT_SIM_TRACE === '1' && seeds.length === 1;
  const started = performance.now();
  const reports: SimReport[] = [];
  for (const seed of seeds) {
    const scenario = scenarioForSeed(seed);
    try {
      reports.push(
        runScenario(scenario, {
          // Checking every message against the wire schemas is slow; a sample of runs suffices.
          validateMessages: seed % 25 === 0 || seeds.length === 1,
          trace: tracing ? (line) => console.log(line) : undefined,
        }),
      );
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      assert.fail(
        `raft simulation failed for seed ${seed} (${JSON.stringify(scenario)}):\n  ${message}\n` +
          `replay: RAFT_SIM_SEED=${seed} RAFT_SIM_TRACE=1 ${REPLAY}`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const worstRecovery = Math.max(...reports.map((r) => r.ticksToRecover));
  const committed = reports.reduce((sum, r) => sum + r.committedEntries, 0);
  const terms = reports.reduce((sum, r) => sum + r.termsWithLeader, 0);
  const crashes = reports.reduce((sum, r) => sum + r.crashes, 0);
  const cuts = reports.reduce((sum, r) => sum + r.cuts, 0);
  const truncations = reports.reduce((sum, r) => sum + r.truncations, 0);
  const compactions = reports.reduce((sum, r) => sum + r.compactions, 0);
  const installs = reports.reduce((sum, r) => sum + r.installs, 0);
  const fetched = reports.reduce((sum, r) => sum + r.fetched, 0);
  const changes: Record<string, number> = {};
  for (const r of reports) for (const [kind, n] of Object.entries(r.configChanges)) changes[kind] = (changes[kind] ?? 0) + n;
  const sizes = [3, 4, 5].map((n) => `${reports.filter((r) => r.nodeCount === n).length}×${n}`).join(' ');
  console.log(
    `raft sim: ${reports.length} runs in ${seconds.toFixed(1)}s; ${committed} entries committed, ` +
      `${terms} terms with a leader, ${crashes} crashes, ${cuts} partitions, ${truncations} tail truncations, ` +
      `${compactions} compactions, ${installs} snapshots installed, ${fetched} entries fetched from peers; ` +
      `slowest recovery ${worstRecovery} ticks; clusters ${sizes}; membership changes ${JSON.stringify(changes)}`,
  );
  // The runs must exercise the faults, or they prove little.
  if (seeds.length >= 100) {
    assert.ok(crashes > seeds.length / 2, 'too few crashes across runs');
    assert.ok(cuts > seeds.length / 2, 'too few partitions across runs');
    assert.ok(committed > seeds.length * 20, 'too few commits across runs');
    assert.ok(truncations > 0, 'no run exercised the repair of a conflicting tail');
    assert.ok(compactions > seeds.length, 'too few compactions across runs');
    assert.ok(installs > seeds.length / 20, 'too few snapshots installed across runs');
    assert.ok(fetched > installs, 'followers that installed a snapshot fetched too few entries from peers');
    for (const n of [3, 4, 5]) assert.ok(reports.some((r) => r.nodeCount === n), `no run over ${n} nodes`);
    for (const kind of ['addLearner', 'addVoter', 'promote', 'remove', 'removeLeader']) {
      assert.ok((changes[kind] ?? 0) > seeds.length / 100, `too few membership changes of kind ${kind}`);
    }
  }
});

test('a seed replays exactly', () => {
  const scenario = scenarioForSeed(4242);
  assert.deepEqual(runScenario(scenario), runScenario(scenario));
});

/**
 * A broken core: a leader reports its whole log as committed without waiting for a majority. The checker
 * must notice when such a leader is cut off, takes proposals, and is then overwritten.
 */
function commitsWithoutMajority(): StepFn {
  // What each state has already reported, so nothing is reported twice (that would be a different bug).
  const reported = new WeakMap<RaftState, number>();
  return (state, input) => {
    const { state: next, output } = step(state, input);
    const already = reported.get(state) ?? state.commitIndex;
    const committed: Entry[] = output.committed.filter((entry) => entry.index > already);
    let upTo = committed.length > 0 ? committed[committed.length - 1].index : already;
    if (next.role === 'leader' && lastIndexOf(next.log) > upTo) {
      committed.push(...sliceLog(next.log, upTo + 1, lastIndexOf(next.log)));
      upTo = lastIndexOf(next.log);
    }
    reported.set(next, upTo);
    return { state: next, output: { ...output, committed } };
  };
}

test('the safety checker catches a leader that commits without a majority', () => {
  const broken = commitsWithoutMajority();
  const caught: number[] = [];
  for (let seed = 1; seed <= 200 && caught.length < 5; seed++) {
    try {
      runScenario(scenarioForSeed(seed), { stepFn: broken });
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      caught.push(seed);
    }
  }
  assert.equal(caught.length, 5, `only seeds ${caught.join(',')} of 200 caught the broken core`);
});

/** A broken election: candidates claim a log longer than anyone's, so stale nodes can win votes. */
function candidatesLieAboutTheirLog(): StepFn {
  return (state, input) => {
    const { state: next, output } = step(state, input);
    const messages = output.messages.map((m) =>
      m.type === 'RequestVote' ? { ...m, lastLogIndex: 1_000_000, lastLogTerm: 1_000_000 } : m,
    );
    return { state: next, output: { ...output, messages } };
  };
}

test('the safety checker catches elections that ignore the up-to-date rule', () => {
  const broken = candidatesLieAboutTheirLog();
  const kinds = new Set<string>();
  let caught = 0;
  for (let seed = 1; seed <= 300 && caught < 5; seed++) {
    try {
      runScenario(scenarioForSeed(seed), { stepFn: broken });
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      kinds.add(err.kind);
      caught++;
    }
  }
  assert.equal(caught, 5, `only ${caught} of 300 seeds caught the broken election`);
  console.log(`broken elections caught as: ${[...kinds].join(', ')}`);
});

test('the broken core is caught in a scripted split: an isolated leader commits alone', () => {
  const cluster = new SimulatedCluster(
    { ...scenarioForSeed(7), nodeCount: 3, dropRate: 0, duplicateRate: 0, maxDelay: 0 },
    { stepFn: commitsWithoutMajority() },
  );
  for (let i = 0; i < 200 && cluster.leaders().length === 0; i++) cluster.tick();
  assert.equal(cluster.leaders().length, 1);
  const oldLeader = cluster.leaders()[0].id;
  cluster.cut([[oldLeader]]);
  assert.throws(
    () => {
      // The isolated leader takes a proposal and, being broken, reports it committed at once: the commit-quorum
      // check sees that only the leader holds it.
      cluster.propose(oldLeader, { kind: 'block', block: 'lost' });
      // (Without that check: the majority side elects a new leader and commits its own entries at the same indexes.)
      for (let i = 0; i < 200; i++) {
        const leader = cluster.leaders().find((n) => n.id !== oldLeader);
        if (leader !== undefined) cluster.propose(leader.id, { kind: 'block', block: `kept-${i}` });
        cluster.tick();
      }
    },
    (err: unknown) => err instanceof SafetyViolation && err.kind === 'commit-without-quorum',
  );
});

test('the checker reports two different entries committed at one index', () => {
  const checker = new SafetyChecker();
  checker.observeCommitted('a', 1, [{ term: 1, index: 1, data: { kind: 'noop' } }]);
  checker.observeCommitted('b', 1, [{ term: 1, index: 1, data: { kind: 'noop' } }]);
  assert.throws(
    () => checker.observeCommitted('c', 2, [{ term: 2, index: 1, data: { kind: 'noop' } }]),
    (err: unknown) => err instanceof SafetyViolation && err.kind === 'divergent-commit',
  );
  assert.throws(
    () => checker.observeCommitted('a', 1, [{ term: 1, index: 1, data: { kind: 'noop' } }]),
    (err: unknown) => err instanceof SafetyViolation && err.kind === 'commit-out-of-order',
  );
});

test('a healthy cluster commits a proposal everywhere quickly', () => {
  const cluster = new SimulatedCluster({ ...scenarioForSeed(11), dropRate: 0, duplicateRate: 0 });
  const ticks = awaitCommitEverywhere(cluster, { kind: 'block', block: 'hello' });
  assert.ok(ticks <= 3 * cluster.scenario.electionTicksMax, `took ${ticks} ticks`);
});

/** A broken quorum: a leader counts its learners as voters (the true configuration is restored after each step). */
function learnersCountAsVoters(): StepFn {
  return (state, input) => {
    if (state.role !== 'leader') return step(state, input);
    const current = state.configs[state.configs.length - 1];
    const inflated = { ...current, voters: [...current.voters, ...current.learners].sort(), learners: [] };
    const { state: next, output } = step({ ...state, configs: [...state.configs.slice(0, -1), inflated] }, input);
    return { state: { ...next, configs: configsOfLog(initialConfiguration(next.config), next.log) }, output };
  };
}

/**
 * 3 voters and 2 learners added at run time; then the leader and the learners are cut off from the other two
 * voters and the leader takes a proposal. Returns the leader's commit index before and after.
 */
function leaderWithLearnersCutOffFromVoters(stepFn?: StepFn): { before: number; after: number } {
  const cluster = new SimulatedCluster(
    { ...scenarioForSeed(3), nodeCount: 3, spareNodes: 2, changeRate: 0, compactRate: 0, dropRate: 0, duplicateRate: 0, maxDelay: 0 },
    { stepFn },
  );
  for (let i = 0; i < 200 && cluster.leaders().length === 0; i++) cluster.tick();
  const leader = cluster.leaders()[0];
  for (const id of ['n4', 'n5']) {
    for (let i = 0; i < 5 && !cluster.propose(leader.id, { kind: 'config', change: { type: 'addLearner', id } }).accepted; i++) cluster.tick();
    for (let i = 0; i < 20 && membership(leader.state!).pendingChange; i++) cluster.tick();
  }
  assert.deepEqual(membership(leader.state!).learners, ['n4', 'n5']);
  cluster.tick();
  cluster.cut([[leader.id, 'n4', 'n5']]);
  const before = leader.state!.commitIndex;
  assert.equal(cluster.propose(leader.id, { kind: 'block', block: 'minority' }).accepted, true);
  for (let i = 0; i < 5; i++) cluster.tick();
  return { before, after: leader.state!.commitIndex };
}

test('learners do not make a commit quorum: a leader cut off from the voters with its learners commits nothing', () => {
  const { before, after } = leaderWithLearnersCutOffFromVoters();
  assert.equal(after, before);
});

test('the safety checker catches a leader that counts learners in its commit quorum', () => {
  assert.throws(
    () => leaderWithLearnersCutOffFromVoters(learnersCountAsVoters()),
    (err: unknown) => err instanceof SafetyViolation && err.kind === 'commit-without-quorum',
  );
});

test('the checker reports a leader that is not a voter of its own configuration', () => {
  const checker = new SafetyChecker();
  const learner = createRaft({ id: 'd', peers: ['a', 'b', 'c'], learners: ['d'], electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, seed: 1 });
  assert.throws(
    () => checker.observeState('d', { ...learner, role: 'leader', term: 1 }),
    (err: unknown) => err instanceof SafetyViolation && err.kind === 'leader-not-voter',
  );
});
