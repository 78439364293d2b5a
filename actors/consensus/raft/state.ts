/**
 * Creating a node's state (fresh or from what it persisted) and reading it. Volatile state (role, leader,
 * timers, followers' progress) always starts afresh: after a crash a node is a follower that knows only its
 * term, its vote, its log and, optionally, how far the shell knows the log was committed.
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { emptyLog, lastIndexOf, lastTermOf, logFromEntries, sliceLog } from './log.js';
import { initialRngState, randomInt } from './rng.js';
import type {
  Entry,
  PeerStatus,
  PersistedRaft,
  RaftConfig,
  RaftRole,
  RaftState,
  ResolvedRaftConfig,
} from './types.js';

const DEFAULT_MAX_ENTRIES_PER_APPEND = 64;

export function createRaft(config: RaftConfig, persisted?: PersistedRaft): RaftState {
  const resolved = resolveConfig(config);
  const hardState = persisted?.hardState ?? { term: 0, votedFor: null };
  const log = persisted === undefined ? emptyLog() : invalidIfThrows(() => logFromEntries(persisted.entries));
  const commitIndex = persisted?.commitIndex ?? 0;

  if (!Number.isSafeInteger(hardState.term) || hardState.term < 0) invalid(`bad persisted term ${hardState.term}`);
  if (hardState.votedFor !== null && !resolved.peers.includes(hardState.votedFor)) {
    invalid(`persisted vote for ${hardState.votedFor}, who is not a peer`);
  }
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
    commitIndex,
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
  if (config.id.length === 0) invalid('empty node id');
  if (peers.length !== config.peers.length) invalid('duplicate peer ids');
  if (!peers.includes(config.id)) invalid(`peers must include this node (${config.id})`);
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

export function peersStatus(state: RaftState): PeerStatus[] {
  const isLeader = state.role === 'leader';
  return state.config.peers.map((id) => {
    const isSelf = id === state.config.id;
    const progress = state.progress.get(id);
    return {
      id,
      isSelf,
      isLeader: id === state.leaderId,
      matchIndex: !isLeader ? null : isSelf ? lastIndexOf(state.log) : (progress?.matchIndex ?? 0),
      nextIndex: !isLeader ? null : isSelf ? lastIndexOf(state.log) + 1 : (progress?.nextIndex ?? 0),
      recentlyActive: !isLeader ? null : isSelf ? true : (progress?.recentlyActive ?? false),
    };
  });
}
