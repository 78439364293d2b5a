/** The Raft core's public surface: a pure state machine, its queries, and its wire schemas. */
export { createRaft, role, leaderId, term, commitIndex, lastIndex, entriesFrom, peersStatus } from './state.js';
export { step } from './step.js';
export {
  AppendEntries,
  AppendEntriesResponse,
  AppendReject,
  Entry,
  EntryData,
  HardState,
  RaftMessage,
  RequestVote,
  RequestVoteResponse,
} from './messages.js';
export type {
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
