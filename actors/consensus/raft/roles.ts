/**
 * Role changes as plain field updates on the draft. They send nothing: the handlers that call them decide what
 * to say, so the same transition serves every path that leads to it.
 */
import { lastIndexOf } from './log.js';
import { currentConfig } from './membership.js';
import { randomInt } from './rng.js';
import type { Draft } from './transition.js';
import type { PeerProgress } from './types.js';

/** Restarts the election timer with a fresh timeout drawn from the node's own seeded generator. */
export function resetElectionTimer(s: Draft): void {
  const { value, next } = randomInt(s.rng, s.config.electionTicksMin, s.config.electionTicksMax);
  s.rng = next;
  s.electionTimeout = value;
  s.electionElapsed = 0;
}

/** Follows `term` (forgetting the vote only when the term moves) under `leaderId` when known. */
export function becomeFollower(s: Draft, term: number, leaderId: string | null): void {
  if (term > s.term) {
    s.term = term;
    s.votedFor = null;
  }
  s.role = 'follower';
  s.leaderId = leaderId;
  s.votes = new Map();
  s.progress = new Map();
  s.heartbeatElapsed = 0;
  resetElectionTimer(s);
}

/** Starts polling peers for the next term without moving to it (pre-vote). */
export function becomePreCandidate(s: Draft): void {
  s.role = 'precandidate';
  s.leaderId = null;
  s.votes = new Map([[s.config.id, true]]);
  s.progress = new Map();
  resetElectionTimer(s);
}

/** Moves to the next term and votes for itself; the vote must be persisted before the requests go out. */
export function becomeCandidate(s: Draft): void {
  s.term += 1;
  s.votedFor = s.config.id;
  s.role = 'candidate';
  s.leaderId = null;
  s.votes = new Map([[s.config.id, true]]);
  s.progress = new Map();
  resetElectionTimer(s);
}

/** Takes the lead of the current term, starting every follower's probe just past the leader's own log. */
export function becomeLeader(s: Draft): void {
  s.role = 'leader';
  s.leaderId = s.config.id;
  s.votes = new Map();
  s.progress = new Map();
  syncProgress(s, false);
  s.heartbeatElapsed = 0;
  // For a leader this counts ticks into the check-quorum window.
  s.electionElapsed = 0;
}

/**
 * Leader: one progress per other member (voter or learner) of the configuration in effect, and, while a
 * removal is uncommitted, of the node being removed too, so that it receives the entry that removes it and
 * stops campaigning. Members just added are probed from the end of the log like any follower (an empty log
 * backtracks to index 1 in one refusal) and count as recently active for their first check-quorum window, as
 * in etcd. Call it when the configuration in effect changes and when a config entry commits.
 */
export function syncProgress(s: Draft, newMembersActive = true): void {
  const config = currentConfig(s.configs);
  const members = new Set([...config.voters, ...config.learners]);
  if (config.index > s.commitIndex && s.configs.length > 1) {
    const previous = s.configs[s.configs.length - 2];
    for (const id of [...previous.voters, ...previous.learners]) members.add(id);
  }
  members.delete(s.config.id);
  for (const peer of s.progress.keys()) if (!members.has(peer)) s.progress.delete(peer);
  const nextIndex = lastIndexOf(s.log) + 1;
  for (const peer of [...members].sort()) {
    if (s.progress.has(peer)) continue;
    const progress: PeerProgress = {
      nextIndex,
      matchIndex: 0,
      sentUpTo: 0,
      awaitingResponse: false,
      commitSent: 0,
      sentSinceHeartbeat: false,
      recentlyActive: newMembersActive,
    };
    s.progress.set(peer, progress);
  }
}

/** Whether this node votes in the configuration in effect (learners and non-members never campaign). */
export function isVoter(s: Draft): boolean {
  return currentConfig(s.configs).voters.includes(s.config.id);
}

/**
 * Whether this node heard from a live leader less than the minimum election timeout ago. Such a node ignores
 * requests to start a new term: a leader that is working for it should not be deposed by a node that merely
 * lost contact (Raft thesis §4.2.3), which also keeps a rejoining node from disrupting the cluster.
 */
export function inLeaderLease(s: Draft): boolean {
  return s.leaderId !== null && s.electionElapsed < s.config.electionTicksMin;
}
