/**
 * The interface between the consensus actor's shell and the algorithm it runs (Raft or QBFT). The shell does
 * all I/O (events, NATS, timers, the transaction pool) and never looks inside the algorithm's state; a core is
 * a deterministic state machine over its inputs (no clock but `tick`, no randomness but a seed, no I/O).
 *
 * One step's output is what etcd calls a Ready: carried out in order — persist `events`, then send
 * `messages`, then apply `committed`. Persisting first is what makes votes and acknowledgements truthful.
 */
import type { LoggedBlock } from './block-data.js';

/** One consensus decision: an ordered block, final, with what the executor writes in its header. */
export interface FinalBlock {
  block: LoggedBlock;
  /**
   * Header extraData (hex, '0x' for none): the consensus evidence every participant writes identically,
   * so every participant computes the same block hash. Raft: none. QBFT: see qbft/extra-data.ts.
   */
  extraData: string;
  /** Where the decision sits in the core's own record (Raft: term and log index; QBFT: round and height). */
  position: { term: number; index: number };
}

/** An event the core wants stored in its stream before its messages go out (and reads back at restart). */
export interface CoreEvent {
  type: string;
  payload: unknown;
}

export type CoreInput =
  | { type: 'tick' }
  /** `from` is the participant the broker says sent it; `message` is unvalidated JSON (the core parses it). */
  | { type: 'message'; from: string; message: unknown }
  /** The shell proposes a block at `proposalHeight()`; the core may refuse it (returns no effect). */
  | { type: 'propose'; block: LoggedBlock };

export interface CoreOutput {
  events: CoreEvent[];
  /** `to` is a participant id. */
  messages: { to: string; message: unknown }[];
  /** Blocks that entered the core's log but are not final: their transactions are no longer pending. */
  logged: LoggedBlock[];
  /** Blocks logged earlier and then discarded (a Raft truncation): their transactions are pending again. */
  discarded: LoggedBlock[];
  /** Newly final blocks, in height order, each emitted once per process lifetime. */
  committed: FinalBlock[];
  /** Messages refused (bad signature, not a validator, malformed): the shell logs them. */
  refused: { from: string; reason: string }[];
}

export interface CoreStatus {
  role: 'leader' | 'follower' | 'candidate';
  /** Raft term, or QBFT round at the current height. */
  term: number;
  /** Raft leader, or the proposer of the current QBFT round. */
  leader: string | null;
  /** Raft commit index, or the QBFT finalised height. */
  commitIndex: number;
  cluster: { participant: string; role: 'verifier' | 'minter' | 'learner'; isLeader: boolean }[];
}

export interface ConsensusCore {
  /** The event stream the core's events go to (its record of votes, log and decisions). */
  readonly stream: string;
  step(input: CoreInput): CoreOutput;
  /**
   * The height a block we propose now would take, or null when we may not propose (not leader / not our
   * turn, or a block of ours is still in flight). The shell then builds a block from its pool.
   */
  proposalHeight(): number | null;
  /** Who our gateway's transactions are forwarded to (empty: nobody, we keep them to propose ourselves). */
  forwardTargets(): string[];
  /** The latest timestamp of a logged or final block (proposals keep timestamps non-decreasing). */
  lastTimestamp(): number;
  /** Height of the last final block (0 before any). */
  finalHeight(): number;
  /** A final block by height, while the core still holds it (for executors that catch up). */
  finalBlock(height: number): FinalBlock | undefined;
  status(): CoreStatus;
}

export function emptyOutput(): CoreOutput {
  return { events: [], messages: [], logged: [], discarded: [], committed: [], refused: [] };
}

/** Appends `b` to `a` in place (etcd's Ready accumulation across a batch of inputs). */
export function mergeOutput(a: CoreOutput, b: CoreOutput): CoreOutput {
  a.events.push(...b.events);
  a.messages.push(...b.messages);
  a.logged.push(...b.logged);
  a.discarded.push(...b.discarded);
  a.committed.push(...b.committed);
  a.refused.push(...b.refused);
  return a;
}

/**
 * An operator's command or query to the core (istanbul_* and raft_* JSON-RPC methods reach it through the
 * shell). `events` are stored before the result is returned; a bad command throws a CodedError.
 */
export interface CommandResult {
  result: unknown;
  events: CoreEvent[];
  /** Messages to send (a Raft membership change is proposed like a block). */
  messages?: { to: string; message: unknown }[];
  /** A whole step's output, when the command stepped the core (it replaces events and messages). */
  output?: CoreOutput;
}

export interface CommandableCore extends ConsensusCore {
  command(method: string, params: readonly unknown[]): CommandResult;
}
