/**
 * Messages of the transaction manager (tm). Its own participant's gateway and executor use the first group;
 * other participants' tms use the second (push with ACK, resend). Payload hashes are SHA3-512 of the
 * ciphertext: on chain as 64 bytes (0x + 128 hex digits, the private transaction's data), in Tessera's API as
 * base64 (88 characters).
 */
import { z } from 'zod';
import { HexBytes } from '../../lib/hex.js';
import { EncodedPayload, PrivacyFlag, PrivacyPublicKey } from '../enclave/messages.js';

export { EncodedPayload, PrivacyFlag, PrivacyPublicKey };

export const PayloadHashHex = z.string().regex(/^0x[0-9a-fA-F]{128}$/, 'expected a 64-byte 0x-prefixed payload hash');
export const PayloadHashB64 = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'expected a base64 64-byte payload hash');

/** The hash in both spellings. */
export const PayloadKey = z.object({ hashHex: PayloadHashHex, key: PayloadHashB64 });
export type PayloadKey = z.infer<typeof PayloadKey>;

// ---- gateway → tm ----------------------------------------------------------------------------------------

/** Encrypt, store, push to every recipient's tm and wait for each ACK; answers the hash. */
export const TmSendRequest = z.object({
  /** The transaction's real data (plaintext), hex. */
  payload: HexBytes,
  /** privateFrom: one of our keys; default our participant's key. */
  from: PrivacyPublicKey.optional(),
  /** privateFor: recipients' keys (our own may be among them). */
  to: z.array(PrivacyPublicKey).max(64),
  privacyFlag: PrivacyFlag.default(0),
});
export type TmSendRequest = z.infer<typeof TmSendRequest>;

/** Seal for the sender alone and store (web3js-quorum's first step); answers the hash. Nothing is pushed. */
export const TmStoreRawRequest = z.object({ payload: HexBytes, from: PrivacyPublicKey.optional() });

/** Share a stored raw payload with recipients (eth_sendRawPrivateTransaction): push, wait for every ACK. */
export const TmSendSignedRequest = z.object({
  hash: PayloadHashHex,
  to: z.array(PrivacyPublicKey).max(64),
  privacyFlag: PrivacyFlag.default(0),
});

// ---- gateway/executor → tm -------------------------------------------------------------------------------

/** Decrypted payloads by hash. A hash the tm does not hold is "not a recipient" (found: false). */
export const TmReceiveRequest = z.object({ hashes: z.array(PayloadHashHex).min(1).max(2000) });
export const ReceivedPayload = z.discriminatedUnion('found', [
  z.object({ hash: PayloadHashHex, found: z.literal(false) }),
  z.object({
    hash: PayloadHashHex,
    found: z.literal(true),
    /** The plaintext transaction data, hex. */
    payload: HexBytes,
    senderKey: PrivacyPublicKey,
    /** Every party's key, the sender's included (the same list on every party). */
    recipientKeys: z.array(PrivacyPublicKey),
    privacyFlag: PrivacyFlag,
  }),
]);
export type ReceivedPayload = z.infer<typeof ReceivedPayload>;
export const TmReceiveReply = z.object({ payloads: z.array(ReceivedPayload) });
export type TmReceiveReply = z.infer<typeof TmReceiveReply>;

// ---- tm → tm ---------------------------------------------------------------------------------------------

/** On subjects.tmPush(net, to, from): store this payload (we are a recipient); the reply is the ACK. */
export const TmPushRequest = z.object({
  encoded: EncodedPayload,
  /** Why it is pushed: first sending (default) or a resend; the receiver records it as the payload's origin. */
  reason: z.enum(['send', 'resend']).optional(),
});
export const TmPushAck = z.object({ ok: z.literal(true), hash: PayloadHashHex });

/**
 * On subjects.tmResend(net, to, from): push again, to their owners, the payloads that name `key` as a
 * recipient. The payloads go to the key's owner's push subject, never in this reply, so asking for another
 * participant's key gains the asker nothing. The reply says how many were pushed.
 */
export const TmResendRequest = z.object({ key: PrivacyPublicKey });
export const TmResendReply = z.object({ pushed: z.number().int().nonnegative() });
