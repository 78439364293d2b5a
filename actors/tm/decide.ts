/**
 * The tm's decisions, pure: who a payload goes to, whom a push may come from, what a resend pushes and to
 * whom, how long to wait before asking a silent peer again. No I/O, no clock: the shell supplies the party
 * info (from the network description) and the payloads it holds, and carries the decisions out.
 */
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import type { EncodedPayload } from './messages.js';

/** Who is who: every participant's privacy key, and which participant this tm serves. */
export interface PartyInfo {
  self: string;
  selfKey: string;
  /** privacy public key (base64) → participant id */
  ownerOfKey: ReadonlyMap<string, string>;
  /** participant id → privacy public key */
  keyOf: ReadonlyMap<string, string>;
}

export function partyInfo(network: NetworkDescription, self: string): PartyInfo {
  const ownerOfKey = new Map<string, string>();
  const keyOf = new Map<string, string>();
  for (const p of network.participants) {
    ownerOfKey.set(p.privacyPublicKey, p.id);
    keyOf.set(p.id, p.privacyPublicKey);
  }
  const selfKey = keyOf.get(self);
  if (!selfKey) throw new Error(`participant ${self} is not in network ${network.name}`);
  return { self, selfKey, ownerOfKey, keyOf };
}

/** Every participant but this one: the tms a recovering tm asks to resend. */
export function peers(party: PartyInfo): string[] {
  return [...party.keyOf.keys()].filter((id) => id !== party.self);
}

export function ownerOf(party: PartyInfo, key: string): string {
  const owner = party.ownerOfKey.get(key);
  if (!owner) throw new CodedError(ErrorCode.InvalidInput, `unknown recipient key ${key}`);
  return owner;
}

/** The sending key: privateFrom when given (it must be ours), else our participant's key. */
export function senderKey(party: PartyInfo, from: string | undefined): string {
  if (from === undefined || from === party.selfKey) return party.selfKey;
  throw new CodedError(ErrorCode.InvalidInput, `privateFrom ${from} is not a key of this transaction manager`);
}

export interface Recipients {
  /** The keys the enclave seals for besides the sender (it adds the sender itself), deduplicated, in order. */
  keys: string[];
  /** The participants whose tms must store the payload and ACK it: owners of `keys`, without us. */
  participants: string[];
}

/** privateFor → what to seal for and whom to push to. Every key must belong to a participant of the network. */
export function recipients(party: PartyInfo, sender: string, to: readonly string[]): Recipients {
  const keys: string[] = [];
  const participants: string[] = [];
  for (const key of to) {
    const owner = ownerOf(party, key);
    if (key !== sender && !keys.includes(key)) keys.push(key);
    if (owner !== party.self && !participants.includes(owner)) participants.push(owner);
  }
  return { keys, participants };
}

/** Every key that is a party to the payload: the sender and the recipients. */
export function partiesOf(encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'>): string[] {
  return [...new Set([encoded.senderKey, ...encoded.recipientKeys])];
}

/** The participants a payload was made for, from the stored payload (for events: ids, never plaintext). */
export function participantsOf(party: PartyInfo, encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'>): string[] {
  const out: string[] = [];
  for (const key of partiesOf(encoded)) {
    const owner = party.ownerOfKey.get(key);
    if (owner && !out.includes(owner)) out.push(owner);
  }
  return out;
}

/** Whether `participant` may hold (be pushed, be served) this payload: it owns one of its parties' keys. */
export function mayHold(party: PartyInfo, participant: string, encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'>): boolean {
  const key = party.keyOf.get(participant);
  return key !== undefined && partiesOf(encoded).includes(key);
}

/**
 * A push from tm `from`: we store it only if we are a party, and only if the pusher is a party too (a tm can
 * pass on, by push or resend, only what it was itself given), and every key in it belongs to a participant.
 * Throws Rejected otherwise.
 */
export function checkPush(party: PartyInfo, from: string, encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'>): void {
  if (!party.keyOf.has(from)) throw new CodedError(ErrorCode.Rejected, `${from} is not a participant of this network`);
  if (!encoded.recipientKeys.includes(party.selfKey)) {
    throw new CodedError(ErrorCode.Rejected, `payload pushed by ${from} does not name ${party.self}'s key as a recipient`);
  }
  if (!mayHold(party, from, encoded)) throw new CodedError(ErrorCode.Rejected, `${from} is not a party to the payload it pushed`);
  const stranger = partiesOf(encoded).find((k) => !party.ownerOfKey.has(k));
  if (stranger) throw new CodedError(ErrorCode.Rejected, `payload pushed by ${from} names key ${stranger}, which no participant owns`);
}

/**
 * Whom a resend request for `key` pushes to: always the key's owner, never (unless it is the owner) the
 * asker. An unknown key is refused; our own key (nobody else should ask for it) yields nobody.
 */
export function resendTarget(party: PartyInfo, key: string): string | null {
  const owner = ownerOf(party, key);
  return owner === party.self ? null : owner;
}

/** Which of the held payloads a resend for `key` pushes: those the key is a party to. */
export function resendSelection<T extends { encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'> }>(key: string, held: readonly T[]): T[] {
  return held.filter((h) => partiesOf(h.encoded).includes(key));
}

/** The key a receive decrypts with: ours, if the payload names it (else we are not a recipient). */
export function decryptionKey(party: PartyInfo, encoded: Pick<EncodedPayload, 'senderKey' | 'recipientKeys'>, to?: string): string | null {
  const key = to ?? party.selfKey;
  if (key !== party.selfKey) return null;
  return partiesOf(encoded).includes(key) ? key : null;
}

/**
 * The answer for a hash we do not hold: "not a recipient" only once our store is complete. While we are
 * recovering it may simply not have come back yet, and the executor must not skip a transaction it is a
 * party to, so it is Unavailable (the executor asks again).
 */
export function missingPayload(recovering: boolean): { found: false } {
  if (recovering) throw new CodedError(ErrorCode.Unavailable, 'transaction manager is recovering its payloads');
  return { found: false };
}

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * Capped low: a silent peer is usually one still starting, and until it answers every hash we lack is
 * Unavailable to our executor. An unanswered request to a tm that is down costs the broker next to nothing.
 */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 200, maxMs: 2_000 };

/**
 * Wait before asking a silent peer again: doubling from baseMs, capped at maxMs; `jitter` in [0, 1) (the
 * shell passes Math.random, tests a constant) spreads the retries of tms that restarted together.
 */
export function backoffMs(attempt: number, jitter: number, b: Backoff = DEFAULT_BACKOFF): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp * (0.5 + jitter / 2));
}
