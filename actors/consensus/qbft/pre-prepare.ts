/**
 * PRE-PREPARE (the proposal). The proposer of (height, round) proposes: in round 0 a new block from the shell;
 * in a later round, once it holds a quorum of round changes for it, either the highest prepared block among them
 * (the core re-proposes it itself, unchanged) or a new block from the shell. Receivers check the signer, the
 * block, and the justification, accept one proposal per round, and answer with a PREPARE.
 */
import type { CoreOutput } from '../core.js';
import type { LoggedBlock } from '../block-data.js';
import { qbftEvent } from './events.js';
import type { Justification, Proposal, ProposalMessage } from './messages.js';
import { checkJustification, justificationFor } from './justify.js';
import { checkPrepared } from './prepare.js';
import { checkCommitted } from './commit.js';
import { enterRound } from './round-change.js';
import { broadcast, refuse, sentIn } from './state.js';
import { signPrepare, signProposal, signerOf } from './signing.js';
import type { QbftState } from './types.js';
import { checkProposal } from './validate.js';
import { addressOf, isProposer, isValidatorAt, proposerAddress } from './validators.js';
import { voteToCast } from './votes.js';

/** The height the shell may propose a block for now, or null (see ConsensusCore.proposalHeight). */
export function proposalHeight(state: QbftState): number | null {
  if (!isValidatorAt(state, state.height, state.selfAddress) || !isProposer(state, state.height, state.round)) return null;
  if (state.sent.get(state.round)?.proposal !== undefined || state.proposals.has(state.round)) return null;
  if (state.round === 0) return state.height;
  const justified = justificationFor(state, state.round);
  return justified !== null && justified.certificate === null ? state.height : null;
}

/** The shell's block for proposalHeight(). Refused (no effect) when we may not propose it now. */
export function proposeBlock(state: QbftState, out: CoreOutput, block: LoggedBlock): void {
  if (proposalHeight(state) !== state.height || block.height !== state.height) return;
  const proposer = addressOf(state, block.proposer);
  if (proposer !== state.selfAddress) return;
  const normalised: LoggedBlock = { ...block, proposer: state.self, timestamp: Math.max(block.timestamp, state.lastTimestamp) };
  const parent = state.finals.get(state.height - 1);
  const vote = voteToCast(state, state.height);
  const proposal: Proposal = {
    block: normalised,
    round: state.round,
    parentSeals: parent === undefined ? [] : parent.seals,
    ...(vote === undefined ? {} : { vote }),
  };
  const justification = state.round === 0 ? null : justificationFor(state, state.round)!.justification;
  sendProposal(state, out, proposal, justification);
}

/** In a round > 0 whose round changes justify a prepared block: re-propose it ourselves. */
export function reproposeIfJustified(state: QbftState, out: CoreOutput): void {
  if (state.round === 0 || !isProposer(state, state.height, state.round)) return;
  if (!isValidatorAt(state, state.height, state.selfAddress)) return;
  if (state.sent.get(state.round)?.proposal !== undefined || state.proposals.has(state.round)) return;
  const justified = justificationFor(state, state.round);
  if (justified === null || justified.certificate === null) return;
  sendProposal(state, out, justified.certificate.proposal, justified.justification);
}

function sendProposal(state: QbftState, out: CoreOutput, proposal: Proposal, justification: Justification | null): void {
  const checked = checkProposal(state, proposal);
  if ('error' in checked) return; // our own block is unfit (should not happen): let the round time out
  const sent = sentIn(state, state.round);
  if (sent.proposal !== undefined && sent.proposal !== checked.digest) return;
  sent.proposal = checked.digest;
  out.events.push(qbftEvent('MessageSigned', { height: state.height, round: state.round, kind: 'proposal', digest: checked.digest }));
  const message = signProposal(state.crypto, state.height, state.round, proposal, checked.digest, justification);
  state.own.proposal = message;
  broadcast(state, out, message);
  handleProposal(state, out, state.self, message);
}

export function handleProposal(state: QbftState, out: CoreOutput, from: string, message: ProposalMessage): void {
  const { round } = message;
  if (round < state.round) return;
  const checked = checkProposal(state, message.proposal);
  if ('error' in checked) return refuse(out, from, `proposal: ${checked.error}`);
  const { digest } = checked;
  const signer = signerOf(state.crypto, message, digest);
  if (signer === null || signer !== addressOf(state, from)) return refuse(out, from, 'proposal: bad signature');
  if (signer !== proposerAddress(state, state.height, round)) return refuse(out, from, `proposal: not the proposer of round ${round}`);
  const unjustified = checkJustification(state, round, digest, message.proposal.round, message.justification);
  if (unjustified !== null) return refuse(out, from, `proposal: ${unjustified}`);
  const known = state.proposals.get(round);
  if (known !== undefined) {
    if (known.digest !== digest) refuse(out, from, `proposal: a second proposal in round ${round}`);
    return;
  }
  // Before a restart we prepared another proposal in this round (its proposer equivocated): keep to that one.
  const prepared = state.sent.get(round)?.prepare;
  if (prepared !== undefined && prepared !== digest) return refuse(out, from, `proposal: we prepared another one in round ${round}`);
  // A justified proposal for a later round proves a quorum moved there: follow it.
  if (round > state.round) enterRound(state, out, round, false);
  state.proposals.set(round, { message, digest });
  state.values.set(digest, message.proposal);
  sendPrepare(state, out, round, digest);
  checkPrepared(state, out, round);
  checkCommitted(state, out, round);
}

function sendPrepare(state: QbftState, out: CoreOutput, round: number, digest: string): void {
  if (!isValidatorAt(state, state.height, state.selfAddress)) return;
  const sent = sentIn(state, round);
  if (sent.prepare !== undefined && sent.prepare !== digest) return; // signed another one before a restart
  if (sent.prepare === undefined) {
    sent.prepare = digest;
    out.events.push(qbftEvent('MessageSigned', { height: state.height, round, kind: 'prepare', digest }));
  }
  const prepare = signPrepare(state.crypto, state.height, round, digest);
  state.own.prepare = prepare;
  broadcast(state, out, prepare);
  // Our own prepare counts like anyone's.
  let perRound = state.prepares.get(round);
  if (perRound === undefined) state.prepares.set(round, (perRound = new Map()));
  perRound.set(state.selfAddress, prepare);
}
