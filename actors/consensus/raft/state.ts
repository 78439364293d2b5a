/**
 * Creating a node's state (fresh or from what it persisted) and reading it. Volatile state (role, leader,
 * timers, followers' progress) always starts afresh: after a crash a node is a follower that knows only its
 * term, its vote, its log and, optionally, how far the shell knows the log was committed.
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { emptyLog, lastIndexOf, lastTermOf, logFromEntries, sliceLog, termAt } from './log.js';
import { compactedConfigs, configsOfLog, currentConfig, initialConfiguration, snapshotConfiguration } from './membership.js';
import { initialRngState, randomInt } from './rng.js';
import type {
  Entry,
  Membership,
  PeerStatus,
  PersistedRaft,
  RaftConfig,
  RaftRole,
  RaftState,
  ResolvedRaftConfig,
  Snapshot,
} from './types.js';

const DEFAULT_MAX_ENTRIES_PER_APPEND = 64;

export function createRaft(config: RaftConfig, persisted?: PersistedRaft): RaftState {
  const resolved = resolveConfig(config);
  const hardState = persisted?.hardState ?? { term: 0, votedFor: null };
  const snapshot = persisted?.snapshot ?? null;
  const log =
    persisted === undefined ? emptyLog() : invalidIfThrows(() => logFromEntries(persisted.entries, snapshot?.index ?? 0, snapshot?.term ?? 0));
  // Everything a snapshot covers was committed (only committed entries are ever compacted).
  const commitIndex = Math.max(persisted?.commitIndex ?? 0, snapshot?.index ?? 0);

  if (!Number.isSafeInteger(hardState.term) || hardState.term < 0) invalid(`bad persisted term ${hardState.term}`);
  // The vote is not checked against any configuration: a node votes for a candidate whose log is more up to
  // date even when its own log does not (yet) hold the entry that made the candidate a voter (membership.ts).
  if (hardState.votedFor !== null && hardState.votedFor.length === 0) invalid('persisted vote for an empty node id');
  if (lastTermOf(log) > hardState.term) invalid(`persisted log has term ${lastTermOf(log)} beyond term ${hardState.term}`);
  if (!Number.isSafeInteger(commitIndex) || commitIndex < 0 || commitIndex > lastIndexOf(log)) {
    invalid(`commit index hint ${commitIndex} is outside the persisted log (last index ${lastIndexOf(log)})`);
  }

  const timeout = randomInt(
    initialRngState(resolved.seed, resolved.id, hardState.term),
    resolved.electionTicksMin,
    resolved.electionTicksMax,
  );
  return {
    config: resolved,
    role: 'follower',
    term: hardState.term,
    votedFor: hardState.votedFor,
    leaderId: null,
    log,
    snapshot,
    commitIndex,
    configs: configsOfLog(snapshot ? snapshotConfiguration(snapshot) : initialConfiguration(resolved), log),
    electionElapsed: 0,
    electionTimeout: timeout.value,
    heartbeatElapsed: 0,
    votes: new Map(),
    progress: new Map(),
    rng: timeout.next,
  };
}

function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const peers = [...new Set(config.peers)].sort();
  const learners = [...new Set(config.learners ?? [])].sort();
  const joinExisting = config.joinExisting ?? false;
  if (config.id.length === 0) invalid('empty node id');
  if (peers.length !== config.peers.length || learners.length !== (config.learners ?? []).length) invalid('duplicate peer ids');
  if (peers.length === 0) invalid('no initial voter');
  if ([...peers, ...learners].some((id) => id.length === 0)) invalid('empty peer id');
  if (learners.some((id) => peers.includes(id))) invalid('a node is both an initial voter and an initial learner');
  const initialMember = peers.includes(config.id) || learners.includes(config.id);
  if (!joinExisting && !initialMember) invalid(`peers or learners must include this node (${config.id}) unless it joins an existing cluster`);
  if (joinExisting && initialMember) invalid(`${config.id} joins an existing cluster but is in its initial configuration`);
  const maxEntriesPerAppend = config.maxEntriesPerAppend ?? DEFAULT_MAX_ENTRIES_PER_APPEND;
  for (const [name, value] of Object.entries({
    electionTicksMin: config.electionTicksMin,
    electionTicksMax: config.electionTicksMax,
    heartbeatTicks: config.heartbeatTicks,
    maxEntriesPerAppend,
  })) {
    if (!Number.isSafeInteger(value) || value < 1) invalid(`${name} must be a positive integer, got ${value}`);
  }
  if (config.electionTicksMax < config.electionTicksMin) invalid('electionTicksMax < electionTicksMin');
  // Followers must hear a heartbeat well before they give up on the leader.
  if (config.heartbeatTicks >= config.electionTicksMin) invalid('heartbeatTicks must be below electionTicksMin');
  if (!Number.isFinite(config.seed)) invalid('seed must be a finite number');
  return {
    id: config.id,
    peers,
    learners,
    joinExisting,
    electionTicksMin: config.electionTicksMin,
    electionTicksMax: config.electionTicksMax,
    heartbeatTicks: config.heartbeatTicks,
    seed: config.seed,
    maxEntriesPerAppend,
  };
}

function invalid(message: string): never {
  throw new CodedError(ErrorCode.InvalidInput, `raft: ${message}`);
}

function invalidIfThrows<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new CodedError(ErrorCode.InvalidInput, `raft: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** A pre-candidate is campaigning (only polling), so it is reported as a candidate. */
export function role(state: RaftState): RaftRole {
  return state.role === 'precandidate' ? 'candidate' : state.role;
}

export function leaderId(state: RaftState): string | null {
  return state.leaderId;
}

export function term(state: RaftState): number {
  return state.term;
}

export function commitIndex(state: RaftState): number {
  return state.commitIndex;
}

export function lastIndex(state: RaftState): number {
  return lastIndexOf(state.log);
}

/** Committed entries from `index` on, at most `max` of them (empty past the commit index). */
export function entriesFrom(state: RaftState, index: number, max: number): Entry[] {
  if (max <= 0) return [];
  return sliceLog(state.log, index, Math.min(state.commitIndex, index + max - 1));
}

/** The configuration in effect on this node (the latest config entry in its log), as GoQuorum's raft_cluster shows it. */
export function membership(state: RaftState): Membership {
  const config = currentConfig(state.configs);
  return { voters: [...config.voters], learners: [...config.learners], pendingChange: config.index > state.commitIndex };
}

/**
 * What a snapshot at `index` (committed; held by the log or its compaction point) would record: its term, the
 * configuration in effect there, and the application's `data`. The log itself is left alone (see `compact`).
 */
export function snapshotAt(state: RaftState, index: number, data: unknown): Snapshot {
  const term = termAt(state.log, index);
  if (index > state.commitIndex || term === undefined) {
    throw new CodedError(ErrorCode.Internal, `raft: no snapshot at ${index} (commit ${state.commitIndex}, log from ${state.log.offset})`);
  }
  const config = compactedConfigs(state.configs, index)[0];
  return { index, term, config: { index: config.index, voters: [...config.voters], learners: [...config.learners] }, data };
}

/** This node's id: what GoQuorum's raft_getRaftId returns. */
export function raftId(state: RaftState): string {
  return state.config.id;
}

/** Every member of the configuration in effect (voters and learners, by id). */
export function peersStatus(state: RaftState): PeerStatus[] {
  const isLeader = state.role === 'leader';
  const config = currentConfig(state.configs);
  return [...config.voters, ...config.learners].sort().map((id) => {
    const isSelf = id === state.config.id;
    const progress = state.progress.get(id);
    return {
      id,
      isSelf,
      isLeader: id === state.leaderId,
      isLearner: config.learners.includes(id),
      matchIndex: !isLeader ? null : isSelf ? lastIndexOf(state.log) : (progress?.matchIndex ?? 0),
      nextIndex: !isLeader ? null : isSelf ? lastIndexOf(state.log) + 1 : (progress?.nextIndex ?? 0),
      recentlyActive: !isLeader ? null : isSelf ? true : (progress?.recentlyActive ?? false),
    };
  });
}
