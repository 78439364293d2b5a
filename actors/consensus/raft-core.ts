/**
 * Raft behind the ConsensusCore interface: the pure Raft state machine (raft/) plus the bookkeeping that maps
 * its log onto blocks (which heights are logged, which are final). Still pure: no I/O, no clock.
 */
import { z } from 'zod';
import { parseWith } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { blockOf, LoggedBlock } from './block-data.js';
import { emptyOutput, type CommandResult, type CommandableCore, type CoreEvent, type CoreInput, type CoreOutput, type CoreStatus, type FinalBlock } from './core.js';
import { createRaft, membership, step, type ConfigChange } from './raft/index.js';
import { entryAt } from './raft/log.js';
import { Entry, HardState, RaftMessage } from './raft/messages.js';
import type { PersistedRaft, RaftInput, RaftOutput, RaftState } from './raft/types.js';

export const RAFT_STREAM = 'consensus-raft';

export const RaftEvents = {
  HardStateChanged: HardState,
  EntriesAppended: z.object({ entries: z.array(Entry) }),
  EntriesTruncated: z.object({ fromIndex: z.number().int().positive() }),
  CommitAdvanced: z.object({ commitIndex: z.number().int().nonnegative() }),
} as const;

export interface RaftCoreConfig {
  self: string;
  /** The voters the network started with (later changes are entries in the log). */
  peers: string[];
  /** Every permitted participant: who may be added. */
  permitted: string[];
  electionTicksMin: number;
  electionTicksMax: number;
  heartbeatTicks: number;
  /** Seeds the election timeouts. */
  seed: number;
}

/** How many proposed-but-uncommitted blocks the leader allows before it waits. */
const MAX_INFLIGHT_BLOCKS = 1;
/** An AppendEntries carries at most this many entries, so a message stays under the broker's max_payload. */
const MAX_ENTRIES_PER_APPEND = 4;

/** Folds the stored Raft events into what the core restarts from. */
export function foldRaftEvents(events: readonly CoreEvent[]): PersistedRaft {
  const decodeEvent = <T>(e: CoreEvent, schema: z.ZodType<T>): T => parseWith(schema, e.payload, `raft event ${e.type}`);
  let hardState: HardState = { term: 0, votedFor: null };
  const entries: Entry[] = [];
  let commitIndex = 0;
  for (const e of events) {
    switch (e.type) {
      case 'HardStateChanged':
        hardState = decodeEvent(e, RaftEvents.HardStateChanged);
        break;
      case 'EntriesTruncated':
        entries.length = Math.min(entries.length, decodeEvent(e, RaftEvents.EntriesTruncated).fromIndex - 1);
        break;
      case 'EntriesAppended':
        for (const entry of decodeEvent(e, RaftEvents.EntriesAppended).entries) {
          if (entry.index !== entries.length + 1) throw new Error(`raft log event out of order at index ${entry.index}`);
          entries.push(entry);
        }
        break;
      case 'CommitAdvanced':
        commitIndex = Math.max(commitIndex, decodeEvent(e, RaftEvents.CommitAdvanced).commitIndex);
        break;
      default:
        throw new Error(`unknown raft event ${e.type}`);
    }
  }
  return { hardState, entries, commitIndex: Math.min(commitIndex, entries.length) };
}

export class RaftCore implements CommandableCore {
  readonly stream = RAFT_STREAM;
  private state: RaftState;
  /** Raft index → logged entry, not yet committed. */
  private readonly uncommitted = new Map<number, Entry>();
  private readonly heightToIndex = new Map<number, number>();
  private lastLoggedHeight = 0;
  private committedHeight = 0;
  private commitIndex = 0;
  private persistedCommitIndex: number;
  private latestTimestamp: number;
  private readonly restoredFinal: LoggedBlock[] = [];
  private permitted: Set<string>;

  constructor(
    private readonly config: RaftCoreConfig,
    stored: readonly CoreEvent[],
    genesisTimestamp: number,
  ) {
    this.permitted = new Set(config.permitted);
    const persisted = foldRaftEvents(stored);
    this.latestTimestamp = genesisTimestamp;
    this.state = createRaft(
      {
        id: config.self,
        peers: config.peers,
        electionTicksMin: config.electionTicksMin,
        electionTicksMax: config.electionTicksMax,
        heartbeatTicks: config.heartbeatTicks,
        seed: config.seed,
        maxEntriesPerAppend: MAX_ENTRIES_PER_APPEND,
        // A participant added after genesis starts with an empty log and learns its membership from it.
        joinExisting: !config.peers.includes(config.self),
      },
      persisted,
    );
    for (const entry of persisted.entries) this.onLogged(entry);
    for (const entry of persisted.entries.slice(0, persisted.commitIndex ?? 0)) {
      const final = this.onCommitted(entry);
      if (final) this.restoredFinal.push(final.block);
    }
    this.persistedCommitIndex = persisted.commitIndex ?? 0;
  }

  /** Blocks final before the restart (the shell rebuilds its pool's view of used nonces from them). */
  restored(): { final: LoggedBlock[]; inFlight: LoggedBlock[] } {
    const inFlight = [...this.uncommitted.values()].map(blockOf).filter((b): b is LoggedBlock => b !== null);
    return { final: this.restoredFinal.splice(0), inFlight };
  }

  step(input: CoreInput): CoreOutput {
    const out = emptyOutput();
    let raftInput: RaftInput;
    switch (input.type) {
      case 'tick':
        raftInput = { type: 'tick' };
        break;
      case 'propose':
        if (this.proposalHeight() !== input.block.height) return out;
        raftInput = { type: 'propose', data: { kind: 'block', block: input.block } };
        break;
      case 'message': {
        const refusal = this.checkMessage(input.from, input.message);
        if (typeof refusal === 'string') {
          out.refused.push({ from: input.from, reason: refusal });
          return out;
        }
        raftInput = { type: 'message', message: refusal };
        break;
      }
    }
    const r = step(this.state, raftInput);
    this.state = r.state;
    this.absorb(r.output, out);
    return out;
  }

  /** Raft carries blocks opaquely; what enters our log is checked here, at the boundary. */
  private checkMessage(from: string, raw: unknown): RaftMessage | string {
    const parsed = RaftMessage.safeParse(raw);
    if (!parsed.success) return 'malformed raft message';
    const m = parsed.data;
    if (m.from !== from) return `${from} sent a message claiming to be from ${m.from}`;
    if (m.to !== this.config.self) return 'message not addressed to us';
    if (m.type === 'AppendEntries') {
      for (const e of m.entries) {
        if (e.data.kind === 'block' && !LoggedBlock.safeParse(e.data.block).success) return `malformed block at index ${e.index}`;
      }
    }
    return m;
  }

  private absorb(o: RaftOutput, out: CoreOutput): void {
    const events: CoreEvent[] = [];
    if (o.persist.hardState) events.push({ type: 'HardStateChanged', payload: o.persist.hardState });
    if (o.persist.truncateFrom !== undefined) {
      events.push({ type: 'EntriesTruncated', payload: { fromIndex: o.persist.truncateFrom } });
      out.discarded.push(...this.onTruncated(o.persist.truncateFrom));
    }
    if (o.persist.entries.length) {
      events.push({ type: 'EntriesAppended', payload: { entries: o.persist.entries } });
      for (const e of o.persist.entries) {
        const b = this.onLogged(e);
        if (b) out.logged.push(b);
      }
    }
    for (const entry of o.committed) {
      const final = this.onCommitted(entry);
      if (final) out.committed.push(final);
    }
    // The commit index is only a restart hint (a restarted node learns it from the leader anyway), so it rides
    // along with events stored regardless instead of costing a write of its own.
    if (events.length && this.commitIndex > this.persistedCommitIndex) {
      events.push({ type: 'CommitAdvanced', payload: { commitIndex: this.commitIndex } });
      this.persistedCommitIndex = this.commitIndex;
    }
    out.events.push(...events);
    for (const m of o.messages) out.messages.push({ to: m.to, message: m });
  }

  private onLogged(entry: Entry): LoggedBlock | null {
    this.uncommitted.set(entry.index, entry);
    const block = blockOf(entry);
    if (!block) return null;
    this.heightToIndex.set(block.height, entry.index);
    this.lastLoggedHeight = Math.max(this.lastLoggedHeight, block.height);
    this.latestTimestamp = Math.max(this.latestTimestamp, block.timestamp);
    return block;
  }

  private onTruncated(fromIndex: number): LoggedBlock[] {
    const removed: LoggedBlock[] = [];
    for (const [index, entry] of [...this.uncommitted]) {
      if (index < fromIndex) continue;
      this.uncommitted.delete(index);
      const block = blockOf(entry);
      if (!block) continue;
      this.heightToIndex.delete(block.height);
      removed.push(block);
    }
    this.lastLoggedHeight = this.committedHeight;
    for (const entry of this.uncommitted.values()) {
      const b = blockOf(entry);
      if (b) this.lastLoggedHeight = Math.max(this.lastLoggedHeight, b.height);
    }
    return removed;
  }

  private onCommitted(entry: Entry): FinalBlock | null {
    this.uncommitted.delete(entry.index);
    this.commitIndex = Math.max(this.commitIndex, entry.index);
    const block = blockOf(entry);
    if (!block) return null;
    this.committedHeight = block.height;
    return { block, extraData: '0x', position: { term: entry.term, index: entry.index } };
  }

  private blocksInFlight(): number {
    let n = 0;
    for (const e of this.uncommitted.values()) if (e.data.kind === 'block') n++;
    return n;
  }

  proposalHeight(): number | null {
    if (this.state.role !== 'leader' || this.blocksInFlight() >= MAX_INFLIGHT_BLOCKS) return null;
    return this.lastLoggedHeight + 1;
  }

  forwardTargets(): string[] {
    const leader = this.state.leaderId;
    return leader && leader !== this.config.self ? [leader] : [];
  }

  lastTimestamp(): number {
    return this.latestTimestamp;
  }

  finalHeight(): number {
    return this.committedHeight;
  }

  finalBlock(height: number): FinalBlock | undefined {
    if (height > this.committedHeight) return undefined;
    const index = this.heightToIndex.get(height);
    const entry = index === undefined ? undefined : entryAt(this.state.log, index);
    const block = entry && blockOf(entry);
    return entry && block ? { block, extraData: '0x', position: { term: entry.term, index: entry.index } } : undefined;
  }

  private clusterMembers(): { id: string; learner: boolean }[] {
    const m = membership(this.state);
    return [...m.voters.map((id) => ({ id, learner: false })), ...m.learners.map((id) => ({ id, learner: true }))].sort((a, b) => a.id.localeCompare(b.id));
  }

  status(): CoreStatus {
    const s = this.state;
    return {
      role: s.role === 'leader' ? 'leader' : s.role === 'follower' ? 'follower' : 'candidate',
      term: s.term,
      leader: s.leaderId,
      commitIndex: this.commitIndex,
      // GoQuorum's raft_cluster roles: the leader mints, voters verify, learners learn.
      cluster: this.clusterMembers().map(({ id: p, learner }) => ({ participant: p, role: p === s.leaderId ? 'minter' : learner ? 'learner' : 'verifier', isLeader: p === s.leaderId })),
    };
  }

  /** The permission list changed: who may be added as a learner or peer. */
  setPermitted(participants: readonly string[]): void {
    this.permitted = new Set(participants);
  }

  command(method: string, params: readonly unknown[]): CommandResult {
    const id = typeof params[0] === 'string' ? params[0] : '';
    switch (method) {
      case 'raft_role':
        return { result: this.state.role === 'leader' ? 'minter' : 'verifier', events: [] };
      case 'raft_leader':
        if (!this.state.leaderId) throw new CodedError(ErrorCode.Unavailable, 'no leader at the moment');
        return { result: this.state.leaderId, events: [] };
      case 'raft_getRaftId': {
        // GoQuorum answers a numeric id for an enode; here a participant is its own raft id.
        const m = membership(this.state);
        if (!m.voters.includes(id) && !m.learners.includes(id)) throw new CodedError(ErrorCode.NotFound, `${id} is not a member of the raft cluster`);
        return { result: id, events: [] };
      }
      case 'raft_addPeer':
        return this.change({ type: 'addVoter', id }, id);
      case 'raft_addLearner':
        return this.change({ type: 'addLearner', id }, id);
      case 'raft_promoteToPeer':
        return this.change({ type: 'promote', id }, true);
      case 'raft_removePeer':
        return this.change({ type: 'remove', id }, null);
      default:
        throw new CodedError(ErrorCode.NotFound, `the method ${method} does not exist on a raft network`);
    }
  }

  /** A membership change is proposed like a block; it takes effect once in the log (see raft/membership.ts). */
  private change(change: ConfigChange, result: unknown): CommandResult {
    if ((change.type === 'addVoter' || change.type === 'addLearner') && !this.permitted.has(change.id)) {
      throw new CodedError(ErrorCode.Rejected, `${change.id} is not in the permission list: permit it first`);
    }
    if (this.state.role !== 'leader') {
      throw new CodedError(ErrorCode.NotLeader, `membership changes go to the leader${this.state.leaderId ? ` (${this.state.leaderId})` : ''}`);
    }
    const r = step(this.state, { type: 'propose', data: { kind: 'config', change } });
    if (!r.output.proposal?.accepted) throw new CodedError(ErrorCode.Rejected, r.output.proposal?.reason ?? 'refused');
    this.state = r.state;
    const out = emptyOutput();
    this.absorb(r.output, out);
    return { result, events: out.events, output: out };
  }

  membership() {
    return membership(this.state);
  }
}
