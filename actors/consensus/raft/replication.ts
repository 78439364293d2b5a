/**
 * Log replication (Raft §5.3): the leader's AppendEntries, the follower's log check and repair, and the
 * leader's bookkeeping of what each follower holds, which decides commitment (§5.4.2).
 *
 * Flow control is one current request per follower. An answer to the current request (the one that reached
 * `sentUpTo`) triggers the next batch of at most `maxEntriesPerAppend` entries; answers to older requests,
 * duplicates and reordered ones, only update what is known, so they can never start parallel streams that
 * would multiply with every heartbeat. A lost request or answer is retried by the next heartbeat, which
 * resends the current batch. A follower far behind thus catches up in one round trip per term of divergence
 * (the refusal hint skips whole terms) plus one per batch.
 */
import { lastIndexOf, lastIndexWithTermAtMost, sliceLog, termAt } from './log.js';
import { currentConfig } from './membership.js';
import { indexHeldByMajority } from './quorum.js';
import { becomeFollower, syncProgress } from './roles.js';
import type { AppendEntries, AppendEntriesResponse } from './messages.js';
import type { Entry, EntryData } from './types.js';
import { appendEntries, commitUpTo, send, truncateFrom, type Transition } from './transition.js';

/** Sends `peer` the entries from its nextIndex on (possibly none: then it is a heartbeat). */
export function sendAppend(t: Transition, peer: string, heartbeat = false): void {
  const { s } = t;
  const progress = s.progress.get(peer);
  if (progress === undefined) return;
  const prevLogIndex = progress.nextIndex - 1;
  if (prevLogIndex < s.log.offset && s.snapshot !== null) {
    // The entries it needs were compacted: the snapshot replaces them (answered like an AppendEntries).
    send(t, { type: 'InstallSnapshot', from: s.config.id, to: peer, term: s.term, snapshot: s.snapshot });
    s.progress.set(peer, {
      ...progress,
      sentUpTo: s.snapshot.index,
      awaitingResponse: true,
      commitSent: s.snapshot.index,
      sentSinceHeartbeat: progress.sentSinceHeartbeat || !heartbeat,
    });
    return;
  }
  const prevLogTerm = termAt(s.log, prevLogIndex);
  if (prevLogTerm === undefined) {
    throw new RangeError(`nextIndex ${progress.nextIndex} of ${peer} is past the leader's log`);
  }
  const entries = sliceLog(s.log, progress.nextIndex, prevLogIndex + s.config.maxEntriesPerAppend);
  send(t, {
    type: 'AppendEntries',
    from: s.config.id,
    to: peer,
    term: s.term,
    prevLogIndex,
    prevLogTerm,
    entries,
    leaderCommit: s.commitIndex,
  });
  s.progress.set(peer, {
    ...progress,
    sentUpTo: prevLogIndex + entries.length,
    awaitingResponse: true,
    commitSent: s.commitIndex,
    sentSinceHeartbeat: progress.sentSinceHeartbeat || !heartbeat,
  });
}

/** New entries (or a commit) go to the followers not already waiting on an answer. */
export function broadcastAppend(t: Transition): void {
  for (const [peer, progress] of t.s.progress) {
    if (!progress.awaitingResponse) sendAppend(t, peer);
  }
}

/**
 * Heartbeats: to every follower, except one that was sent entries or a commit since the last heartbeat and has
 * answered it (it has just heard from us, and holds what we sent). While blocks flow, that is nearly all of
 * them; an unanswered message is retried here as before.
 */
export function heartbeat(t: Transition): void {
  for (const [peer, progress] of t.s.progress) {
    const skip = progress.sentSinceHeartbeat && !progress.awaitingResponse;
    t.s.progress.set(peer, { ...progress, sentSinceHeartbeat: false });
    if (!skip) sendAppend(t, peer, true);
  }
}

/** Appends a new entry of the current term to the leader's log and starts replicating it. */
export function appendAsLeader(t: Transition, data: EntryData): Entry {
  const { s } = t;
  const entry: Entry = { term: s.term, index: lastIndexOf(s.log) + 1, data };
  appendEntries(t, [entry]);
  // A membership change takes effect now: replicate to a new member, stop replicating to a removed one.
  if (data.kind === 'config') syncProgress(s);
  // A cluster of one commits on its own say-so; the shell persists before it applies, so this is durable.
  advanceLeaderCommit(t);
  broadcastAppend(t);
  return entry;
}

/**
 * Commits the highest index a majority holds, but only if it is of the current term: an entry of an earlier
 * term may sit on a majority and still be overwritten (Raft §5.4.2, figure 8). Committing it makes every
 * earlier entry committed too.
 */
export function advanceLeaderCommit(t: Transition): boolean {
  const { s } = t;
  // Voters of the configuration in effect only: learners' acks do not count, nor does a leader that is
  // removing itself (thesis §4.2.2: it manages the cluster without being part of it).
  const matchIndexes: number[] = [];
  for (const voter of currentConfig(s.configs).voters) {
    matchIndexes.push(voter === s.config.id ? lastIndexOf(s.log) : (s.progress.get(voter)?.matchIndex ?? 0));
  }
  if (matchIndexes.length === 0) return false;
  const candidate = indexHeldByMajority(matchIndexes);
  if (candidate <= s.commitIndex || termAt(s.log, candidate) !== s.term) return false;
  const before = s.commitIndex;
  commitUpTo(t, candidate);
  // A committed removal: the removed node has been sent its removal; stop replicating to it.
  const configIndex = currentConfig(s.configs).index;
  if (configIndex > before && configIndex <= s.commitIndex) syncProgress(s);
  return true;
}

/** Follower side: check that the logs agree at prevLogIndex, repair the tail, learn the commit index. */
export function handleAppendEntries(t: Transition, m: AppendEntries): void {
  const { s } = t;
  if (s.role === 'leader') return; // two leaders in one term cannot happen; refuse to make it worse
  if (s.role !== 'follower') becomeFollower(s, m.term, m.from);
  s.leaderId = m.from;
  s.electionElapsed = 0;

  const reply = { type: 'AppendEntriesResponse', from: s.config.id, to: m.from, term: s.term } as const;
  if (m.prevLogIndex < s.log.offset) {
    // A delayed request from before we compacted: what we committed matches the leader's log (etcd answers
    // with its commit index the same way), and the leader sends on from there.
    send(t, { ...reply, success: true, matchIndex: s.commitIndex });
    return;
  }
  if (termAt(s.log, m.prevLogIndex) !== m.prevLogTerm) {
    const hintIndex = lastIndexWithTermAtMost(s.log, Math.min(m.prevLogIndex, lastIndexOf(s.log)), m.prevLogTerm);
    send(t, {
      ...reply,
      success: false,
      matchIndex: 0,
      reject: { prevLogIndex: m.prevLogIndex, hintIndex, hintTerm: termAt(s.log, hintIndex) ?? 0 },
    });
    return;
  }

  // Log matching: entries we hold with the same index and term are the leader's; the first that differs
  // starts a tail the leader never had, which goes along with everything after it.
  let firstNew = m.entries.length;
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i];
    const localTerm = termAt(s.log, entry.index);
    if (localTerm === entry.term) continue;
    if (localTerm !== undefined) truncateFrom(t, entry.index);
    firstNew = i;
    break;
  }
  appendEntries(t, m.entries.slice(firstNew));

  // Only what this message proved to match may be committed: entries past it could be a stale tail.
  const matchIndex = m.prevLogIndex + m.entries.length;
  commitUpTo(t, Math.min(m.leaderCommit, matchIndex));
  send(t, { ...reply, success: true, matchIndex });
}

/** Leader side: record what the follower holds, commit what a majority holds, send what it lacks. */
export function handleAppendEntriesResponse(t: Transition, m: AppendEntriesResponse): void {
  const { s } = t;
  if (s.role !== 'leader') return;
  const progress = s.progress.get(m.from);
  if (progress === undefined) return;

  if (m.success) {
    const matchIndex = Math.max(progress.matchIndex, Math.min(m.matchIndex, lastIndexOf(s.log)));
    const answersCurrent = m.matchIndex >= progress.sentUpTo;
    const nextIndex = Math.max(progress.nextIndex, matchIndex + 1);
    s.progress.set(m.from, {
      ...progress,
      matchIndex,
      nextIndex,
      recentlyActive: true,
      awaitingResponse: progress.awaitingResponse && !answersCurrent,
    });
    if (advanceLeaderCommit(t)) {
      broadcastAppend(t); // tell followers promptly; includes this one if idle
      stepDownIfRemoved(t);
    }
    // More to send, or a commit this follower missed because it was awaiting this answer when the commit was
    // broadcast: without this it would learn the commit only at the next heartbeat.
    else if (answersCurrent && (nextIndex <= lastIndexOf(s.log) || progress.commitSent < s.commitIndex)) sendAppend(t, m.from);
    return;
  }

  // A refusal answers the probe at prevLogIndex; one for an older probe (reordered, duplicated) says nothing new.
  if (m.reject === undefined || m.reject.prevLogIndex !== progress.nextIndex - 1) {
    s.progress.set(m.from, { ...progress, recentlyActive: true });
    return;
  }
  const { prevLogIndex, hintIndex, hintTerm } = m.reject;
  const probe = hintTerm > 0 ? lastIndexWithTermAtMost(s.log, hintIndex, hintTerm) : hintIndex;
  // Never below what is known to match, always strictly below the refused probe: each refusal makes progress.
  const nextIndex = Math.max(Math.min(prevLogIndex, probe + 1), progress.matchIndex + 1);
  s.progress.set(m.from, { ...progress, nextIndex, recentlyActive: true });
  sendAppend(t, m.from);
}

/**
 * A leader that is no longer a voter (it proposed its own removal) leads until that entry commits, then steps
 * down, as etcd does: the remaining voters elect a successor once their timers run out. It does not campaign
 * again (see startPreVote). Returns whether it stepped down.
 */
export function stepDownIfRemoved(t: Transition): boolean {
  const { s } = t;
  const config = currentConfig(s.configs);
  if (s.role !== 'leader' || config.voters.includes(s.config.id) || config.index > s.commitIndex) return false;
  becomeFollower(s, s.term, null);
  return true;
}
