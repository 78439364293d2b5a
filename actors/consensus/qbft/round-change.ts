/**
 * ROUND-CHANGE. When a round times out we move to the next one and broadcast a round change carrying our
 * prepared certificate. Round timeouts double each round (capped). F+1 round changes for later rounds prove an
 * honest node is there: we jump to the highest round F+1 of them have reached. A quorum of round changes for the
 * current round lets its proposer propose (pre-prepare.ts).
 */
import type { CoreOutput } from '../core.js';
import { qbftEvent } from './events.js';
import type { RoundChange } from './messages.js';
import { checkCertificate } from './justify.js';
import { reproposeIfJustified } from './pre-prepare.js';
import { replayBacklog } from './backlog.js';
import { broadcast, refuse, timeoutFor } from './state.js';
import { signRoundChange } from './signing.js';
import type { QbftState } from './types.js';
import { faultyBound, isValidatorAt, validatorsAt } from './validators.js';

/** Moves to a later round of the current height (persisted first: we never act in an earlier round again). */
export function enterRound(state: QbftState, out: CoreOutput, round: number, sendRoundChange: boolean): void {
  if (round <= state.round) return;
  state.round = round;
  state.roundDeadline = state.now + timeoutFor(state, round);
  state.nextRebroadcast = state.now + state.timeoutTicks;
  state.own = {};
  out.events.push(qbftEvent('RoundEntered', { height: state.height, round }));
  if (sendRoundChange && isValidatorAt(state, state.height, state.selfAddress)) {
    const rc = signRoundChange(state.crypto, state.height, round, state.prepared);
    state.own.roundChange = rc;
    state.roundChanges.set(state.selfAddress, rc);
    broadcast(state, out, rc);
  }
  replayBacklog(state, out);
  reproposeIfJustified(state, out);
}

export function onRoundTimeout(state: QbftState, out: CoreOutput): void {
  enterRound(state, out, state.round + 1, true);
}

/** `signer` is verified (a validator of the height, the sender). */
export function handleRoundChange(state: QbftState, out: CoreOutput, from: string, signer: string, rc: RoundChange): void {
  const known = state.roundChanges.get(signer);
  if (known !== undefined && known.round >= rc.round) return;
  if (rc.round < state.round) return;
  const bad = checkCertificate(state, rc);
  if (bad !== null) return refuse(out, from, `round change: ${bad}`);
  state.roundChanges.set(signer, rc);
  if (rc.prepared !== null) state.values.set(rc.prepared.digest, rc.certificate!.proposal);
  // F+1 validators are in later rounds: at least one honest node is; catch up with them.
  const ahead = [...state.roundChanges.values()].map((r) => r.round).filter((r) => r > state.round).sort((a, b) => b - a);
  const f1 = faultyBound(validatorsAt(state, state.height).length) + 1;
  if (ahead.length >= f1) enterRound(state, out, ahead[f1 - 1], true);
  if (rc.round === state.round) reproposeIfJustified(state, out);
}
