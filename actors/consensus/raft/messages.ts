/**
 * Raft's peer-to-peer messages and the values it persists, as zod schemas; the TypeScript types are inferred
 * from them. Every value here is plain JSON (no bigint, no Map, no class), so the consensus actor can send
 * messages over NATS as they are and validate what arrives with `RaftMessage.parse`.
 */
import { z } from 'zod';

const NodeId = z.string().min(1);
const Term = z.number().int().nonnegative();
const Index = z.number().int().nonnegative();

/**
 * One single-server membership change (Raft thesis §4.1), GoQuorum's raft_addPeer / raft_addLearner /
 * raft_promoteToPeer / raft_removePeer: `addVoter` adds a voting member directly, `addLearner` a member that
 * replicates but does not vote, `promote` turns a learner into a voter, `remove` removes a voter or a learner.
 */
export const ConfigChange = z.object({
  type: z.enum(['addLearner', 'addVoter', 'promote', 'remove']),
  id: NodeId,
});
export type ConfigChange = z.infer<typeof ConfigChange>;

/** What an entry carries. The core never looks inside `block`; only the ledger does. */
export const EntryData = z.discriminatedUnion('kind', [
  /** Appended by every new leader so that entries of earlier terms can be committed (Raft §5.4.2). */
  z.object({ kind: z.literal('noop') }),
  z.object({ kind: z.literal('block'), block: z.unknown() }),
  /**
   * A membership change. It takes effect on every node as soon as the entry is in its log (committed or not)
   * and is undone if the entry is truncated; at most one such entry is uncommitted at a time.
   */
  z.object({ kind: z.literal('config'), change: ConfigChange }),
]);
export type EntryData = z.infer<typeof EntryData>;

export const Entry = z.object({
  term: Term.min(1),
  index: Index.min(1),
  data: EntryData,
});
export type Entry = z.infer<typeof Entry>;

/** What must survive a crash besides the log: a node must never vote twice in a term or go back in terms. */
export const HardState = z.object({
  term: Term,
  votedFor: NodeId.nullable(),
});
export type HardState = z.infer<typeof HardState>;

/**
 * A vote request. With `preVote` set it is only a poll (Raft thesis §9.6): `term` is the term the sender
 * would campaign in, and neither side changes its term or vote, so a node that was cut off cannot disrupt
 * a working cluster by bumping terms when it comes back.
 */
export const RequestVote = z.object({
  type: z.literal('RequestVote'),
  from: NodeId,
  to: NodeId,
  term: Term,
  preVote: z.boolean(),
  lastLogIndex: Index,
  lastLogTerm: Term,
});
export type RequestVote = z.infer<typeof RequestVote>;

export const RequestVoteResponse = z.object({
  type: z.literal('RequestVoteResponse'),
  from: NodeId,
  to: NodeId,
  /** For a granted pre-vote: the term that was polled; otherwise the responder's current term. */
  term: Term,
  preVote: z.boolean(),
  granted: z.boolean(),
});
export type RequestVoteResponse = z.infer<typeof RequestVoteResponse>;

export const AppendEntries = z
  .object({
    type: z.literal('AppendEntries'),
    from: NodeId,
    to: NodeId,
    term: Term,
    prevLogIndex: Index,
    prevLogTerm: Term,
    entries: z.array(Entry),
    leaderCommit: Index,
  })
  .refine((m) => m.entries.every((e, i) => e.index === m.prevLogIndex + 1 + i && e.term <= m.term), {
    message: 'entries must follow prevLogIndex contiguously and be no newer than the leader term',
    path: ['entries'],
  });
export type AppendEntries = z.infer<typeof AppendEntries>;

/**
 * The hint a follower returns when its log does not hold `prevLogTerm` at `prevLogIndex` (the etcd-raft
 * scheme): `hintIndex` is the follower's last index at or below the probe whose term is no newer than the
 * leader's `prevLogTerm`, `hintTerm` its term. The leader can then skip a whole term per round trip instead
 * of one entry.
 */
export const AppendReject = z.object({
  /** The prevLogIndex of the refused request: lets the leader ignore stale refusals. */
  prevLogIndex: Index,
  hintIndex: Index,
  hintTerm: Term,
});
export type AppendReject = z.infer<typeof AppendReject>;

export const AppendEntriesResponse = z.object({
  type: z.literal('AppendEntriesResponse'),
  from: NodeId,
  to: NodeId,
  term: Term,
  success: z.boolean(),
  /** On success: the last index known to match the leader's log (prevLogIndex + entries sent); else 0. */
  matchIndex: Index,
  /** Present when the log check failed; absent on success and on a refusal for a stale term. */
  reject: AppendReject.optional(),
});
export type AppendEntriesResponse = z.infer<typeof AppendEntriesResponse>;

/** A configuration as a snapshot records it: the one in effect at the snapshot's index. */
export const SnapshotConfig = z.object({
  /** The index of the config entry it came from (0: the initial configuration). */
  index: Index,
  voters: z.array(NodeId),
  learners: z.array(NodeId),
});

/**
 * What a compacted prefix of the log leaves (etcd's SnapshotMetadata plus its Data): the last included index
 * and term, the configuration in effect there, and the application's own small summary (opaque to Raft: the
 * consensus actor puts its final height there; the blocks themselves are fetched from a peer).
 */
export const Snapshot = z.object({
  index: Index,
  term: Term,
  config: SnapshotConfig,
  data: z.unknown(),
});
export type Snapshot = z.infer<typeof Snapshot>;

/**
 * A leader whose log no longer holds what a follower needs sends its snapshot instead (Raft §7). The follower
 * answers with an AppendEntriesResponse (success, matchIndex = the snapshot's index).
 */
export const InstallSnapshot = z.object({
  type: z.literal('InstallSnapshot'),
  from: NodeId,
  to: NodeId,
  term: Term,
  snapshot: Snapshot,
});
export type InstallSnapshot = z.infer<typeof InstallSnapshot>;

export const RaftMessage = z.discriminatedUnion('type', [
  RequestVote,
  RequestVoteResponse,
  AppendEntries,
  AppendEntriesResponse,
  InstallSnapshot,
]);
export type RaftMessage = z.infer<typeof RaftMessage>;
