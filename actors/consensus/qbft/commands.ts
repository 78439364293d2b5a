/**
 * The istanbul_* JSON-RPC methods (GoQuorum's names and shapes). Block numbers are numbers, hex quantities or
 * 'latest' / 'earliest' / 'pending'; a snapshot at block n is the state after block n (its validators decide
 * block n + 1; at 0, the genesis validators).
 */
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { CommandResult } from '../core.js';
import { qbftEvent } from './events.js';
import type { QbftState } from './types.js';
import { tallyOf } from './votes.js';
import { validatorsAt } from './validators.js';

function invalid(message: string): never {
  throw new CodedError(ErrorCode.InvalidInput, message);
}

function addressParam(value: unknown): string {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) invalid('expected a 20-byte 0x-prefixed address');
  return value.toLowerCase();
}

function blockParam(state: QbftState, value: unknown): number {
  if (value === undefined || value === null || value === 'latest' || value === 'pending') return state.finalHeight;
  if (value === 'earliest') return 0;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/.test(value)) n = Number.parseInt(value, 16);
  else if (typeof value === 'string' && /^(0|[1-9][0-9]*)$/.test(value)) n = Number(value);
  else invalid(`bad block number ${JSON.stringify(value)}`);
  if (!Number.isSafeInteger(n) || n < 0) invalid(`bad block number ${JSON.stringify(value)}`);
  if (n > state.finalHeight) throw new CodedError(ErrorCode.NotFound, `block ${n} is not final yet (final: ${state.finalHeight})`);
  return n;
}

const none = (result: unknown): CommandResult => ({ result, events: [] });

export function runCommand(state: QbftState, method: string, params: readonly unknown[]): CommandResult {
  if (!Array.isArray(params)) invalid('params must be an array');
  switch (method) {
    case 'istanbul_propose': {
      const address = addressParam(params[0]);
      if (typeof params[1] !== 'boolean') invalid('expected a boolean (authorize)');
      state.candidates.set(address, params[1]);
      return { result: null, events: [qbftEvent('VoteCandidateSet', { address, authorize: params[1] })] };
    }
    case 'istanbul_discard': {
      const address = addressParam(params[0]);
      if (!state.candidates.delete(address)) return none(null);
      return { result: null, events: [qbftEvent('VoteCandidateDiscarded', { address })] };
    }
    case 'istanbul_candidates':
      return none(Object.fromEntries(state.candidates));
    case 'istanbul_getValidators':
      return none(validatorsAt(state, blockParam(state, params[0]) + 1).slice());
    case 'istanbul_isValidator':
      return none(validatorsAt(state, blockParam(state, params[0]) + 1).includes(state.selfAddress));
    case 'istanbul_nodeAddress':
      return none(state.selfAddress);
    case 'istanbul_getSnapshot': {
      const n = blockParam(state, params[0]);
      const snapshot = state.snapshots.get(n);
      if (snapshot === undefined) throw new CodedError(ErrorCode.NotFound, `no snapshot kept for block ${n}`);
      return none({
        number: n,
        validators: snapshot.validators.slice(),
        votes: snapshot.votes.map((v) => ({ ...v })),
        tally: tallyOf(snapshot.votes),
      });
    }
    case 'istanbul_status': {
      const end = params[1] === undefined ? state.finalHeight : blockParam(state, params[1]);
      const start = params[0] === undefined ? Math.max(0, end - 64) : blockParam(state, params[0]);
      if (start > end) invalid(`start ${start} is after end ${end}`);
      const sealerActivity: Record<string, number> = {};
      for (const v of validatorsAt(state, end + 1)) sealerActivity[v] = 0;
      for (let h = Math.max(1, start); h <= end; h++) {
        const record = state.finals.get(h);
        if (record === undefined) continue;
        const proposer = state.addressById.get(record.proposal.block.proposer) ?? record.proposal.block.proposer;
        sealerActivity[proposer] = (sealerActivity[proposer] ?? 0) + 1;
      }
      return none({ numBlocks: end - start + 1, sealerActivity });
    }
    default:
      invalid(`unknown method ${method}`);
  }
}
