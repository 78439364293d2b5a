/**
 * The passage of time. Followers and candidates count towards an election; a leader counts towards its next
 * heartbeat and towards the end of its check-quorum window.
 */
import { currentConfig } from './membership.js';
import { majorityOf } from './quorum.js';
import { startPreVote } from './election.js';
import { heartbeat, stepDownIfRemoved } from './replication.js';
import { becomeFollower } from './roles.js';
import type { Transition } from './transition.js';

export function tick(t: Transition): void {
  if (t.s.role === 'leader') tickLeader(t);
  else tickElection(t);
}

function tickElection(t: Transition): void {
  t.s.electionElapsed += 1;
  if (t.s.electionElapsed >= t.s.electionTimeout) startPreVote(t);
}

function tickLeader(t: Transition): void {
  const { s } = t;
  if (stepDownIfRemoved(t)) return;
  s.heartbeatElapsed += 1;
  s.electionElapsed += 1;
  if (s.electionElapsed >= s.config.electionTicksMin) {
    s.electionElapsed = 0;
    // Check quorum: a leader that a majority has not answered within an election timeout is probably cut
    // off; the others may already have elected a successor. Stepping down stops it accepting proposals
    // that could never commit.
    if (!heardFromMajority(t)) {
      becomeFollower(s, s.term, null);
      return;
    }
    for (const [peer, progress] of s.progress) s.progress.set(peer, { ...progress, recentlyActive: false });
  }
  if (s.heartbeatElapsed >= s.config.heartbeatTicks) {
    s.heartbeatElapsed = 0;
    // Heartbeats carry the next batch too, so a lost AppendEntries or answer is retried here.
    heartbeat(t);
  }
}

/** Over the voters in effect only; the leader counts itself only while it is one of them. */
function heardFromMajority(t: Transition): boolean {
  const { voters } = currentConfig(t.s.configs);
  let active = 0;
  for (const voter of voters) {
    if (voter === t.s.config.id || t.s.progress.get(voter)?.recentlyActive === true) active++;
  }
  return active >= majorityOf(voters.length);
}
