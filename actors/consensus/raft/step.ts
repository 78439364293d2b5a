/**
 * The single entry point of the core: `step(state, input) → { state, output }`. It applies Raft's term rules
 * to incoming messages (§5.1) and hands each input to the handler of its concern.
 */
import { handleRequestVote, handleRequestVoteResponse } from './election.js';
import { termAt } from './log.js';
import { currentConfig, isMemberOf, refuseChange } from './membership.js';
import type { ConfigChange, RaftMessage } from './messages.js';
import { appendAsLeader, handleAppendEntries, handleAppendEntriesResponse } from './replication.js';
import { becomeFollower, inLeaderLease } from './roles.js';
import { handleInstallSnapshot } from './snapshot.js';
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
  const refused = data.kind === 'config' ? refuseConfigProposal(t, data.change) : null;
  if (refused !== null) {
    t.proposal = { accepted: false, reason: refused };
    return;
  }
  const entry = appendAsLeader(t, data);
  t.proposal = { accepted: true, index: entry.index, term: entry.term };
}

/** Single-server changes only: one at a time, and each must make sense in the configuration in effect. */
function refuseConfigProposal(t: Transition, change: ConfigChange): string | null {
  const { s } = t;
  const config = currentConfig(s.configs);
  if (config.index > s.commitIndex) return `a configuration change is pending (index ${config.index})`;
  // A leader's configuration is only known to be the cluster's once an entry of its own term is committed;
  // changing it earlier can lose a committed change after a leader change (Ongaro, raft-dev, 2015).
  if (termAt(s.log, s.commitIndex) !== s.term) return 'no entry of the current term is committed yet';
  return refuseChange(config, change);
}

function receive(t: Transition, m: RaftMessage): void {
  const { s } = t;
  if (m.to !== s.config.id || m.from === s.config.id) return;
  // Answers count only from members of the configuration in effect (for a leader it includes the nodes being
  // added, which take effect on append) and, on a leader, from a node whose removal is not yet committed (it
  // still replicates to it). Requests are handled whatever this node's configuration says (thesis
  // §4.1): a node whose log does not yet hold the entry that added the leader or a candidate must still follow
  // it or vote for it (its log is less up to date), or a cluster could wait forever for a node that is down.
  // The shell only delivers messages from authenticated participants of the network.
  const isAnswer = m.type === 'AppendEntriesResponse' || m.type === 'RequestVoteResponse';
  if (isAnswer && !isMemberOf(currentConfig(s.configs), m.from) && !s.progress.has(m.from)) return;

  if (m.term > s.term) {
    if (m.type === 'RequestVote') {
      // A node that still hears from a leader does not help start a new term (see inLeaderLease).
      if (inLeaderLease(s)) return;
      // A poll leaves our term alone; a real request for a later term moves us to it, leaderless.
      if (!m.preVote) becomeFollower(s, m.term, null);
    } else if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
      // A granted poll carries the term we polled for, which is not ours until we win the pre-vote.
    } else {
      becomeFollower(s, m.term, m.type === 'AppendEntries' || m.type === 'InstallSnapshot' ? m.from : null);
    }
  } else if (m.term < s.term) {
    // Tell a stale leader or candidate about the newer term so it steps down; with leases and pre-vote it
    // would otherwise never learn it. Stale answers need no answer.
    if (m.type === 'AppendEntries' || m.type === 'InstallSnapshot') {
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
    case 'InstallSnapshot':
      return handleInstallSnapshot(t, m);
  }
}
