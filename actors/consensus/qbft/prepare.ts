/**
 * PREPARE. A quorum of prepares for the accepted proposal of the current round makes this node prepared (its
 * lock: carried in every later round change at this height) and it sends a COMMIT with its commit seal.
 */
import type { CoreOutput } from '../core.js';
import { qbftEvent } from './events.js';
import type { Prepare } from './messages.js';
import { sendCommit } from './commit.js';
import type { QbftState } from './types.js';
import { quorum, validatorsAt } from './validators.js';

/** `signer` is verified (a validator of the height, the sender). Prepares of the current round only. */
export function handlePrepare(state: QbftState, out: CoreOutput, from: string, signer: string, prepare: Prepare): void {
  if (prepare.round !== state.round) return;
  let perRound = state.prepares.get(prepare.round);
  if (perRound === undefined) state.prepares.set(prepare.round, (perRound = new Map()));
  const known = perRound.get(signer);
  if (known !== undefined) {
    if (known.digest !== prepare.digest) out.refused.push({ from, reason: `second prepare in round ${prepare.round}` });
    return;
  }
  perRound.set(signer, prepare);
  checkPrepared(state, out, prepare.round);
}

export function checkPrepared(state: QbftState, out: CoreOutput, round: number): void {
  if (round !== state.round) return;
  if (state.prepared !== null && state.prepared.round >= round) return;
  const accepted = state.proposals.get(round);
  if (accepted === undefined) return;
  const matching = [...(state.prepares.get(round)?.values() ?? [])].filter((p) => p.digest === accepted.digest);
  const needed = quorum(validatorsAt(state, state.height).length);
  if (matching.length < needed) return;
  const prepares = matching.slice(0, needed);
  const proposal = accepted.message.proposal;
  state.prepared = { round, digest: accepted.digest, proposal, prepares };
  out.events.push(qbftEvent('Prepared', { height: state.height, round, digest: accepted.digest, proposal, prepares }));
  sendCommit(state, out, round, accepted.digest, proposal.round);
}
