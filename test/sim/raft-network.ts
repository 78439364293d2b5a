/**
 * A deterministic simulation harness for the Raft core, on the generic SimNetwork (shared with the QBFT
 * simulation), which drops, delays, reorders, duplicates and partitions messages and keeps the fake tick clock:
 * here are the Raft nodes, which crash and restart from exactly what they persisted, and a safety checker that
 * watches every step. Everything random comes from one seeded SimRandom, so a seed replays a run exactly.
 */
import { entryAt, lastIndexOf } from '../../actors/consensus/raft/log.js';
import { RaftMessage } from '../../actors/consensus/raft/messages.js';
import { compact, createRaft, membership, step } from '../../actors/consensus/raft/index.js';
import type {
  ConfigChange,
  Entry,
  EntryData,
  HardState,
  ProposalResult,
  RaftConfig,
  RaftInput,
  RaftOutput,
  RaftState,
  Snapshot,
  StepResult,
} from '../../actors/consensus/raft/types.js';
import { SimNetwork, SimRandom } from './sim-network.js';

export { SimRandom };

// ---------------------------------------------------------------------------------------------------------
// Safety: checked from the outside on every step.
//  - State machine safety: no two nodes ever commit different entries at one index.
//  - Committed entries never change: each node emits each index once, in order, and never truncates below.
//  - Election safety: at most one leader per term.
//  - Leader completeness: a new leader holds every entry committed in an earlier term.
//  Membership (configurations differ between nodes while a change spreads): the two properties above are global
//  and hold whatever the configurations; what depends on the configuration in effect is checked besides:
//  - A new leader is a voter of its own configuration (learners and removed nodes never win).
//  - Commit quorum: when a leader commits, a majority of the voters of its configuration hold the entry on disk
//    (learners' copies do not count).

export type ViolationKind =
  | 'divergent-commit'
  | 'commit-out-of-order'
  | 'committed-entry-truncated'
  | 'two-leaders-in-term'
  | 'leader-lacks-committed-entry'
  | 'leader-not-voter'
  | 'commit-without-quorum';

export class SafetyViolation extends Error {
  constructor(
    readonly kind: ViolationKind,
    detail: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = 'SafetyViolation';
  }
}

interface CommittedRecord {
  key: string;
  /** The term of the first node to emit it: the committing leader's (a later term at worst, never earlier). */
  commitTerm: number;
  firstBy: string;
}

export function entryKey(entry: Entry): string {
  return `${entry.term}:${JSON.stringify(entry.data)}`;
}

export class SafetyChecker {
  /** committed[i] describes index i; slot 0 is unused so that the next new index is always `length`. */
  private readonly committed: (CommittedRecord | undefined)[] = [undefined];
  private readonly nextToCommit = new Map<string, number>();
  private readonly leaderOfTerm = new Map<number, string>();

  get committedCount(): number {
    return this.committed.length - 1;
  }

  get termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  /** A node emitted `entries` as newly committed while in `term`. */
  observeCommitted(node: string, term: number, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const expected = this.nextToCommit.get(node) ?? 1;
      if (entry.index !== expected) {
        throw new SafetyViolation('commit-out-of-order', `${node} committed index ${entry.index}; ${expected} was next`);
      }
      const key = entryKey(entry);
      const known = this.committed[entry.index];
      if (known === undefined) {
        // Nodes emit in order from 1, so the globally committed indexes are a prefix.
        this.committed.push({ key, commitTerm: term, firstBy: node });
      } else if (known.key !== key) {
        throw new SafetyViolation(
          'divergent-commit',
          `index ${entry.index}: ${node} committed ${key}, ${known.firstBy} committed ${known.key}`,
        );
      }
      this.nextToCommit.set(node, entry.index + 1);
    }
  }

  /** A node restarted having already delivered (so it will not emit again) indexes up to `resumeAfter`. */
  observeRestart(node: string, resumeAfter: number): void {
    this.nextToCommit.set(node, resumeAfter + 1);
  }

  /** A node asked its storage to delete entries from `from` on. */
  observeTruncation(node: string, from: number): void {
    const applied = (this.nextToCommit.get(node) ?? 1) - 1;
    if (from <= applied) {
      throw new SafetyViolation('committed-entry-truncated', `${node} truncates from ${from}, applied up to ${applied}`);
    }
  }

  /** After every step of a node. */
  observeState(node: string, state: RaftState): void {
    if (state.role !== 'leader') return;
    const holder = this.leaderOfTerm.get(state.term);
    if (holder === undefined) {
      this.leaderOfTerm.set(state.term, node);
      if (!membership(state).voters.includes(node)) {
        throw new SafetyViolation('leader-not-voter', `${node} leads term ${state.term} but is not a voter of ${JSON.stringify(membership(state))}`);
      }
      this.checkLeaderCompleteness(node, state);
    } else if (holder !== node) {
      throw new SafetyViolation('two-leaders-in-term', `${holder} and ${node} both lead term ${state.term}`);
    }
  }

  /**
   * A leader (as of before its step) emitted `entry` as committed; `holds(id)` says whether node id has it on
   * disk. Acknowledged entries stay on disk (a later leader holds them), so a majority of the leader's voters
   * must hold it now.
   */
  observeLeaderCommit(node: string, entry: Entry, voters: readonly string[], holds: (id: string) => boolean): void {
    const holders = voters.filter(holds);
    if (holders.length < Math.floor(voters.length / 2) + 1) {
      throw new SafetyViolation(
        'commit-without-quorum',
        `${node} committed index ${entry.index} held by ${holders.join(',') || 'none'} of voters ${voters.join(',')}`,
      );
    }
  }

  private checkLeaderCompleteness(node: string, state: RaftState): void {
    for (let index = 1; index < this.committed.length; index++) {
      const record = this.committed[index]!;
      if (record.commitTerm >= state.term) continue;
      // Compacted entries leave only their last term: the one at the compaction point must still match.
      if (index < state.log.offset) continue;
      if (index === state.log.offset) {
        if (record.key.startsWith(`${state.log.offsetTerm}:`)) continue;
        throw new SafetyViolation('leader-lacks-committed-entry', `${node} leads term ${state.term} with a snapshot at ${index} of term ${state.log.offsetTerm}, committed ${record.key}`);
      }
      const held = entryAt(state.log, index);
      if (held === undefined || entryKey(held) !== record.key) {
        throw new SafetyViolation(
          'leader-lacks-committed-entry',
          `${node} leads term ${state.term} without index ${index} = ${record.key} (committed in term ${record.commitTerm})`,
        );
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The simulated cluster.

export type StepFn = (state: RaftState, input: RaftInput) => StepResult;

export interface SimScenario {
  seed: number;
  nodeCount: number;
  electionTicksMin: number;
  electionTicksMax: number;
  heartbeatTicks: number;
  maxEntriesPerAppend: number;
  /** Ticks during which faults happen; then everything heals and liveness is measured. */
  faultTicks: number;
  dropRate: number;
  duplicateRate: number;
  /** Messages arrive 1 + [0, maxDelay] ticks after they are sent: random delays reorder them too. */
  maxDelay: number;
  /** Per tick: chance to cut the network anew, chance to heal a cut. */
  partitionRate: number;
  healRate: number;
  /** Per node and tick: chance a live node crashes, chance a crashed node restarts. */
  crashRate: number;
  restartRate: number;
  /** Per tick: chance a block is proposed. */
  proposeRate: number;
  /** Nodes outside the initial configuration (joinExisting), which membership changes may add. */
  spareNodes: number;
  /** Per tick: chance the leader is asked for a membership change (0: the configuration never changes). */
  changeRate: number;
  /** Per node and tick: chance a node compacts its log at (about) its applied index. */
  compactRate: number;
  /** Compaction keeps up to this many applied entries (a random number up to it) behind the applied index. */
  compactKeep: number;
}

/** Draws a scenario from a seed: cluster size, timing and fault intensity all vary between runs. */
export function scenarioForSeed(seed: number, faultTicks = 400): SimScenario {
  const random = new SimRandom(seed ^ 0x5eed);
  const electionTicksMin = random.int(8, 12);
  // Drawn first and apart, so that the fault parameters of a seed do not depend on the membership ones.
  const membershipRandom = new SimRandom(seed ^ 0xc0f1);
  const changes = membershipRandom.chance(0.5);
  // Drawn apart too. Most runs compact, some aggressively (every few ticks, keeping nothing), so followers that
  // were down or cut off get snapshots and fetch the entries they lack from peers.
  const snapshotRandom = new SimRandom(seed ^ 0x5a95);
  const compacts = snapshotRandom.chance(0.8);
  return {
    seed,
    nodeCount: random.pick([3, 4, 5]),
    electionTicksMin,
    electionTicksMax: electionTicksMin + random.int(4, 10),
    heartbeatTicks: random.int(1, 3),
    maxEntriesPerAppend: random.pick([4, 16, 64]),
    faultTicks,
    dropRate: random.next() * 0.2,
    duplicateRate: random.next() * 0.1,
    maxDelay: random.int(0, 3),
    partitionRate: random.next() * 0.04,
    healRate: 0.02 + random.next() * 0.08,
    crashRate: random.next() * 0.006,
    restartRate: 0.02 + random.next() * 0.08,
    proposeRate: 0.1 + random.next() * 0.4,
    spareNodes: changes ? membershipRandom.int(1, 2) : 0,
    changeRate: changes ? 0.01 + membershipRandom.next() * 0.04 : 0,
    compactRate: compacts ? 0.01 + snapshotRandom.next() * 0.2 : 0,
    compactKeep: snapshotRandom.pick([0, 0, 2, 8]),
  };
}

export interface SimOptions {
  /** The core's step; tests substitute deliberately broken variants to prove the checker catches them. */
  stepFn?: StepFn;
  /** Validate every message against the zod schemas and a JSON round trip (slower). */
  validateMessages?: boolean;
  trace?: (line: string) => void;
}

/**
 * What a node's shell would have on disk: exactly what `output.persist` told it (a snapshot and the entries
 * after it), and what its application applied (`applied`, index i at i - 1: the ledger's blocks, which peers
 * serve to a node that installed a snapshot).
 */
interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  appliedIndex: number;
  applied: Entry[];
}

interface SimNode {
  id: string;
  config: RaftConfig;
  /** null while crashed. */
  state: RaftState | null;
  disk: Disk;
  /** After a snapshot install: entries up to `upTo` are fetched from peers; later commits wait in `held`. */
  gap: { upTo: number; term: number; askedAt: number } | null;
  held: Entry[];
}

/** The application's catch-up from peers (GoQuorum fetches blocks): not Raft messages, same network. */
interface FetchEntries {
  type: 'FetchEntries';
  from: string;
  to: string;
  fromIndex: number;
  toIndex: number;
}
interface FetchedEntries {
  type: 'FetchedEntries';
  from: string;
  to: string;
  entries: Entry[];
}
type SimMessage = RaftMessage | FetchEntries | FetchedEntries;
/** Entries per fetch reply, and ticks before a fetch is asked again (of another peer, maybe). */
const FETCH_MAX = 32;
const FETCH_RETRY_TICKS = 4;

export class HarnessError extends Error {
  override name = 'HarnessError';
}

export class SimulatedCluster {
  readonly random: SimRandom;
  /** Delivery, delays, duplicates, drops, partitions and the tick clock; its crash flags mirror `state === null`. */
  readonly network: SimNetwork<SimMessage>;
  readonly checker = new SafetyChecker();
  readonly nodes: SimNode[];
  /** Conflicting tails removed from some node's log: proof that the repair path ran. */
  truncations = 0;
  /** Compactions, snapshots installed from a leader, entries fetched from peers after one. */
  compactions = 0;
  installs = 0;
  fetched = 0;
  private readonly stepFn: StepFn;
  private readonly onCommit: ((node: string, entry: Entry) => void)[] = [];

  constructor(
    readonly scenario: SimScenario,
    private readonly options: SimOptions = {},
  ) {
    this.random = new SimRandom(scenario.seed);
    this.stepFn = options.stepFn ?? step;
    const peers = Array.from({ length: scenario.nodeCount }, (_, i) => `n${i + 1}`);
    const spares = Array.from({ length: scenario.spareNodes }, (_, i) => `n${scenario.nodeCount + i + 1}`);
    const ids = [...peers, ...spares];
    this.network = new SimNetwork<SimMessage>(this.random, ids, {
      dropRate: scenario.dropRate,
      duplicateRate: scenario.duplicateRate,
      maxDelay: scenario.maxDelay,
    });
    this.nodes = ids.map((id) => {
      const config: RaftConfig = {
        id,
        peers,
        ...(spares.includes(id) ? { joinExisting: true } : {}),
        electionTicksMin: scenario.electionTicksMin,
        electionTicksMax: scenario.electionTicksMax,
        heartbeatTicks: scenario.heartbeatTicks,
        maxEntriesPerAppend: scenario.maxEntriesPerAppend,
        seed: this.random.seed(),
      };
      const disk: Disk = { hardState: { term: 0, votedFor: null }, snapshot: null, entries: [], appliedIndex: 0, applied: [] };
      return { id, config, state: createRaft(config), disk, gap: null, held: [] };
    });
  }

  /** The fake clock: ticks so far. */
  get now(): number {
    return this.network.now;
  }

  /** Messages that reached a live node and were stepped. */
  get messagesDelivered(): number {
    return this.network.stats.delivered;
  }

  node(id: string): SimNode {
    const found = this.nodes.find((n) => n.id === id);
    if (found === undefined) throw new HarnessError(`no node ${id}`);
    return found;
  }

  liveNodes(): SimNode[] {
    return this.nodes.filter((n) => n.state !== null);
  }

  /** Live nodes that believe they lead, newest term first. */
  leaders(): SimNode[] {
    return this.liveNodes()
      .filter((n) => n.state!.role === 'leader')
      .sort((a, b) => b.state!.term - a.state!.term);
  }

  whenCommitted(listener: (node: string, entry: Entry) => void): void {
    this.onCommit.push(listener);
  }

  /** One tick of fake time: due messages arrive (in random order), then every live node ticks. */
  tick(): void {
    for (const { message } of this.network.advance()) {
      const node = this.node(message.to);
      if (message.type === 'FetchEntries') this.serveFetch(node, message);
      else if (message.type === 'FetchedEntries') this.receiveFetched(node, message.entries);
      else this.stepNode(node, { type: 'message', message });
    }
    for (const node of this.random.shuffle(this.liveNodes())) {
      this.stepNode(node, { type: 'tick' });
      this.askForGap(node);
      if (this.scenario.compactRate > 0 && this.random.chance(this.scenario.compactRate)) this.compactNode(node);
    }
  }

  /** The shell compacts at an index it applied (a few entries behind, maybe), storing the snapshot first. */
  compactNode(node: SimNode): void {
    const state = node.state!;
    const at = Math.min(node.disk.appliedIndex, state.commitIndex) - this.random.int(0, this.scenario.compactKeep);
    if (at <= state.log.offset) return;
    node.state = compact(state, at, { appliedBy: node.id, at });
    const { disk } = node;
    const dropped = at - (disk.snapshot?.index ?? 0);
    disk.snapshot = node.state.snapshot;
    disk.entries = disk.entries.slice(dropped);
    this.compactions += 1;
    this.trace(`${node.id} compacts at ${at}`);
  }

  /** A node with a gap asks a peer (its leader when it knows one) for the entries it lacks. */
  private askForGap(node: SimNode): void {
    if (node.gap === null || this.now - node.gap.askedAt < FETCH_RETRY_TICKS) return;
    const others = this.nodes.filter((n) => n.id !== node.id).map((n) => n.id);
    const leader = node.state!.leaderId;
    const to = leader !== null && leader !== node.id && this.random.chance(0.7) ? leader : this.random.pick(others);
    node.gap.askedAt = this.now;
    this.network.send(node.id, to, { type: 'FetchEntries', from: node.id, to, fromIndex: node.disk.appliedIndex + 1, toIndex: node.gap.upTo });
  }

  /** A peer serves what its application applied (its own gap, if any, it cannot serve). */
  private serveFetch(node: SimNode, m: FetchEntries): void {
    const upTo = Math.min(m.toIndex, node.disk.appliedIndex, m.fromIndex + FETCH_MAX - 1);
    const entries = node.disk.applied.slice(m.fromIndex - 1, upTo);
    this.network.send(node.id, m.from, { type: 'FetchedEntries', from: node.id, to: m.from, entries });
  }

  /**
   * What the application can check itself: the entries continue what it applied, contiguously, and the one at
   * the snapshot's index has the snapshot's term (the safety checker then checks every one against what was
   * committed). The rest is a stale or duplicate answer, ignored.
   */
  private receiveFetched(node: SimNode, entries: readonly Entry[]): void {
    const gap = node.gap;
    if (gap === null) return;
    const usable: Entry[] = [];
    for (const entry of entries) {
      if (entry.index <= node.disk.appliedIndex + usable.length) continue;
      if (entry.index !== node.disk.appliedIndex + usable.length + 1 || entry.index > gap.upTo) break;
      if (entry.index === gap.upTo && entry.term !== gap.term) throw new HarnessError(`${node.id}: fetched entry ${entry.index} of term ${entry.term}, snapshot says ${gap.term}`);
      usable.push(entry);
    }
    if (usable.length === 0) return;
    this.fetched += usable.length;
    gap.askedAt = -FETCH_RETRY_TICKS; // ask for the rest at once
    this.deliver(node, usable);
    if (node.disk.appliedIndex === gap.upTo) {
      node.gap = null;
      this.trace(`${node.id} caught up to ${gap.upTo} from peers`);
      const held = node.held.splice(0);
      this.deliver(node, held);
    }
  }

  propose(id: string, data: EntryData): ProposalResult {
    const node = this.node(id);
    if (node.state === null) return { accepted: false, reason: 'crashed' };
    return this.stepNode(node, { type: 'propose', data }).proposal!;
  }

  crash(id: string): void {
    const node = this.node(id);
    if (node.state === null) return;
    node.state = null;
    this.network.crash(id);
    this.trace(`crash ${id}`);
  }

  /**
   * Rebuilds a crashed node from its disk alone. With `withCommitHint` it also gets the index its shell had
   * applied (what a real shell stores after applying); without, it relearns commitment from the leader.
   */
  restart(id: string, withCommitHint: boolean): void {
    const node = this.node(id);
    if (node.state !== null) return;
    const { disk } = node;
    const snapshotIndex = disk.snapshot?.index ?? 0;
    const commitIndex = withCommitHint ? disk.appliedIndex : 0;
    node.state = createRaft(node.config, {
      hardState: { ...disk.hardState },
      ...(disk.snapshot ? { snapshot: disk.snapshot } : {}),
      entries: disk.entries.slice(),
      commitIndex,
    });
    // Without the hint the application forgets what it applied past the snapshot (Raft emits it again); below a
    // snapshot installed from a leader it still lacks entries, and fetches them again.
    disk.appliedIndex = withCommitHint ? disk.appliedIndex : Math.min(disk.appliedIndex, snapshotIndex);
    disk.applied.length = disk.appliedIndex;
    node.held = [];
    node.gap = disk.appliedIndex < snapshotIndex ? { upTo: snapshotIndex, term: disk.snapshot!.term, askedAt: -FETCH_RETRY_TICKS } : null;
    this.network.restart(id);
    this.checker.observeRestart(id, disk.appliedIndex);
    this.trace(`restart ${id} term=${disk.hardState.term} snapshot=${snapshotIndex} last=${snapshotIndex + disk.entries.length} hint=${commitIndex}`);
  }

  /** Cuts the network into the given groups (nodes not listed form one more group together). */
  cut(groups: string[][]): void {
    this.network.cut(groups);
    this.trace(`cut ${JSON.stringify(groups)}`);
  }

  heal(): void {
    this.network.heal();
    this.trace('heal');
  }

  private stepNode(node: SimNode, input: RaftInput): RaftOutput {
    const wasLeader = node.state!.role === 'leader';
    const { state, output } = this.stepFn(node.state!, input);
    node.state = state;
    this.persist(node, output);
    for (const message of output.messages) this.send(node, message);
    if (wasLeader && output.committed.length > 0) this.checkCommitQuorum(node, state, output.committed[output.committed.length - 1]);
    this.apply(node, state, output.committed);
    this.checker.observeState(node.id, state);
    if (this.options.trace !== undefined) this.traceStep(node, input, output);
    return output;
  }

  /** Carries out `output.persist` on the node's disk, checking that it is coherent with the node's state. */
  private persist(node: SimNode, output: RaftOutput): void {
    const { disk } = node;
    const { hardState, snapshot, truncateFrom, entries } = output.persist;
    if (hardState !== undefined) disk.hardState = { ...hardState };
    if (snapshot !== undefined) {
      if (snapshot.index <= disk.appliedIndex) throw new HarnessError(`${node.id}: installs snapshot ${snapshot.index} below applied ${disk.appliedIndex}`);
      disk.snapshot = snapshot;
      disk.entries = [];
      this.installs += 1;
      node.gap = { upTo: snapshot.index, term: snapshot.term, askedAt: -FETCH_RETRY_TICKS };
      node.held = [];
    }
    const offset = disk.snapshot?.index ?? 0;
    if (truncateFrom !== undefined) {
      if (truncateFrom > offset + disk.entries.length + 1) throw new HarnessError(`${node.id}: truncate past the end`);
      if (truncateFrom <= offset) throw new HarnessError(`${node.id}: truncate into the snapshot`);
      this.checker.observeTruncation(node.id, truncateFrom);
      this.truncations += 1;
      disk.entries.length = truncateFrom - offset - 1;
    }
    for (const entry of entries) {
      if (entry.index !== offset + disk.entries.length + 1) {
        throw new HarnessError(`${node.id}: persisting index ${entry.index} after ${offset + disk.entries.length}`);
      }
      disk.entries.push(entry);
    }
    // What is on disk must be what the node believes it persisted; otherwise a restart would silently differ.
    const state = node.state!;
    if (
      offset !== state.log.offset ||
      offset + disk.entries.length !== lastIndexOf(state.log) ||
      disk.hardState.term !== state.term ||
      disk.hardState.votedFor !== state.votedFor
    ) {
      throw new HarnessError(
        `${node.id}: disk (term ${disk.hardState.term}, vote ${disk.hardState.votedFor}, last ${offset + disk.entries.length}) ` +
          `differs from state (term ${state.term}, vote ${state.votedFor}, last ${lastIndexOf(state.log)})`,
      );
    }
  }

  private send(node: SimNode, message: SimMessage): void {
    if (message.from !== node.id) throw new HarnessError(`${node.id} sent a message from ${message.from}`);
    if (this.options.validateMessages && message.type !== 'FetchEntries' && message.type !== 'FetchedEntries') {
      const parsed = RaftMessage.safeParse(JSON.parse(JSON.stringify(message)));
      if (!parsed.success) throw new HarnessError(`invalid message ${JSON.stringify(message)}: ${parsed.error.message}`);
    }
    this.network.send(message.from, message.to, message);
  }

  private checkCommitQuorum(node: SimNode, state: RaftState, entry: Entry): void {
    const holds = (id: string): boolean => {
      const { disk } = this.node(id);
      // A snapshot past the index: the node committed it (only committed entries are compacted or sent).
      if (disk.snapshot !== null && disk.snapshot.index >= entry.index) return disk.snapshot.index > entry.index || disk.snapshot.term === entry.term;
      const held = disk.entries[entry.index - (disk.snapshot?.index ?? 0) - 1];
      return held !== undefined && held.term === entry.term;
    };
    this.checker.observeLeaderCommit(node.id, entry, membership(state).voters, holds);
  }

  private apply(node: SimNode, state: RaftState, committed: readonly Entry[]): void {
    if (committed.length === 0) return;
    const last = (node.disk.snapshot?.index ?? 0) + node.disk.entries.length;
    for (const entry of committed) {
      if (entry.index > last) throw new HarnessError(`${node.id}: committed index ${entry.index} was never persisted`);
    }
    // While entries below an installed snapshot are being fetched, later ones wait: applied in order only.
    if (node.gap !== null) node.held.push(...committed);
    else this.deliver(node, committed);
  }

  /** The application applies entries (checked, in order, each once) and keeps them for peers that fetch. */
  private deliver(node: SimNode, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.checker.observeCommitted(node.id, node.state!.term, entries);
    for (const entry of entries) {
      node.disk.applied[entry.index - 1] = entry;
      for (const listener of this.onCommit) listener(node.id, entry);
    }
    node.disk.appliedIndex = entries[entries.length - 1].index;
  }

  private trace(line: string): void {
    this.options.trace?.(`[t=${this.now}] ${line}`);
  }

  private traceStep(node: SimNode, input: RaftInput, output: RaftOutput): void {
    const s = node.state!;
    const what =
      input.type === 'message'
        ? `${input.message.type} from ${input.message.from} t${input.message.term}`
        : input.type === 'propose'
          ? `propose → ${JSON.stringify(output.proposal)}`
          : 'tick';
    const effects = [
      output.persist.hardState ? `hs=${JSON.stringify(output.persist.hardState)}` : '',
      output.persist.snapshot ? `snapshot@${output.persist.snapshot.index}` : '',
      output.persist.truncateFrom !== undefined ? `trunc>=${output.persist.truncateFrom}` : '',
      output.persist.entries.length ? `+${output.persist.entries.length}e` : '',
      output.committed.length ? `commit ${output.committed[0].index}..${output.committed[output.committed.length - 1].index}` : '',
      output.messages.length ? `send ${output.messages.length}` : '',
    ].filter(Boolean);
    if (input.type === 'tick' && effects.length === 0) return;
    this.trace(`${node.id} ${s.role} t${s.term} last=${lastIndexOf(s.log)} ci=${s.commitIndex} | ${what} | ${effects.join(' ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// A whole run: random faults, then healing and a liveness check.

export class LivenessFailure extends Error {
  override name = 'LivenessFailure';
}

export interface SimReport {
  seed: number;
  nodeCount: number;
  ticks: number;
  /** Ticks from healing until every node committed the final proposal. */
  ticksToRecover: number;
  committedEntries: number;
  termsWithLeader: number;
  messagesDelivered: number;
  truncations: number;
  compactions: number;
  installs: number;
  fetched: number;
  crashes: number;
  cuts: number;
  /** Membership changes the leader accepted, by type (`removeLeader`: a leader removing itself). */
  configChanges: Record<string, number>;
}

/** Runs a scenario; throws SafetyViolation (on the first bad step), LivenessFailure or HarnessError. */
export function runScenario(scenario: SimScenario, options: SimOptions = {}): SimReport {
  const cluster = new SimulatedCluster(scenario, options);
  const { random, network } = cluster;
  let blockNumber = 0;
  let crashes = 0;
  let cuts = 0;
  const configChanges: Record<string, number> = {};

  for (let t = 0; t < scenario.faultTicks; t++) {
    if (random.chance(scenario.partitionRate)) {
      cluster.cut(network.randomPartition(network.nodeIds));
      cuts += 1;
    } else if (network.partition !== null && random.chance(scenario.healRate)) {
      cluster.heal();
    }
    for (const node of cluster.nodes) {
      // Leaders are crashed more often than others: losing the leader is the interesting case.
      const rate = node.state?.role === 'leader' ? scenario.crashRate * 3 : scenario.crashRate;
      if (node.state !== null && random.chance(rate)) {
        cluster.crash(node.id);
        crashes += 1;
      } else if (node.state === null && random.chance(scenario.restartRate)) {
        cluster.restart(node.id, random.chance(0.5));
      }
    }
    if (random.chance(scenario.proposeRate)) {
      // Mostly to a node that believes it leads (which may be a stale one), sometimes to anyone.
      const leaders = cluster.leaders();
      const live = cluster.liveNodes();
      const target = leaders.length > 0 && random.chance(0.9) ? random.pick(leaders) : live.length > 0 ? random.pick(live) : null;
      if (target !== null) {
        blockNumber += 1;
        cluster.propose(target.id, { kind: 'block', block: { seed: scenario.seed, n: blockNumber } });
      }
    }
    if (random.chance(scenario.changeRate)) {
      const leader = cluster.leaders()[0];
      const change = leader === undefined ? null : randomChange(random, cluster, leader);
      if (change !== null && cluster.propose(leader.id, { kind: 'config', change }).accepted) {
        const kind = change.type === 'remove' && change.id === leader.id ? 'removeLeader' : change.type;
        configChanges[kind] = (configChanges[kind] ?? 0) + 1;
      }
    }
    cluster.tick();
  }

  // Faults stop: the network heals, every node comes back, nothing is dropped (delays and duplicates remain).
  cluster.heal();
  network.faults.dropRate = 0;
  for (const node of cluster.nodes) cluster.restart(node.id, random.chance(0.5));
  const ticksToRecover = awaitCommitEverywhere(cluster, { kind: 'block', block: { seed: scenario.seed, final: true } });

  return {
    seed: scenario.seed,
    nodeCount: scenario.nodeCount,
    ticks: cluster.now,
    ticksToRecover,
    committedEntries: cluster.checker.committedCount,
    termsWithLeader: cluster.checker.termsWithLeader,
    messagesDelivered: cluster.messagesDelivered,
    truncations: cluster.truncations,
    compactions: cluster.compactions,
    installs: cluster.installs,
    fetched: cluster.fetched,
    crashes,
    cuts,
    configChanges,
  };
}

/**
 * A membership change that makes sense in `leader`'s configuration (the leader may still refuse it: one
 * pending at a time): add a learner or (rarely) a voter from outside, promote a learner, remove a learner or
 * a voter, the leader itself included, keeping between 2 and 7 voters.
 */
function randomChange(random: SimRandom, cluster: SimulatedCluster, leader: SimNode): ConfigChange | null {
  const { voters, learners } = membership(leader.state!);
  const outside = cluster.nodes.map((n) => n.id).filter((id) => !voters.includes(id) && !learners.includes(id));
  const options: (ConfigChange['type'] | 'removeVoter')[] = [];
  if (outside.length > 0 && voters.length < 7) options.push('addLearner', 'addLearner', 'addVoter');
  if (learners.length > 0 && voters.length < 7) options.push('promote', 'promote');
  if (learners.length > 0) options.push('remove');
  if (voters.length > 2) options.push('removeVoter');
  if (options.length === 0) return null;
  const type = random.pick(options);
  switch (type) {
    case 'addLearner':
    case 'addVoter':
      return { type, id: random.pick(outside) };
    case 'promote':
    case 'remove':
      return { type, id: random.pick(learners) };
    case 'removeVoter':
      // A voter, the leader itself often: it must lead on until its removal commits, then step down.
      return { type: 'remove', id: random.chance(0.4) ? leader.id : random.pick(voters) };
  }
}

/** Liveness bound: once faults stop, a proposal commits everywhere within this many ticks. */
export function livenessBound(scenario: SimScenario): number {
  return 10 * scenario.electionTicksMax;
}

/**
 * Keeps proposing `data` to the current leader until every node has committed it, re-proposing whenever the
 * leader does not hold the earlier proposal (it went to a leader that was then deposed). Returns the ticks
 * it took; throws LivenessFailure past the bound.
 */
export function awaitCommitEverywhere(cluster: SimulatedCluster, data: EntryData): number {
  const bound = livenessBound(cluster.scenario);
  const wanted = JSON.stringify(data);
  const committedBy = new Set<string>();
  cluster.whenCommitted((node, entry) => {
    if (JSON.stringify(entry.data) === wanted) committedBy.add(node);
  });
  let pending: { index: number; term: number } | null = null;
  for (let elapsed = 0; elapsed <= bound; elapsed++) {
    const leader = cluster.leaders()[0];
    // Everyone in the leader's configuration (voters and learners); removed and never-added nodes are not.
    if (leader !== undefined && committedBy.size > 0) {
      const { voters, learners } = membership(leader.state!);
      if ([...voters, ...learners].every((id) => committedBy.has(id))) return elapsed;
    }
    if (leader !== undefined) {
      const held = pending === null ? undefined : entryAt(leader.state!.log, pending.index);
      if (held === undefined || held.term !== pending!.term) {
        const result = cluster.propose(leader.id, data);
        if (result.accepted) pending = { index: result.index!, term: result.term! };
      }
    }
    cluster.tick();
  }
  const states = cluster.nodes
    .map((n) => `${n.id}: ${n.state!.role} term ${n.state!.term} leader ${n.state!.leaderId} last ${lastIndexOf(n.state!.log)} commit ${n.state!.commitIndex}`)
    .join('; ');
  throw new LivenessFailure(
    `proposal not committed on all nodes within ${bound} ticks of healing (committed by ${[...committedBy].join(',') || 'none'}); ${states}`,
  );
}
