/**
 * Leader election (Raft §5.2, §5.4.1) with pre-vote (thesis §9.6): a node whose election timer fires first
 * polls its peers for the next term; only if a majority would vote for it does it move to that term and ask
 * for real votes. A node cut off from the cluster thus keeps its term, and does not force an election when it
 * comes back.
 */
import { lastIndexOf, lastTermOf } from './log.js';
import { currentConfig } from './membership.js';
import type { RequestVote, RequestVoteResponse } from './messages.js';
import { tallyVotes } from './quorum.js';
import { appendAsLeader } from './replication.js';
import { becomeCandidate, becomeFollower, becomeLeader, becomePreCandidate, isVoter } from './roles.js';
import { send, type Transition } from './transition.js';
import type { Draft } from './transition.js';

/**
 * Election timeout fired: poll the voters first. A learner, or a node outside the configuration in effect
 * (removed, or not yet added), never campaigns; its timer keeps running (so it no longer counts as hearing
 * from a leader, see inLeaderLease) and it campaigns at the next tick after a promotion.
 */
export function startPreVote(t: Transition): void {
  if (!isVoter(t.s)) return;
  becomePreCandidate(t.s);
  if (tallyVotes(t.s.votes, voters(t)) === 'won') return startElection(t);
  requestVotes(t, { preVote: true, term: t.s.term + 1 });
}

/** A majority would vote for us: move to the next term and ask for real votes. */
function startElection(t: Transition): void {
  becomeCandidate(t.s);
  if (tallyVotes(t.s.votes, voters(t)) === 'won') return winElection(t);
  requestVotes(t, { preVote: false, term: t.s.term });
}

function voters(t: Transition): readonly string[] {
  return currentConfig(t.s.configs).voters;
}

function requestVotes(t: Transition, request: { preVote: boolean; term: number }): void {
  const { s } = t;
  for (const peer of voters(t)) {
    if (peer === s.config.id) continue;
    send(t, {
      type: 'RequestVote',
      from: s.config.id,
      to: peer,
      ...request,
      lastLogIndex: lastIndexOf(s.log),
      lastLogTerm: lastTermOf(s.log),
    });
  }
}

/** The new leader appends a no-op of its term: committing it commits every entry before it (§5.4.2). */
function winElection(t: Transition): void {
  becomeLeader(t.s);
  appendAsLeader(t, { kind: 'noop' });
}

/** Election restriction (§5.4.1): only a candidate whose log is at least as up to date as ours gets a vote. */
export function isUpToDate(s: Draft, lastLogIndex: number, lastLogTerm: number): boolean {
  const ourLastTerm = lastTermOf(s.log);
  return lastLogTerm > ourLastTerm || (lastLogTerm === ourLastTerm && lastLogIndex >= lastIndexOf(s.log));
}

/**
 * Answers a (pre-)vote request. The caller has already applied the term rules: a real request is for our
 * current term; a poll may be for a later term, which we do not adopt.
 */
export function handleRequestVote(t: Transition, m: RequestVote): void {
  const { s } = t;
  const reply = { type: 'RequestVoteResponse', from: s.config.id, to: m.from, preVote: m.preVote } as const;
  if (m.preVote) {
    const granted = m.term > s.term && isUpToDate(s, m.lastLogIndex, m.lastLogTerm);
    // A granted poll answers in the polled term so the poller can tell it from a refusal in our own term.
    send(t, { ...reply, term: granted ? m.term : s.term, granted });
    return;
  }
  // One vote per term: votedFor is persisted before this reply leaves (the shell persists first).
  const granted =
    (s.votedFor === null || s.votedFor === m.from) && isUpToDate(s, m.lastLogIndex, m.lastLogTerm);
  if (granted) {
    s.votedFor = m.from;
    s.electionElapsed = 0; // give the candidate we back time to win before competing with it
  }
  send(t, { ...reply, term: s.term, granted });
}

export function handleRequestVoteResponse(t: Transition, m: RequestVoteResponse): void {
  const { s } = t;
  const expectedRole = m.preVote ? 'precandidate' : 'candidate';
  // Granted polls carry the polled term (ours + 1); everything else about this campaign carries our term.
  const expectedTerm = m.preVote && m.granted ? s.term + 1 : s.term;
  if (s.role !== expectedRole || m.term !== expectedTerm) return;
  s.votes.set(m.from, m.granted);
  const outcome = tallyVotes(s.votes, voters(t));
  if (outcome === 'won') {
    if (m.preVote) startElection(t);
    else winElection(t);
  } else if (outcome === 'lost') {
    becomeFollower(s, s.term, null);
  }
}
