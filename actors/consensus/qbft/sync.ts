/**
 * Catching up. A node behind (it missed a decision, restarted, or joined) asks a peer for final blocks from its
 * height; the peer answers with up to MAX_SYNC_BLOCKS blocks (and a bounded size), each the proposal and a
 * quorum of commit seals. The receiver checks each block as a proposal (parent seals included) and its seals
 * against the validators it knows for that height before finalising it. A peer that sees us sending messages of
 * a height it has finalised sends us the blocks unasked (at most once per timeout).
 */
import type { CoreOutput } from '../core.js';
import { verifySeals } from './extra-data.js';
import { MAX_SYNC_BLOCKS, type SyncRequest, type SyncResponse, type SyncedBlock } from './messages.js';
import { finalize } from './finalize.js';
import { refuse } from './state.js';
import type { QbftState } from './types.js';
import { checkProposal } from './validate.js';
import { idOf, validatorsAt } from './validators.js';

/** Bytes of transactions per response (hex characters), beyond the first block. */
const MAX_SYNC_TX_CHARS = 512 * 1024;

export function requestSync(state: QbftState, out: CoreOutput, to: string): void {
  const minGap = Math.max(2, Math.floor(state.timeoutTicks / 2));
  if (state.now - state.syncAskedAt < minGap) return;
  state.syncAskedAt = state.now;
  const message: SyncRequest = { type: 'SYNC-REQUEST', fromHeight: state.height };
  out.messages.push({ to, message });
}

/** Asks the next validator in turn, when no height was finalised for a while. */
export function syncIfStuck(state: QbftState, out: CoreOutput): void {
  const quiet = 2 * state.timeoutTicks;
  if (state.now - state.lastProgress < quiet || state.now - state.syncAskedAt < quiet) return;
  const peers = validatorsAt(state, state.height)
    .map((a) => idOf(state, a))
    .filter((id) => id !== state.self && state.addressById.has(id));
  if (peers.length === 0) return;
  state.syncCursor = (state.syncCursor + 1) % peers.length;
  requestSync(state, out, peers[state.syncCursor]);
}

export function blocksFrom(state: QbftState, fromHeight: number): SyncedBlock[] {
  const blocks: SyncedBlock[] = [];
  let chars = 0;
  for (let h = fromHeight; h <= state.finalHeight && blocks.length < MAX_SYNC_BLOCKS; h++) {
    const record = state.finals.get(h);
    if (record === undefined) break;
    chars += record.proposal.block.transactions.reduce((n, t) => n + t.raw.length, 0);
    if (blocks.length > 0 && chars > MAX_SYNC_TX_CHARS) break;
    blocks.push({ proposal: record.proposal, seals: record.seals });
  }
  return blocks;
}

export function handleSyncRequest(state: QbftState, out: CoreOutput, from: string, request: SyncRequest): void {
  if (request.fromHeight > state.finalHeight) return;
  const blocks = blocksFrom(state, request.fromHeight);
  if (blocks.length > 0) out.messages.push({ to: from, message: { type: 'SYNC-RESPONSE', blocks } satisfies SyncResponse });
}

/** A peer sent a message of a height we have finalised: send it the blocks it misses (rate limited). */
export function helpPeerBehind(state: QbftState, out: CoreOutput, from: string, height: number): void {
  if (!state.addressById.has(from) || from === state.self) return;
  if (state.now - (state.helpedAt.get(from) ?? -Infinity) < state.timeoutTicks) return;
  state.helpedAt.set(from, state.now);
  handleSyncRequest(state, out, from, { type: 'SYNC-REQUEST', fromHeight: height });
}

export function handleSyncResponse(state: QbftState, out: CoreOutput, from: string, response: SyncResponse): void {
  for (const { proposal, seals } of response.blocks) {
    const height = proposal.block.height;
    if (height < state.height) continue;
    if (height > state.height) return;
    const checked = checkProposal(state, proposal);
    if ('error' in checked) return refuse(out, from, `synced block ${height}: ${checked.error}`);
    const bad = verifySeals(checked.digest, proposal.round, seals, validatorsAt(state, height), (d, s) => state.crypto.recover(d, s));
    if (bad !== null) return refuse(out, from, `synced block ${height}: ${bad}`);
    finalize(state, out, proposal, checked.digest, proposal.round, seals.slice());
  }
}
