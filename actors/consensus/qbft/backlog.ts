/**
 * Messages that arrived early: for a later height (up to BACKLOG_HEIGHTS ahead), or prepares of a later round.
 * Verified only when replayed (the validators of a future height are not known yet). Bounded overall and per
 * sender, oldest dropped first, so a Byzantine sender cannot crowd out the others.
 */
import type { CoreOutput } from '../core.js';
import type { RoundMessage } from './messages.js';
import { BACKLOG_LIMIT, type QbftState } from './types.js';
import { handleRoundMessage } from './step.js';

export function addToBacklog(state: QbftState, from: string, message: RoundMessage): void {
  const perSender = Math.max(32, Math.floor(BACKLOG_LIMIT / Math.max(1, state.addressById.size)));
  const mine = state.backlog.filter((b) => b.from === from);
  if (mine.length >= perSender) state.backlog.splice(state.backlog.indexOf(mine[0]), 1);
  if (state.backlog.length >= BACKLOG_LIMIT) state.backlog.shift();
  state.backlog.push({ from, message });
}

/** Re-dispatches everything in the backlog; what is still early goes back into it. */
export function replayBacklog(state: QbftState, out: CoreOutput): void {
  if (state.backlog.length === 0) return;
  const pending = state.backlog;
  state.backlog = [];
  for (const { from, message } of pending) {
    if (message.height < state.height) continue;
    handleRoundMessage(state, out, from, message);
  }
}
