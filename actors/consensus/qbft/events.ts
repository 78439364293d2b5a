/**
 * The QBFT core's events (stream 'consensus-qbft'). Small on purpose: received messages are not stored.
 *
 *  - BlockFinalized: a decision, with the seals this node holds (the evidence it serves and proposes with).
 *  - RoundEntered: we moved to round > 0 at a height; after a restart we never act in an earlier round.
 *  - MessageSigned: we signed a proposal / prepare / commit for (height, round, digest); after a restart we sign
 *    nothing else at that (height, round, kind) — no equivocation.
 *  - Prepared: our prepared certificate (lock) at a height, carried in later round changes.
 *  - VoteCandidateSet / VoteCandidateDiscarded: istanbul_propose / istanbul_discard.
 */
import { z } from 'zod';
import { Hash32 } from '../../../lib/hex.js';
import { LowerAddress, Prepare, Proposal, Signature } from './messages.js';

const Height = z.number().int().positive();
const Round = z.number().int().nonnegative();

export const QbftEvents = {
  BlockFinalized: z.object({ proposal: Proposal, round: Round, digest: Hash32, seals: z.array(Signature) }),
  RoundEntered: z.object({ height: Height, round: Round }),
  MessageSigned: z.object({ height: Height, round: Round, kind: z.enum(['proposal', 'prepare', 'commit']), digest: Hash32 }),
  Prepared: z.object({ height: Height, round: Round, digest: Hash32, proposal: Proposal, prepares: z.array(Prepare) }),
  VoteCandidateSet: z.object({ address: LowerAddress, authorize: z.boolean() }),
  VoteCandidateDiscarded: z.object({ address: LowerAddress }),
} as const;

export type QbftEventType = keyof typeof QbftEvents;
export type QbftEventPayload<T extends QbftEventType> = z.infer<(typeof QbftEvents)[T]>;

export function qbftEvent<T extends QbftEventType>(type: T, payload: QbftEventPayload<T>): { type: T; payload: QbftEventPayload<T> } {
  return { type, payload };
}
