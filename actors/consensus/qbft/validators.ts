/**
 * Validator sets per height, quorum sizes and proposer selection.
 *
 * Proposer of (height, round): the validators of that height sorted by address, index (height + round) mod n.
 * Every height starts one further along the ring, and every failed round moves on by one more.
 */
import type { QbftState } from './types.js';

/** Commit / prepare / round-change quorum: ceil(2n/3) (2F+1 when n = 3F+1). */
export function quorum(n: number): number {
  return Math.ceil((2 * n) / 3);
}

/** The faults tolerated: F = floor((n-1)/3); F+1 round changes for a higher round make a node jump. */
export function faultyBound(n: number): number {
  return Math.floor((n - 1) / 3);
}

/** Validators that decide `height` (sorted lowercase addresses). */
export function validatorsAt(state: QbftState, height: number): string[] {
  const { epochs } = state;
  for (let i = epochs.length - 1; i >= 0; i--) if (epochs[i].fromHeight <= height) return epochs[i].validators;
  return epochs[0].validators;
}

export function isValidatorAt(state: QbftState, height: number, address: string): boolean {
  return validatorsAt(state, height).includes(address);
}

export function proposerAddress(state: QbftState, height: number, round: number): string {
  const validators = validatorsAt(state, height);
  return validators[(height + round) % validators.length];
}

/** A participant id for an address (the address itself when no participant has it). */
export function idOf(state: QbftState, address: string): string {
  return state.idByAddress.get(address) ?? address;
}

/** The address behind a participant id (or an address used as an id), or undefined. */
export function addressOf(state: QbftState, id: string): string | undefined {
  const known = state.addressById.get(id);
  if (known !== undefined) return known;
  return /^0x[0-9a-f]{40}$/.test(id) ? id : undefined;
}

export function proposerId(state: QbftState, height: number, round: number): string {
  return idOf(state, proposerAddress(state, height, round));
}

export function isProposer(state: QbftState, height: number, round: number): boolean {
  return proposerAddress(state, height, round) === state.selfAddress;
}

/** Participant ids to broadcast consensus messages to: everyone else, so non-validators follow the chain. */
export function broadcastTargets(state: QbftState): string[] {
  return [...state.addressById.keys()].filter((id) => id !== state.self);
}
