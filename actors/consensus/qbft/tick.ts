/**
 * Time. Each tick: the round times out at its deadline (round change); while a round makes no progress our own
 * messages of the round are sent again every requestTimeoutTicks (the network may drop them); and a node that
 * finalised nothing for a while asks a peer for blocks.
 */
import type { CoreOutput } from '../core.js';
import { onRoundTimeout } from './round-change.js';
import { broadcast } from './state.js';
import { syncIfStuck } from './sync.js';
import type { QbftState } from './types.js';

export function onTick(state: QbftState, out: CoreOutput): void {
  state.now += 1;
  if (state.now >= state.roundDeadline) {
    onRoundTimeout(state, out);
  } else if (state.now >= state.nextRebroadcast) {
    state.nextRebroadcast = state.now + state.timeoutTicks;
    const { proposal, prepare, commit, roundChange } = state.own;
    for (const message of [roundChange, proposal, prepare, commit]) if (message !== undefined) broadcast(state, out, message);
  }
  syncIfStuck(state, out);
}
