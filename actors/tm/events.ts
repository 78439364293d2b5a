/**
 * The tm's events (its chain 'tm', one stream). They say what happened to which payload and between which
 * participants: hashes and participant ids only, never a payload, encrypted or not.
 */
import { z } from 'zod';
import { ParticipantId } from '../../lib/network/description.js';
import { PayloadHashHex, PrivacyPublicKey } from './messages.js';

export const TM_STREAM = 'tm-payloads';

const PayloadOrigin = z.enum(['send', 'push', 'resend', 'storeraw']);
export type PayloadOrigin = z.infer<typeof PayloadOrigin>;

const TmEvents = {
  /** We now hold this payload (encrypted). `sender` and `recipients` are participant ids. */
  PayloadStored: z.object({
    hash: PayloadHashHex,
    origin: PayloadOrigin,
    sender: ParticipantId,
    recipients: z.array(ParticipantId),
  }),
  /** About to push to these tms (recorded before sending: persist, then send). */
  PayloadPushed: z.object({ hash: PayloadHashHex, to: z.array(ParticipantId) }),
  /** Every one of these tms stored the payload and said so. */
  PushAcknowledged: z.object({ hash: PayloadHashHex, by: z.array(ParticipantId) }),
  ResendRequested: z.object({ by: ParticipantId, key: PrivacyPublicKey }),
  PayloadResent: z.object({ hash: PayloadHashHex, to: ParticipantId }),
  /** This store asked every peer to resend and every peer answered: a hash it lacks now means "not a recipient". */
  RecoveryCompleted: z.object({ peers: z.array(ParticipantId) }),
} as const;

export type TmEventType = keyof typeof TmEvents;

/** A typed event, checked against its schema before it is written. */
export function tmEvent<K extends TmEventType>(type: K, payload: z.infer<(typeof TmEvents)[K]>): { type: K; payload: z.infer<(typeof TmEvents)[K]> } {
  return { type, payload: TmEvents[type].parse(payload) as z.infer<(typeof TmEvents)[K]> };
}
