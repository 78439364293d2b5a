/** A decision: record the final block, fold its vote, emit it once, and move on to the next height. */
import type { CoreOutput, FinalBlock } from '../core.js';
import { qbftEvent } from './events.js';
import { encodeExtraData } from './extra-data.js';
import type { Proposal } from './messages.js';
import type { QbftState } from './types.js';
import { applyVote } from './votes.js';
import { startHeight } from './state.js';
import { replayBacklog } from './backlog.js';

export function toFinalBlock(proposal: Proposal, digest: string): FinalBlock {
  return {
    block: proposal.block,
    extraData: encodeExtraData({ digest, round: proposal.round, parentSeals: proposal.parentSeals, vote: proposal.vote ?? null }),
    position: { term: proposal.round, index: proposal.block.height },
  };
}

/** Records height finalHeight + 1 as final (no output: also used when restoring). */
export function recordFinal(state: QbftState, proposal: Proposal, digest: string, round: number, seals: string[]): FinalBlock {
  const height = proposal.block.height;
  const final = toFinalBlock(proposal, digest);
  state.finals.set(height, { proposal, digest, round, seals, final });
  state.finalHeight = height;
  state.lastTimestamp = Math.max(state.lastTimestamp, proposal.block.timestamp);
  applyVote(state, height, proposal);
  return final;
}

/** Finalises the current height (persist, emit) and starts the next one, replaying what waited for it. */
export function finalize(state: QbftState, out: CoreOutput, proposal: Proposal, digest: string, round: number, seals: string[]): void {
  out.events.push(qbftEvent('BlockFinalized', { proposal, round, digest, seals }));
  out.committed.push(recordFinal(state, proposal, digest, round, seals));
  state.lastProgress = state.now;
  startHeight(state);
  replayBacklog(state, out);
}
