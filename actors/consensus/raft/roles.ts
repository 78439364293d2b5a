/**
 * Role changes as plain field updates on the draft. They send nothing: the handlers that call them decide what
 * to say, so the same transition serves every path that leads to it.
 */
import { lastIndexOf } from './log.js';
import { randomInt } from './rng.js';
import type { Draft } from './transition.js';

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
  const nextIndex = lastIndexOf(s.log) + 1;
  s.progress = new Map(
    s.config.peers
      .filter((peer) => peer !== s.config.id)
      .map((peer) => [peer, { nextIndex, matchIndex: 0, sentUpTo: 0, awaitingResponse: false, commitSent: 0, sentSinceHeartbeat: false, recentlyActive: false }]),
  );
  s.heartbeatElapsed = 0;
  // For a leader this counts ticks into the check-quorum window.
  s.electionElapsed = 0;
}

/**
 * Whether this node heard from a live leader less than the minimum election timeout ago. Such a node ignores
 * requests to start a new term: a leader that is working for it should not be deposed by a node that merely
 * lost contact (Raft thesis §4.2.3), which also keeps a rejoining node from disrupting the cluster.
 */
export function inLeaderLease(s: Draft): boolean {
  return s.leaderId !== null && s.electionElapsed < s.config.electionTicksMin;
}
