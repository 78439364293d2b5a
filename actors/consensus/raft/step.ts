/**
 * The single entry point of the core: `step(state, input) → { state, output }`. It applies Raft's term rules
 * to incoming messages (§5.1) and hands each input to the handler of its concern.
 */
import { handleRequestVote, handleRequestVoteResponse } from './election.js';
import type { RaftMessage } from './messages.js';
import { appendAsLeader, handleAppendEntries, handleAppendEntriesResponse } from './replication.js';
import { becomeFollower, inLeaderLease } from './roles.js';
import { tick } from './tick.js';
import { beginTransition, finishTransition, send, type Transition } from './transition.js';
import type { EntryData, RaftInput, RaftState, StepResult } from './types.js';

/**
 * Advances the node by one input. The argument is left untouched and stays usable; the caller then carries
 * out `output` in order: persist, send, apply.
 */
export function step(state: RaftState, input: RaftInput): StepResult {
  const t = beginTransition(state);
  switch (input.type) {
    case 'tick':
      tick(t);
      break;
    case 'propose':
      propose(t, input.data);
      break;
    case 'message':
      receive(t, input.message);
      break;
  }
  return finishTransition(t, state);
}

function propose(t: Transition, data: EntryData): void {
  if (t.s.role !== 'leader') {
    t.proposal = { accepted: false, reason: 'not leader' };
    return;
  }
  const entry = appendAsLeader(t, data);
  t.proposal = { accepted: true, index: entry.index, term: entry.term };
}

function receive(t: Transition, m: RaftMessage): void {
  const { s } = t;
  if (m.to !== s.config.id || m.from === s.config.id || !s.config.peers.includes(m.from)) return;

  if (m.term > s.term) {
    if (m.type === 'RequestVote') {
      // A node that still hears from a leader does not help start a new term (see inLeaderLease).
      if (inLeaderLease(s)) return;
      // A poll leaves our term alone; a real request for a later term moves us to it, leaderless.
      if (!m.preVote) becomeFollower(s, m.term, null);
    } else if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
      // A granted poll carries the term we polled for, which is not ours until we win the pre-vote.
    } else {
      becomeFollower(s, m.term, m.type === 'AppendEntries' ? m.from : null);
    }
  } else if (m.term < s.term) {
    // Tell a stale leader or candidate about the newer term so it steps down; with leases and pre-vote it
    // would otherwise never learn it. Stale answers need no answer.
    if (m.type === 'AppendEntries') {
      send(t, { type: 'AppendEntriesResponse', from: s.config.id, to: m.from, term: s.term, success: false, matchIndex: 0 });
    } else if (m.type === 'RequestVote') {
      send(t, { type: 'RequestVoteResponse', from: s.config.id, to: m.from, term: s.term, preVote: m.preVote, granted: false });
    }
    return;
  }

  switch (m.type) {
    case 'RequestVote':
      return handleRequestVote(t, m);
    case 'RequestVoteResponse':
      return handleRequestVoteResponse(t, m);
    case 'AppendEntries':
      return handleAppendEntries(t, m);
    case 'AppendEntriesResponse':
      return handleAppendEntriesResponse(t, m);
  }
}
