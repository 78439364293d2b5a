/**
 * The consensus decisions a participant recorded, as committed blocks for replay, and the evidence that each
 * executed block was decided:
 *
 *  - Raft (stream consensus-raft): the log is the fold of EntriesAppended / EntriesTruncated; CommitAdvanced
 *    records the commit index. Every executed block must be the block entry at the term and index its
 *    BlockExecuted names, at or below the recorded commit index (Raft stores its commit index only along with
 *    its next append, so the last blocks may be committed after the last CommitAdvanced: counted, noted).
 *  - QBFT (stream consensus-qbft): BlockFinalized per height. The digest is recomputed from the proposal and
 *    its parent's digest; each header's extraData decodes and names that digest; block H+1's parent seals are
 *    a quorum of H's validators over H's digest (verifyParentSeals); the votes in final blocks change the
 *    validator set as the core does (applyVote); the last block's own seals are checked from BlockFinalized.
 */
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import { LoggedBlock } from '../../actors/consensus/block-data.js';
import { RaftEvents, RAFT_STREAM } from '../../actors/consensus/raft-core.js';
import { toCommittedBlock } from '../../actors/consensus/shell.js';
import { QbftEvents } from '../../actors/consensus/qbft/events.js';
import { decodeExtraData, verifyParentSeals, verifySeals } from '../../actors/consensus/qbft/extra-data.js';
import { GENESIS_DIGEST, proposalDigest } from '../../actors/consensus/qbft/digest.js';
import { toFinalBlock } from '../../actors/consensus/qbft/finalize.js';
import { secp256k1Crypto } from '../../actors/consensus/qbft/crypto.js';
import { applyVote } from '../../actors/consensus/qbft/votes.js';
import { validatorsAt } from '../../actors/consensus/qbft/validators.js';
import { QBFT_STREAM } from '../../actors/consensus/qbft/index.js';
import type { QbftState } from '../../actors/consensus/qbft/types.js';
import type { Proposal } from '../../actors/consensus/qbft/messages.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import type { EventLine } from './format.js';
import type { Divergence } from './report.js';

const at = (e: EventLine): Pick<Divergence, 'globalPosition' | 'chain' | 'chainPosition' | 'stream' | 'streamPosition' | 'eventType'> => ({
  globalPosition: e.globalPosition,
  chain: e.chain,
  chainPosition: e.chainPosition,
  stream: e.stream,
  streamPosition: e.streamPosition,
  eventType: e.type,
});

function decode<T>(e: EventLine, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } } }): T | Divergence {
  const r = schema.safeParse(e.payload);
  if (!r.success) return { phase: 'consensus', message: `event ${e.type} does not match its schema: ${r.error.message.slice(0, 300)}`, ...at(e) };
  return r.data;
}
const isDivergence = (v: unknown): v is Divergence => typeof v === 'object' && v !== null && 'phase' in v && 'message' in v;

/** A decided block: what the executor is fed, and the event that records the decision. */
export interface Decision {
  committed: CommittedBlock;
  event: EventLine;
}

/** What the executor recorded about a block's origin (BlockExecuted's raftTerm / raftIndex). */
export interface ExecutedSource {
  raftTerm: number;
  raftIndex: number;
}

export interface ConsensusEvidence {
  kind: 'raft' | 'qbft';
  /** height → decision */
  decisions: Map<number, Decision>;
  /** The evidence check of block `height`, called in height order after the block is executed (null: fine). */
  check(height: number, source: ExecutedSource, headerExtraData: string): Divergence | null;
  /** Called once every executed block was checked. */
  finish(lastHeight: number): Divergence | null;
  notes: string[];
}

// ---- Raft ---------------------------------------------------------------------------------------------

interface LoggedEntry {
  term: number;
  index: number;
  block: LoggedBlock | null;
  event: EventLine;
}

function raftEvidence(events: readonly EventLine[]): ConsensusEvidence | Divergence {
  /** The log by index; entries before an installed snapshot were never in this participant's log. */
  const log = new Map<number, LoggedEntry>();
  let lastIndex = 0;
  let commitIndex = 0;
  let commitEvent: EventLine | undefined;
  let synced = 0;
  for (const e of events) {
    if (e.stream !== RAFT_STREAM) continue;
    switch (e.type) {
      case 'HardStateChanged':
      // A restart point repeats what the events before it already say (consensus/raft-events.ts).
      case 'SnapshotTaken':
        break;
      case 'EntriesTruncated': {
        const p = decode(e, RaftEvents.EntriesTruncated);
        if (isDivergence(p)) return p;
        if (p.fromIndex <= commitIndex) return { phase: 'consensus', message: `raft log truncated from index ${p.fromIndex}, below the recorded commit index ${commitIndex}`, ...at(e) };
        for (let i = p.fromIndex; i <= lastIndex; i++) log.delete(i);
        lastIndex = Math.min(lastIndex, p.fromIndex - 1);
        break;
      }
      case 'EntriesAppended': {
        const p = decode(e, RaftEvents.EntriesAppended);
        if (isDivergence(p)) return p;
        for (const entry of p.entries) {
          if (entry.index !== lastIndex + 1) return { phase: 'consensus', message: `raft entry at index ${entry.index} appended after index ${lastIndex} (a gap in the log)`, ...at(e) };
          let block: LoggedBlock | null = null;
          if (entry.data.kind === 'block') {
            const b = LoggedBlock.safeParse(entry.data.block);
            if (!b.success) return { phase: 'consensus', message: `raft entry ${entry.index} carries a malformed block`, ...at(e) };
            block = b.data;
          }
          log.set(entry.index, { term: entry.term, index: entry.index, block, event: e });
          lastIndex = entry.index;
        }
        break;
      }
      case 'CommitAdvanced': {
        const p = decode(e, RaftEvents.CommitAdvanced);
        if (isDivergence(p)) return p;
        if (p.commitIndex > commitIndex) {
          commitIndex = p.commitIndex;
          commitEvent = e;
        }
        break;
      }
      case 'SnapshotInstalled': {
        // The leader's snapshot replaced our log up to its index: our committed entries are part of it (Raft's
        // safety), what we had beyond our commit index is gone; the blocks we lacked come as BlocksSynced.
        const p = decode(e, RaftEvents.SnapshotInstalled);
        if (isDivergence(p)) return p;
        if (p.snapshot.index < commitIndex) return { phase: 'consensus', message: `a snapshot at index ${p.snapshot.index} installed below the recorded commit index ${commitIndex}`, ...at(e) };
        for (let i = commitIndex + 1; i <= lastIndex; i++) log.delete(i);
        lastIndex = p.snapshot.index;
        commitIndex = p.snapshot.index;
        commitEvent = e;
        break;
      }
      case 'BlocksSynced': {
        const p = decode(e, RaftEvents.BlocksSynced);
        if (isDivergence(p)) return p;
        for (const b of p.blocks) {
          if (b.index > commitIndex) return { phase: 'consensus', message: `block ${b.block.height} synced from a peer at raft index ${b.index}, above the installed snapshot (${commitIndex})`, ...at(e) };
          if (!log.has(b.index)) {
            log.set(b.index, { term: b.term, index: b.index, block: b.block, event: e });
            synced += 1;
          }
        }
        break;
      }
      default:
        return { phase: 'consensus', message: `unknown raft event type ${e.type}`, ...at(e) };
    }
  }
  if (commitIndex > lastIndex) {
    return { phase: 'consensus', message: `recorded commit index ${commitIndex} is beyond the log's last index ${lastIndex}`, ...(commitEvent ? at(commitEvent) : {}) };
  }
  const decisions = new Map<number, Decision>();
  const entryOfHeight = new Map<number, LoggedEntry>();
  for (const entry of [...log.values()].sort((a, b) => a.index - b.index)) {
    if (!entry.block) continue;
    const prev = entryOfHeight.get(entry.block.height);
    if (prev) return { phase: 'consensus', message: `block ${entry.block.height} is in the raft log twice (indexes ${prev.index} and ${entry.index})`, ...at(entry.event) };
    entryOfHeight.set(entry.block.height, entry);
    decisions.set(entry.block.height, {
      committed: toCommittedBlock({ block: entry.block, extraData: '0x', position: { term: entry.term, index: entry.index } }),
      event: entry.event,
    });
  }
  let afterCommit = 0;
  const notes: string[] = [];
  if (synced > 0) notes.push(`${synced} block(s) were not replicated into this participant's raft log but fetched from a peer after it installed a leader's snapshot (BlocksSynced): their evidence is the peer's final blocks`);
  return {
    kind: 'raft',
    decisions,
    notes,
    check(height, source) {
      const entry = entryOfHeight.get(height);
      if (!entry) return { phase: 'consensus', message: `block ${height} was executed but no raft entry holds it`, block: height };
      if (entry.term !== source.raftTerm || entry.index !== source.raftIndex) {
        return {
          phase: 'consensus',
          message: `block ${height}: the executor recorded raft term/index ${source.raftTerm}/${source.raftIndex}, the log holds it at ${entry.term}/${entry.index}`,
          block: height,
          field: 'raftTerm/raftIndex',
          recorded: `${source.raftTerm}/${source.raftIndex}`,
          replayed: `${entry.term}/${entry.index}`,
          ...at(entry.event),
        };
      }
      if (entry.index > commitIndex) afterCommit += 1;
      return null;
    },
    finish() {
      if (afterCommit > 0) {
        notes.push(
          `${afterCommit} executed block(s) sit above the last recorded raft commit index ${commitIndex}: Raft stores its commit index only with its next append, so the executor's BlockExecuted is their commit evidence`,
        );
      }
      return null;
    },
  };
}

// ---- QBFT ---------------------------------------------------------------------------------------------

interface Finalized {
  proposal: Proposal;
  round: number;
  digest: string;
  seals: string[];
  event: EventLine;
}

/** Only recover() is used; the key is any valid one. */
const recover = secp256k1Crypto('0x' + '00'.repeat(31) + '01').recover;

function qbftEvidence(events: readonly EventLine[], network: NetworkDescription): ConsensusEvidence | Divergence {
  if (network.consensus.type !== 'qbft') throw new Error('not a QBFT network');
  const finals = new Map<number, Finalized>();
  for (const e of events) {
    if (e.stream !== QBFT_STREAM || e.type !== 'BlockFinalized') continue;
    const p = decode(e, QbftEvents.BlockFinalized);
    if (isDivergence(p)) return p;
    const h = p.proposal.block.height;
    if (finals.has(h)) return { phase: 'consensus', message: `block ${h} was finalized twice`, block: h, ...at(e) };
    finals.set(h, { ...p, event: e });
  }
  const decisions = new Map<number, Decision>();
  for (const [h, f] of finals) decisions.set(h, { committed: toCommittedBlock(toFinalBlock(f.proposal, f.digest)), event: f.event });

  const genesis = [...new Set(network.consensus.validators.map((a) => a.toLowerCase()))].sort();
  const addressById = new Map(network.participants.map((p) => [p.id, p.nodeAddress.toLowerCase()]));
  const idByAddress = new Map([...addressById].map(([id, a]) => [a, id]));
  // applyVote and validatorsAt read only these fields of the core's state.
  const state = { epochs: [{ fromHeight: 1, validators: genesis }], votes: [], snapshots: new Map(), addressById, idByAddress } as unknown as QbftState;
  let parentDigest = GENESIS_DIGEST;
  let parentExtra: string | null = null;
  const notes: string[] = [];
  return {
    kind: 'qbft',
    decisions,
    notes,
    check(height, source, extraData) {
      const f = finals.get(height);
      if (!f) return { phase: 'consensus', message: `block ${height} was executed but no BlockFinalized records its decision`, block: height };
      const where = { block: height, ...at(f.event) };
      if (source.raftIndex !== height || source.raftTerm !== f.proposal.round) {
        return { phase: 'consensus', message: `block ${height}: the executor recorded round/height ${source.raftTerm}/${source.raftIndex}, the decision is ${f.proposal.round}/${height}`, ...where };
      }
      const digest = proposalDigest(f.proposal, parentDigest);
      if (digest !== f.digest) return { phase: 'consensus', message: `block ${height}: the proposal does not hash to the finalized digest`, field: 'digest', recorded: f.digest, replayed: digest, ...where };
      let decoded;
      try {
        decoded = decodeExtraData(extraData);
      } catch (err) {
        return { phase: 'consensus', message: `block ${height}: header extraData does not decode: ${(err as Error).message}`, field: 'extraData', recorded: extraData, ...where };
      }
      if (decoded.digest !== f.digest) return { phase: 'consensus', message: `block ${height}: header extraData names another digest`, field: 'extraData.digest', recorded: decoded.digest, replayed: f.digest, ...where };
      if (parentExtra !== null) {
        const why = verifyParentSeals(parentExtra, extraData, validatorsAt(state, height - 1), recover);
        if (why) return { phase: 'consensus', message: `block ${height}: the commit seals of block ${height - 1} it carries are not a quorum: ${why}`, field: 'extraData.parentSeals', ...where };
      }
      applyVote(state, height, f.proposal);
      parentDigest = f.digest;
      parentExtra = extraData;
      return null;
    },
    finish(last) {
      const f = finals.get(last);
      if (!f || last === 0) return null;
      const why = verifySeals(f.digest, f.proposal.round, f.seals, validatorsAt(state, last), recover);
      if (why) return { phase: 'consensus', message: `block ${last} (the last): its recorded commit seals are not a quorum: ${why}`, block: last, ...at(f.event) };
      const epochs = (state as unknown as { epochs: { fromHeight: number; validators: string[] }[] }).epochs;
      if (epochs.length > 1) notes.push(`validator set changed ${epochs.length - 1} time(s) by votes; now ${epochs[epochs.length - 1].validators.length} validators`);
      return null;
    },
  };
}

export function consensusEvidence(events: readonly EventLine[], network: NetworkDescription): ConsensusEvidence | Divergence {
  return network.consensus.type === 'raft' ? raftEvidence(events) : qbftEvidence(events, network);
}
export { isDivergence };
