/** The Raft core's public surface: a pure state machine, its queries, and its wire schemas. */
export {
  createRaft,
  role,
  leaderId,
  term,
  commitIndex,
  lastIndex,
  entriesFrom,
  peersStatus,
  membership,
  raftId,
  snapshotAt,
} from './state.js';
export { step } from './step.js';
export { compact } from './snapshot.js';
export {
  AppendEntries,
  AppendEntriesResponse,
  AppendReject,
  ConfigChange,
  Entry,
  EntryData,
  HardState,
  InstallSnapshot,
  RaftMessage,
  Snapshot,
  RequestVote,
  RequestVoteResponse,
} from './messages.js';
export type {
  Configuration,
  Membership,
  PeerStatus,
  PersistInstructions,
  PersistedRaft,
  ProposalResult,
  RaftConfig,
  RaftInput,
  RaftOutput,
  RaftRole,
  RaftState,
  StepResult,
} from './types.js';
