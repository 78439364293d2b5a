/**
 * The QBFT core's public surface. `createQbftCore` folds the stored events and returns a CommandableCore: a
 * deterministic state machine (ticks, messages, the shell's proposals in; events, messages, final blocks out).
 */
import type { CommandableCore, CoreStatus, FinalBlock } from '../core.js';
import { runCommand } from './commands.js';
import { proposalHeight } from './pre-prepare.js';
import { restoreState } from './state.js';
import { step } from './step.js';
import type { QbftConfig, QbftState } from './types.js';
import { idOf, isProposer, isValidatorAt, proposerId, validatorsAt } from './validators.js';

export const QBFT_STREAM = 'consensus-qbft';

export interface QbftCore extends CommandableCore {
  /** The height being decided (finalHeight + 1) and its current round. */
  height(): number;
  round(): number;
  /** Validators (addresses) deciding `height`. */
  validators(height?: number): string[];
  /** Participant id of the proposer of (height, round), default the current ones. */
  proposer(height?: number, round?: number): string;
  /** The permission list changed: whom messages go to and come from (validators still change only by votes). */
  setParticipants(participants: readonly { id: string; address: string }[]): void;
}

export function createQbftCore(config: QbftConfig, stored: readonly { type: string; payload: unknown }[]): QbftCore {
  const state: QbftState = restoreState(config, stored);
  return {
    stream: QBFT_STREAM,
    step: (input) => step(state, input),
    proposalHeight: () => proposalHeight(state),
    forwardTargets: () =>
      validatorsAt(state, state.height)
        .filter((a) => a !== state.selfAddress && state.idByAddress.has(a))
        .map((a) => idOf(state, a)),
    lastTimestamp: () => state.lastTimestamp,
    finalHeight: () => state.finalHeight,
    finalBlock: (height: number): FinalBlock | undefined => state.finals.get(height)?.final,
    status: (): CoreStatus => {
      const leader = proposerId(state, state.height, state.round);
      return {
        role: isProposer(state, state.height, state.round) && isValidatorAt(state, state.height, state.selfAddress) ? 'leader' : 'follower',
        term: state.round,
        leader,
        commitIndex: state.finalHeight,
        cluster: validatorsAt(state, state.height).map((a) => {
          const participant = idOf(state, a);
          return { participant, role: participant === leader ? 'minter' : 'verifier', isLeader: participant === leader };
        }),
      };
    },
    command: (method, params) => runCommand(state, method, params),
    height: () => state.height,
    round: () => state.round,
    validators: (height = state.height) => validatorsAt(state, height).slice(),
    proposer: (height = state.height, round = state.round) => proposerId(state, height, round),
    setParticipants: (participants) => {
      const idByAddress = state.idByAddress as Map<string, string>;
      const addressById = state.addressById as Map<string, string>;
      idByAddress.clear();
      addressById.clear();
      for (const p of participants) {
        idByAddress.set(p.address.toLowerCase(), p.id);
        addressById.set(p.id, p.address.toLowerCase());
      }
    },
  };
}

export { secp256k1Crypto } from './crypto.js';
export { decodeExtraData, encodeExtraData, verifyParentSeals, verifySeals, type ExtraData } from './extra-data.js';
export { GENESIS_DIGEST, proposalDigest, messageDigest, sealDigest } from './digest.js';
export { QbftEvents, type QbftEventType } from './events.js';
export * from './messages.js';
export { signCommit, signPrepare, signProposal, signRoundChange, signedPart } from './signing.js';
export { quorum, faultyBound } from './validators.js';
export type { QbftConfig, QbftCrypto } from './types.js';
