/**
 * Raft behind the ConsensusCore interface: the pure Raft state machine (raft/) plus the bookkeeping that maps
 * its log onto blocks (which heights are logged, which are final), snapshots and compaction, and the catch-up
 * from a peer's blocks after an installed snapshot (block-sync.ts). Still pure: no I/O, no clock.
 *
 * Two kinds of snapshot, on purpose: the log in memory is compacted well behind the commit index (followers a
 * little behind still get entries, executors catching up still get blocks from memory), while the restart
 * point (SnapshotTaken) is written at the commit index itself, so a restart reads only uncommitted entries
 * besides what came after it.
 */
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { blockOf, LoggedBlock } from './block-data.js';
import { acceptSynced, SyncedBlocks } from './block-sync.js';
import { emptyOutput, type CommandResult, type CommandableCore, type CoreEvent, type CoreInput, type CoreOutput, type CoreStatus, type FinalBlock } from './core.js';
import { compact, createRaft, membership, snapshotAt, step, type ConfigChange } from './raft/index.js';
import { entryAt, sliceLog } from './raft/log.js';
import { Entry, RaftMessage } from './raft/messages.js';
import type { RaftOutput, RaftState, Snapshot } from './raft/types.js';
import { foldRaftEvents, gapAfterInstall, RAFT_STREAM, RaftEvents, RaftSnapshotData, snapshotData, type Gap, type SyncedBlock } from './raft-events.js';

export { foldRaftEvents, RAFT_STREAM, RaftEvents };

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
  /** Committed entries between restart points (SnapshotTaken); default SNAPSHOT_EVERY. */
  snapshotEvery?: number;
  /** Committed entries kept in memory behind the commit index; default KEEP_ENTRIES. */
  keepEntries?: number;
}

/** How many proposed-but-uncommitted blocks the leader allows before it waits. */
const MAX_INFLIGHT_BLOCKS = 1;
/** An AppendEntries carries at most this many entries, so a message stays under the broker's max_payload. */
const MAX_ENTRIES_PER_APPEND = 4;
/** A restart reads at most about this many committed entries' events (etcd snapshots every 10,000 by default). */
export const SNAPSHOT_EVERY = 1000;
/** Committed entries kept in memory for slow followers and executors (etcd keeps 5,000): blocks are large. */
export const KEEP_ENTRIES = 1000;
/** Ticks before a fetch of missing blocks is asked again (of another peer, maybe). */
const FETCH_RETRY_TICKS = 10;

export class RaftCore implements CommandableCore {
  readonly stream = RAFT_STREAM;
  /** Final blocks compacted out of memory are read from the stream (raft-archive.ts). */
  readonly archived = true;
  private state: RaftState;
  /** Raft index → logged entry, not yet committed. */
  private readonly uncommitted = new Map<number, Entry>();
  /** Height → Raft index of blocks still in the in-memory log (trimmed as it is compacted). */
  private readonly heightToIndex = new Map<number, number>();
  private lowestMappedHeight = 1;
  /** Blocks fetched from peers, while the log still reaches them. */
  private readonly synced = new Map<number, FinalBlock>();
  private lastLoggedHeight = 0;
  /** The last final block handed to the shell (below an open gap: the last one before it). */
  private committedHeight = 0;
  private committedTimestamp: number;
  private commitIndex = 0;
  private persistedCommitIndex: number;
  private latestTimestamp: number;
  /** Commit index of the latest restart point. */
  private lastSnapshotIndex: number;
  private gap: Gap | null;
  /** Final blocks after an open gap: handed out once the gap is filled. */
  private held: FinalBlock[] = [];
  private ticksSinceFetch = FETCH_RETRY_TICKS;
  private fetchRound = 0;
  private readonly restoredFinal: LoggedBlock[] = [];
  private permitted: Set<string>;
  private readonly snapshotEvery: number;
  private readonly keepEntries: number;

  constructor(
    private readonly config: RaftCoreConfig,
    stored: readonly CoreEvent[],
    genesisTimestamp: number,
  ) {
    this.permitted = new Set(config.permitted);
    this.snapshotEvery = config.snapshotEvery ?? SNAPSHOT_EVERY;
    this.keepEntries = config.keepEntries ?? KEEP_ENTRIES;
    const folded = foldRaftEvents(stored);
    this.latestTimestamp = Math.max(genesisTimestamp, folded.base?.timestamp ?? 0);
    this.committedTimestamp = this.latestTimestamp;
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
      folded,
    );
    const offset = this.state.log.offset;
    this.gap = folded.gap;
    this.committedHeight = this.gap ? this.gap.fromHeight - 1 : (folded.base?.finalHeight ?? 0);
    this.lastLoggedHeight = folded.base?.finalHeight ?? 0;
    this.lowestMappedHeight = this.lastLoggedHeight + 1;
    this.commitIndex = offset;
    this.lastSnapshotIndex = offset;
    for (const b of folded.synced) {
      const final = this.onSynced(b);
      this.restoredFinal.push(final.block);
    }
    for (const entry of folded.entries) this.onLogged(entry);
    for (const entry of sliceLog(this.state.log, offset + 1, folded.commitIndex ?? 0)) {
      const final = this.onCommitted(entry);
      if (final && this.gap) this.held.push(final);
      else if (final) this.restoredFinal.push(final.block);
    }
    this.persistedCommitIndex = this.state.commitIndex;
  }

  /** Blocks final before the restart (the shell rebuilds its pool's view of used nonces from them). */
  restored(): { final: LoggedBlock[]; inFlight: LoggedBlock[] } {
    const inFlight = [...this.uncommitted.values()].map(blockOf).filter((b): b is LoggedBlock => b !== null);
    // Final blocks waiting behind a gap are not applied yet: as far as the pool knows, they are in flight.
    inFlight.push(...this.held.map((f) => f.block));
    return { final: this.restoredFinal.splice(0), inFlight };
  }

  step(input: CoreInput): CoreOutput {
    const out = emptyOutput();
    let raftInput: Parameters<typeof step>[1];
    switch (input.type) {
      case 'tick':
        raftInput = { type: 'tick' };
        this.askForBlocks(out);
        break;
      case 'propose':
        if (this.proposalHeight() !== input.block.height) return out;
        raftInput = { type: 'propose', data: { kind: 'block', block: input.block } };
        break;
      case 'message': {
        if ((input.message as { type?: unknown } | null)?.type === 'Blocks') {
          this.receiveBlocks(input.from, input.message, out);
          return out;
        }
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
    this.compactMemory();
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
    if (m.type === 'InstallSnapshot' && !RaftSnapshotData.safeParse(m.snapshot.data).success) return 'malformed snapshot data';
    return m;
  }

  private absorb(o: RaftOutput, out: CoreOutput): void {
    const events: CoreEvent[] = [];
    if (o.persist.hardState) events.push({ type: 'HardStateChanged', payload: o.persist.hardState });
    if (o.persist.snapshot) {
      events.push({ type: 'SnapshotInstalled', payload: { snapshot: o.persist.snapshot, deliveredHeight: this.committedHeight } });
      out.discarded.push(...this.onInstalled(o.persist.snapshot));
    }
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
      if (final && this.gap) this.held.push(final);
      else if (final) out.committed.push(final);
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
    this.lastLoggedHeight = Math.max(this.committedHeight, this.gap?.toHeight ?? 0, this.held.at(-1)?.block.height ?? 0);
    for (const entry of this.uncommitted.values()) {
      const b = blockOf(entry);
      if (b) this.lastLoggedHeight = Math.max(this.lastLoggedHeight, b.height);
    }
    return removed;
  }

  /** A leader's snapshot replaced our log: what we logged past our commit index goes; the gap opens. */
  private onInstalled(snapshot: Snapshot): LoggedBlock[] {
    const removed = this.onTruncated(0);
    const data = snapshotData(snapshot);
    for (const [height, index] of this.heightToIndex) if (index <= snapshot.index) this.heightToIndex.delete(height);
    this.gap = gapAfterInstall(snapshot, this.committedHeight);
    this.commitIndex = snapshot.index;
    this.lastLoggedHeight = Math.max(this.lastLoggedHeight, data.finalHeight);
    this.lowestMappedHeight = Math.max(this.lowestMappedHeight, data.finalHeight + 1);
    this.latestTimestamp = Math.max(this.latestTimestamp, data.timestamp);
    this.ticksSinceFetch = FETCH_RETRY_TICKS;
    return removed;
  }

  private onCommitted(entry: Entry): FinalBlock | null {
    this.uncommitted.delete(entry.index);
    this.commitIndex = Math.max(this.commitIndex, entry.index);
    const block = blockOf(entry);
    if (!block) return null;
    if (!this.gap) {
      this.committedHeight = block.height;
      this.committedTimestamp = block.timestamp;
    }
    return { block, extraData: '0x', position: { term: entry.term, index: entry.index } };
  }

  private onSynced(b: SyncedBlock): FinalBlock {
    const final: FinalBlock = { block: b.block, extraData: '0x', position: { term: b.term, index: b.index } };
    this.synced.set(b.block.height, final);
    this.committedHeight = b.block.height;
    this.committedTimestamp = b.block.timestamp;
    return final;
  }

  // ---- catch-up from a peer's blocks

  /** On ticks while a gap is open: ask the leader (or, in turn, another member) for the blocks we lack. */
  private askForBlocks(out: CoreOutput): void {
    if (!this.gap || ++this.ticksSinceFetch < FETCH_RETRY_TICKS) return;
    this.ticksSinceFetch = 0;
    const m = membership(this.state);
    const others = [...m.voters, ...m.learners].filter((p) => p !== this.config.self);
    const leader = this.state.leaderId;
    // Mostly the leader (it holds the newest blocks); every third ask another member, in case it cannot answer.
    const to = leader && leader !== this.config.self && this.fetchRound++ % 3 !== 2 ? leader : others[this.fetchRound++ % Math.max(others.length, 1)];
    if (!to) return;
    out.messages.push({ to, message: { type: 'FetchBlocks', from: this.config.self, to, fromHeight: this.gap.fromHeight, toHeight: this.gap.toHeight } });
  }

  private receiveBlocks(from: string, raw: unknown, out: CoreOutput): void {
    const parsed = SyncedBlocks.safeParse(raw);
    if (!parsed.success) return void out.refused.push({ from, reason: 'malformed blocks reply' });
    if (parsed.data.from !== from) return void out.refused.push({ from, reason: `${from} sent blocks claiming to be from ${parsed.data.from}` });
    if (!this.gap) return; // a late or duplicate reply
    const usable = acceptSynced(this.gap, parsed.data.blocks);
    if (typeof usable === 'string') return void out.refused.push({ from, reason: usable });
    if (usable.length === 0) return;
    out.events.push({ type: 'BlocksSynced', payload: { blocks: usable } });
    for (const b of usable) out.committed.push(this.onSynced(b));
    const next = this.committedHeight + 1;
    this.ticksSinceFetch = FETCH_RETRY_TICKS; // ask for the rest at the next tick
    if (next <= this.gap.toHeight) {
      this.gap = { ...this.gap, fromHeight: next };
      return;
    }
    this.gap = null;
    for (const f of this.held.splice(0)) {
      this.committedHeight = f.block.height;
      this.committedTimestamp = f.block.timestamp;
      out.committed.push(f);
    }
  }

  // ---- snapshots and compaction

  /** Compacts the in-memory log well behind the commit index (never while a gap is open). */
  private compactMemory(): void {
    const s = this.state;
    if (this.gap || s.commitIndex - s.log.offset < 2 * this.keepEntries) return;
    const at = s.commitIndex - this.keepEntries;
    this.state = compact(s, at, this.dataAt(at));
    for (let h = this.lowestMappedHeight; ; h++) {
      const index = this.heightToIndex.get(h);
      if (index === undefined || index > at) break;
      this.heightToIndex.delete(h);
      this.lowestMappedHeight = h + 1;
    }
    for (const [h, f] of this.synced) if (f.position.index <= at) this.synced.delete(h);
  }

  /** The last final block at or before a committed index, from the log or the previous snapshot. */
  private dataAt(index: number): RaftSnapshotData {
    const s = this.state;
    for (let i = index; i > s.log.offset; i--) {
      const b = blockOf(entryAt(s.log, i)!);
      if (b) return { finalHeight: b.height, timestamp: b.timestamp };
    }
    for (let h = this.committedHeight; h > 0 && this.synced.has(h); h--) {
      const f = this.synced.get(h)!;
      if (f.position.index <= index) return { finalHeight: h, timestamp: f.block.timestamp };
    }
    return s.snapshot ? snapshotData(s.snapshot) : { finalHeight: 0, timestamp: 0 };
  }

  /** A restart point is due (the shell then stores `takeSnapshot`, after applying what is final). */
  snapshotDue(): boolean {
    return !this.gap && this.state.commitIndex - this.lastSnapshotIndex >= this.snapshotEvery;
  }

  /**
   * The restart point at the commit index, with the shell's own summary `app` (which must describe the state
   * after applying every final block so far). The event is all a restart reads besides what follows it.
   */
  takeSnapshot(app: unknown): CoreEvent {
    const s = this.state;
    if (this.gap) throw new CodedError(ErrorCode.Internal, 'no snapshot while final blocks are missing');
    const data: RaftSnapshotData = { finalHeight: this.committedHeight, timestamp: this.committedTimestamp };
    const snapshot = snapshotAt(s, s.commitIndex, data);
    this.lastSnapshotIndex = s.commitIndex;
    const entries = sliceLog(s.log, s.commitIndex + 1, s.log.offset + s.log.length);
    return { type: 'SnapshotTaken', payload: { snapshot, hardState: { term: s.term, votedFor: s.votedFor }, commitIndex: s.commitIndex, entries, app } };
  }

  // ---- queries

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

  /** Final blocks still in memory; older ones the shell reads from its event store (raft-archive.ts). */
  finalBlock(height: number): FinalBlock | undefined {
    if (height > this.committedHeight) return undefined;
    const synced = this.synced.get(height);
    if (synced) return synced;
    const index = this.heightToIndex.get(height);
    const entry = index === undefined ? undefined : entryAt(this.state.log, index);
    const block = entry && blockOf(entry);
    return entry && block ? { block, extraData: '0x', position: { term: entry.term, index: entry.index } } : undefined;
  }

  /** Final heights [from, to] this node still has to fetch from a peer, or null. */
  missingBlocks(): { fromHeight: number; toHeight: number } | null {
    return this.gap && { fromHeight: this.gap.fromHeight, toHeight: this.gap.toHeight };
  }

  /** The first index the in-memory log still holds (entries before it were compacted). */
  firstLogIndex(): number {
    return this.state.log.offset + 1;
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
