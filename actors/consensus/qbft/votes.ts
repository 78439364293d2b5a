/**
 * The validator vote tally (IBFT style). A final block's proposal may carry one vote of its proposer to add or
 * remove an address. A vote counts only if it would change the set; each proposer's latest vote per address
 * replaces its earlier one. When the votes in one direction for an address exceed half of the validators of
 * that height, the change applies from the next height on, and the address's votes are dropped (and, on a
 * removal, the votes the removed validator had cast).
 */
import { SNAPSHOT_WINDOW, type QbftState, type TallyVote } from './types.js';
import type { Proposal, Vote } from './messages.js';
import { addressOf, validatorsAt } from './validators.js';

/** Folds the vote of the final block at `height` into the tally; may start a new validator epoch at height+1. */
export function applyVote(state: QbftState, height: number, proposal: Proposal): void {
  const validators = validatorsAt(state, height);
  const vote = proposal.vote;
  const voter = addressOf(state, proposal.block.proposer);
  let next = validators;
  if (vote !== undefined && voter !== undefined && validators.includes(voter)) {
    const isMember = validators.includes(vote.address);
    state.votes = state.votes.filter((v) => !(v.validator === voter && v.address === vote.address));
    if (vote.authorize !== isMember) {
      state.votes.push({ validator: voter, address: vote.address, block: height, authorize: vote.authorize });
      const inFavour = state.votes.filter((v) => v.address === vote.address && v.authorize === vote.authorize).length;
      if (inFavour > validators.length / 2) {
        next = vote.authorize
          ? [...validators, vote.address].sort()
          : validators.filter((v) => v !== vote.address);
        state.votes = state.votes.filter((v) => v.address !== vote.address && (vote.authorize || v.validator !== vote.address));
      }
    }
  }
  if (next !== validators && next.length > 0) state.epochs.push({ fromHeight: height + 1, validators: next });
  state.snapshots.set(height, { number: height, validators: validatorsAt(state, height + 1), votes: state.votes.slice() });
  state.snapshots.delete(height - SNAPSHOT_WINDOW);
}

/** Tally per address: { authorize, votes } as istanbul_getSnapshot shows it. */
export function tallyOf(votes: readonly TallyVote[]): Record<string, { authorize: boolean; votes: number }> {
  const tally: Record<string, { authorize: boolean; votes: number }> = {};
  for (const v of votes) {
    const entry = (tally[v.address] ??= { authorize: v.authorize, votes: 0 });
    entry.votes += 1;
  }
  return tally;
}

/** The vote we put in a proposal: a pending candidate whose outcome is not already the state (by address order). */
export function voteToCast(state: QbftState, height: number): Vote | undefined {
  const validators = validatorsAt(state, height);
  const pending = [...state.candidates.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [address, authorize] of pending) {
    if (authorize !== validators.includes(address)) return { address, authorize };
  }
  return undefined;
}
