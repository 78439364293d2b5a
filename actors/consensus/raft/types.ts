/**
 * The shapes the Raft core takes and returns. The core is a pure function of (state, input): no clock (time
 * is `tick` inputs), no randomness other than the seeded generator kept in the state, no I/O.
 */
import type { ConfigChange, Entry, EntryData, HardState, RaftMessage, Snapshot } from './messages.js';
import type { RaftLog } from './log.js';

export type { ConfigChange, Entry, EntryData, HardState, RaftMessage, Snapshot };

export interface RaftConfig {
  id: string;
  /**
   * The initial voting members: the configuration the log starts from, before any config entry. Every node of
   * a cluster must be given the same initial configuration (`peers` and `learners`), since each derives the
   * membership in effect from it and the config entries in its log. Includes this node unless it is a learner
   * or `joinExisting` is set.
   */
  peers: string[];
  /** The initial learners (replicate, do not vote); default none. */
  learners?: string[];
  /**
   * This node is not in the initial configuration: it joins a running cluster (GoQuorum's
   * `--raftjoinexisting`), starts with an empty log, and takes part once the log it receives adds it.
   */
  joinExisting?: boolean;
  /** Election timeouts are drawn uniformly from [electionTicksMin, electionTicksMax]. */
  electionTicksMin: number;
  electionTicksMax: number;
  /** A leader sends AppendEntries to every follower this often; must be smaller than electionTicksMin. */
  heartbeatTicks: number;
  /** Seeds the generator of election timeouts (mixed with the node id so equal seeds still differ). */
  seed: number;
  /** Upper bound on entries per AppendEntries message; default 64. */
  maxEntriesPerAppend?: number;
}

export interface ResolvedRaftConfig {
  readonly id: string;
  /** The initial voters: sorted, without duplicates. */
  readonly peers: readonly string[];
  /** The initial learners: sorted, without duplicates, disjoint from `peers`. */
  readonly learners: readonly string[];
  readonly joinExisting: boolean;
  readonly electionTicksMin: number;
  readonly electionTicksMax: number;
  readonly heartbeatTicks: number;
  readonly seed: number;
  readonly maxEntriesPerAppend: number;
}

/** What a node restarts from: exactly what the shell stored from `output.persist`, plus an optional hint. */
export interface PersistedRaft {
  hardState: HardState;
  /** The latest snapshot: the log before it is compacted away. */
  snapshot?: Snapshot;
  /** The log, contiguous from index 1 (or from just after the snapshot). */
  entries: readonly Entry[];
  /**
   * The highest index the shell knows was committed (it stores this after applying `committed`). Entries up
   * to it are not emitted again as `committed` after the restart.
   */
  commitIndex?: number;
}

/** A configuration: who votes and who only replicates, from the config entry at `index` (0: the initial one). */
export interface Configuration {
  readonly index: number;
  /** Sorted. */
  readonly voters: readonly string[];
  /** Sorted, disjoint from `voters`. */
  readonly learners: readonly string[];
}

/** What `membership(state)` reports. */
export interface Membership {
  voters: string[];
  learners: string[];
  /** A config entry is in the log but not yet committed: another change is refused until it is. */
  pendingChange: boolean;
}

/** The roles a caller sees; a pre-candidate (polling before an election) is reported as a candidate. */
export type RaftRole = 'follower' | 'candidate' | 'leader';
export type InternalRole = RaftRole | 'precandidate';

/** What a leader knows about one follower's log. */
export interface PeerProgress {
  /** The next index to send. */
  readonly nextIndex: number;
  /** The highest index known to match the leader's log. */
  readonly matchIndex: number;
  /** prevLogIndex + entries sent in the latest AppendEntries: only an answer reaching it is current. */
  readonly sentUpTo: number;
  /** The latest AppendEntries has not been answered: new entries wait for that answer (or a heartbeat). */
  readonly awaitingResponse: boolean;
  /** The leaderCommit of the latest AppendEntries sent: a follower that missed a commit broadcast is told at once. */
  readonly commitSent: number;
  /** Sent entries or a commit since the last heartbeat: if answered, the next heartbeat to it is not needed. */
  readonly sentSinceHeartbeat: boolean;
  /** Heard from within the current check-quorum window. */
  readonly recentlyActive: boolean;
}

/**
 * A node's whole state. Treat it as immutable: `step` returns a new state and leaves its argument usable.
 * The log is a view over a shared array that `step` only ever appends to beyond every existing view's end,
 * so both the old and the new state stay valid at O(1) amortized cost per entry (see log.ts).
 */
export interface RaftState {
  readonly config: ResolvedRaftConfig;
  readonly role: InternalRole;
  readonly term: number;
  readonly votedFor: string | null;
  /** The leader of `term` when known (this node itself when it leads). */
  readonly leaderId: string | null;
  readonly log: RaftLog;
  /** What the compacted prefix of the log left (sent to a follower the log no longer serves); null: none. */
  readonly snapshot: Snapshot | null;
  readonly commitIndex: number;
  /**
   * The configurations the log steps through, derived from the initial one and the config entries in the log
   * (a cache: rebuilt from the log at startup, extended on append, cut back on truncation). The first is the
   * initial configuration (index 0), one more per config entry in index order; the last is the one in effect.
   */
  readonly configs: readonly Configuration[];
  /**
   * Followers and candidates: ticks since the last sign of a leader (or the start of a campaign).
   * Leader: ticks into the current check-quorum window.
   */
  readonly electionElapsed: number;
  readonly electionTimeout: number;
  readonly heartbeatElapsed: number;
  /** Candidates and pre-candidates: answers received this campaign, voter → granted. */
  readonly votes: ReadonlyMap<string, boolean>;
  /** Leader only: one entry per other member (voter or learner) of the configuration in effect. */
  readonly progress: ReadonlyMap<string, PeerProgress>;
  /** The state of the seeded generator (see rng.ts). */
  readonly rng: number;
}

export type RaftInput =
  | { type: 'tick' }
  | { type: 'message'; message: RaftMessage }
  | { type: 'propose'; data: EntryData };

export interface PersistInstructions {
  /** Present when term or vote changed. */
  hardState?: HardState;
  /**
   * A leader's snapshot was installed: the stored log is replaced by it (every stored entry goes), before
   * `entries` are appended. The application's state jumps to the snapshot's index: what it had not applied
   * below it, it fetches from a peer (the consensus actor fetches the final blocks).
   */
  snapshot?: Snapshot;
  /** Delete stored entries with index >= truncateFrom before appending `entries`. */
  truncateFrom?: number;
  /** Append after the truncation, in order. */
  entries: Entry[];
}

export interface ProposalResult {
  accepted: boolean;
  /** The log index the proposal got; it is committed when an entry with this index and term is emitted. */
  index?: number;
  term?: number;
  reason?: string;
}

/**
 * The effects of one step, to be carried out in this order: persist durably, then send `messages`, then apply
 * `committed`. Persisting first is what makes votes and acknowledgements sent in `messages` truthful.
 */
export interface RaftOutput {
  persist: PersistInstructions;
  messages: RaftMessage[];
  /** Newly committed entries, in index order, each emitted once per node lifetime. */
  committed: Entry[];
  /** Present exactly when the input was a proposal. */
  proposal?: ProposalResult;
}

export interface StepResult {
  state: RaftState;
  output: RaftOutput;
}

export interface PeerStatus {
  id: string;
  isSelf: boolean;
  isLeader: boolean;
  /** A member that replicates but does not vote. */
  isLearner: boolean;
  /** The next three are only known on the leader (null elsewhere; for the leader itself, its own log). */
  matchIndex: number | null;
  nextIndex: number | null;
  recentlyActive: boolean | null;
}
