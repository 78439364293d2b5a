/** Checking a proposed value (the block and its parent seals) against our chain. */
import { fromHex, toHex } from '../../../lib/hex.js';
import { GENESIS_DIGEST, keccak, proposalDigest } from './digest.js';
import { verifySeals } from './extra-data.js';
import type { Proposal } from './messages.js';
import type { QbftState } from './types.js';
import { addressOf, proposerAddress, validatorsAt } from './validators.js';


export function parentDigestOf(state: QbftState, height: number): string {
  return height === 1 ? GENESIS_DIGEST : state.finals.get(height - 1)!.digest;
}

/**
 * The digest of a proposal for the current height, or a reason to refuse it. Checks the height, that the block's
 * proposer is the proposer of the proposal's (first) round, the timestamp against the parent's, that every
 * transaction hash is keccak256 of its bytes (the digest covers hashes only), and the parent seals.
 */
export function checkProposal(state: QbftState, proposal: Proposal): { digest: string } | { error: string } {
  const { block } = proposal;
  const height = state.height;
  if (block.height !== height) return { error: `block height ${block.height}, deciding ${height}` };
  const proposer = addressOf(state, block.proposer);
  if (proposer === undefined || proposer !== proposerAddress(state, height, proposal.round)) {
    return { error: `block proposer ${block.proposer} is not the proposer of round ${proposal.round}` };
  }
  if (block.timestamp < state.lastTimestamp) return { error: `timestamp ${block.timestamp} before the parent's ${state.lastTimestamp}` };
  for (const tx of block.transactions) {
    if (toHex(keccak(fromHex(tx.raw))) !== tx.hash.toLowerCase()) return { error: `transaction hash ${tx.hash} does not match its bytes` };
  }
  if (height === 1) {
    if (proposal.parentSeals.length !== 0) return { error: 'parent seals at height 1' };
  } else {
    const parent = state.finals.get(height - 1)!;
    const bad = verifySeals(parent.digest, parent.proposal.round, proposal.parentSeals, validatorsAt(state, height - 1), (d, s) => state.crypto.recover(d, s));
    if (bad !== null) return { error: `parent seals: ${bad}` };
  }
  return { digest: proposalDigest(proposal, parentDigestOf(state, height)) };
}
