/**
 * Pushing a payload to other participants' tms and waiting for their ACKs. "No ACK, no transaction": every
 * recipient must confirm it stored the payload, under the hash we computed, or the whole push fails, naming
 * each recipient that did not.
 */
import type { Bus } from '../../lib/bus.js';
import { CodedError, ErrorCode, asCodedError } from '../../lib/errors.js';
import { subjects } from '../../lib/subjects.js';
import { TmPushAck, type EncodedPayload } from './messages.js';

export interface PushTarget {
  bus: Bus;
  net: string;
  self: string;
  /** How long a recipient's tm has to store the payload and answer. */
  timeoutMs: number;
}

/** Push to one tm; resolves when it ACKed `hashHex`. */
export async function pushTo(t: PushTarget, to: string, encoded: EncodedPayload, hashHex: string, reason: 'send' | 'resend'): Promise<void> {
  let ack;
  try {
    ack = await t.bus.request(subjects.tmPush(t.net, to, t.self), { encoded, reason }, TmPushAck, { timeoutMs: t.timeoutMs });
  } catch (err) {
    const e = asCodedError(err);
    // A refusal is the recipient's answer; anything else (no responder, timeout) means it could not answer.
    const code = e.code === ErrorCode.Rejected || e.code === ErrorCode.InvalidInput ? ErrorCode.Rejected : ErrorCode.Unavailable;
    const verb = code === ErrorCode.Rejected ? 'refused' : 'did not acknowledge';
    throw new CodedError(code, `recipient ${to}'s transaction manager ${verb} the payload: ${e.message}`, { recipient: to });
  }
  if (ack.hash.toLowerCase() !== hashHex.toLowerCase()) {
    throw new CodedError(ErrorCode.Rejected, `recipient ${to}'s transaction manager acknowledged hash ${ack.hash}, not ${hashHex}`, { recipient: to });
  }
}

/** Push to every tm in parallel; all must ACK. On failure, the error names every recipient that did not. */
export async function pushToAll(t: PushTarget, to: readonly string[], encoded: EncodedPayload, hashHex: string, reason: 'send' | 'resend'): Promise<void> {
  const results = await Promise.allSettled(to.map((p) => pushTo(t, p, encoded, hashHex, reason)));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [asCodedError(r.reason)] : []));
  if (failed.length === 0) return;
  const code = failed.some((e) => e.code === ErrorCode.Unavailable) ? ErrorCode.Unavailable : failed[0].code;
  throw new CodedError(code, failed.map((e) => e.message).join('; '), { recipients: failed.map((e) => (e.data as { recipient?: string })?.recipient) });
}
