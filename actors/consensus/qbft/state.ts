/** Creating the core's state, restoring it from stored events, and the small helpers every phase uses. */
import { z } from 'zod';
import type { CoreOutput } from '../core.js';
import { QbftEvents } from './events.js';
import { LowerAddress } from './messages.js';
import { MAX_TIMEOUT_EXPONENT, type Prepared, type QbftConfig, type QbftState, type SentInRound } from './types.js';
import { broadcastTargets } from './validators.js';
import { recordFinal } from './finalize.js';

const ConfigShape = z.object({
  self: z.string().min(1),
  participants: z.array(z.object({ id: z.string().min(1), address: LowerAddress })).min(1),
  genesisValidators: z.array(LowerAddress).min(1),
  requestTimeoutTicks: z.number().int().positive(),
});

export function createState(given: QbftConfig): QbftState {
  // Addresses are compared lowercase everywhere.
  const config: QbftConfig = {
    ...given,
    participants: given.participants.map((p) => ({ id: p.id, address: p.address.toLowerCase() })),
    genesisValidators: given.genesisValidators.map((a) => a.toLowerCase()),
  };
  ConfigShape.parse({ ...config, crypto: undefined });
  const idByAddress = new Map<string, string>();
  const addressById = new Map<string, string>();
  for (const p of config.participants) {
    if (addressById.has(p.id) || idByAddress.has(p.address)) throw new Error(`duplicate participant ${p.id} / ${p.address}`);
    idByAddress.set(p.address, p.id);
    addressById.set(p.id, p.address);
  }
  const selfAddress = config.crypto.address.toLowerCase();
  if (addressById.get(config.self) !== selfAddress) throw new Error(`participant ${config.self} is not ${selfAddress}`);
  const genesis = [...new Set(config.genesisValidators)].sort();
  return {
    self: config.self,
    selfAddress,
    idByAddress,
    addressById,
    timeoutTicks: config.requestTimeoutTicks,
    crypto: config.crypto,
    now: 0,
    height: 1,
    round: 0,
    roundDeadline: config.requestTimeoutTicks,
    nextRebroadcast: config.requestTimeoutTicks,
    lastProgress: 0,
    syncAskedAt: -Infinity,
    syncCursor: 0,
    helpedAt: new Map(),
    finals: new Map(),
    finalHeight: 0,
    lastTimestamp: 0,
    epochs: [{ fromHeight: 1, validators: genesis }],
    votes: [],
    snapshots: new Map([[0, { number: 0, validators: genesis, votes: [] }]]),
    candidates: new Map(),
    proposals: new Map(),
    prepares: new Map(),
    commits: new Map(),
    roundChanges: new Map(),
    prepared: null,
    sent: new Map(),
    own: {},
    values: new Map(),
    verifiedSeals: new Set(),
    backlog: [],
  };
}

/** Folds stored events (validated; an unknown type throws) and resumes at finalHeight + 1. */
export function restoreState(config: QbftConfig, stored: readonly { type: string; payload: unknown }[]): QbftState {
  const state = createState(config);
  const rounds = new Map<number, number>();
  const sent = new Map<number, Map<number, SentInRound>>();
  const prepared = new Map<number, Prepared>();
  for (const event of stored) {
    switch (event.type) {
      case 'BlockFinalized': {
        const e = QbftEvents.BlockFinalized.parse(event.payload);
        const height = e.proposal.block.height;
        if (height <= state.finalHeight) break; // a duplicate record (e.g. synced twice): the first one stands
        if (height !== state.finalHeight + 1) throw new Error(`BlockFinalized for height ${height} after ${state.finalHeight}`);
        recordFinal(state, e.proposal, e.digest, e.round, e.seals);
        break;
      }
      case 'RoundEntered': {
        const e = QbftEvents.RoundEntered.parse(event.payload);
        rounds.set(e.height, Math.max(rounds.get(e.height) ?? 0, e.round));
        break;
      }
      case 'MessageSigned': {
        const e = QbftEvents.MessageSigned.parse(event.payload);
        rounds.set(e.height, Math.max(rounds.get(e.height) ?? 0, e.round));
        const perRound = sent.get(e.height) ?? new Map<number, SentInRound>();
        sent.set(e.height, perRound);
        const entry = perRound.get(e.round) ?? {};
        entry[e.kind] = e.digest;
        perRound.set(e.round, entry);
        break;
      }
      case 'Prepared': {
        const e = QbftEvents.Prepared.parse(event.payload);
        const known = prepared.get(e.height);
        if (known === undefined || known.round < e.round) prepared.set(e.height, { round: e.round, digest: e.digest, proposal: e.proposal, prepares: e.prepares });
        break;
      }
      case 'VoteCandidateSet': {
        const e = QbftEvents.VoteCandidateSet.parse(event.payload);
        state.candidates.set(e.address, e.authorize);
        break;
      }
      case 'VoteCandidateDiscarded':
        state.candidates.delete(QbftEvents.VoteCandidateDiscarded.parse(event.payload).address);
        break;
      default:
        throw new Error(`unknown QBFT event ${event.type}`);
    }
  }
  startHeight(state);
  const height = state.height;
  state.round = rounds.get(height) ?? 0;
  state.roundDeadline = state.now + timeoutFor(state, state.round);
  state.sent = sent.get(height) ?? new Map();
  state.prepared = prepared.get(height) ?? null;
  if (state.prepared !== null) state.values.set(state.prepared.digest, state.prepared.proposal);
  return state;
}

/** Resets the per-height state for finalHeight + 1, round 0. */
export function startHeight(state: QbftState): void {
  state.height = state.finalHeight + 1;
  state.round = 0;
  state.roundDeadline = state.now + timeoutFor(state, 0);
  state.nextRebroadcast = state.now + state.timeoutTicks;
  state.proposals = new Map();
  state.prepares = new Map();
  state.commits = new Map();
  state.roundChanges = new Map();
  state.prepared = null;
  state.sent = new Map();
  state.own = {};
  state.values = new Map();
  state.verifiedSeals = new Set();
}

/** The timeout of a round: requestTimeoutTicks · 2^min(round, MAX_TIMEOUT_EXPONENT). */
export function timeoutFor(state: QbftState, round: number): number {
  return state.timeoutTicks * 2 ** Math.min(round, MAX_TIMEOUT_EXPONENT);
}

export function broadcast(state: QbftState, out: CoreOutput, message: unknown): void {
  for (const to of broadcastTargets(state)) out.messages.push({ to, message });
}

export function sentIn(state: QbftState, round: number): SentInRound {
  let entry = state.sent.get(round);
  if (entry === undefined) {
    entry = {};
    state.sent.set(round, entry);
  }
  return entry;
}

export function refuse(out: CoreOutput, from: string, reason: string): void {
  out.refused.push({ from, reason });
}
