/**
 * The enclave's values and messages. Only its own participant's tm talks to it (the broker enforces it).
 * Keys and byte strings are base64, as Tessera spells them.
 */
import { z } from 'zod';
import { PrivacyPublicKey } from '../../lib/network/description.js';

export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
export { PrivacyPublicKey };

/** GoQuorum's privacy flags: 0 standard, 1 party protection, 3 private state validation. */
export const PrivacyFlag = z.union([z.literal(0), z.literal(1), z.literal(3)]);
export type PrivacyFlag = z.infer<typeof PrivacyFlag>;

/**
 * An encrypted payload, immutable once made (Tessera's EncodedPayload). A fresh master key seals the payload
 * (secretbox); the master key is boxed once per recipient key, the sender's own key included, so every party
 * (and the sender) can open it with its own private key. Its hash is SHA3-512(cipherText).
 */
export const EncodedPayload = z.object({
  senderKey: PrivacyPublicKey,
  cipherText: Base64,
  cipherTextNonce: Base64,
  /** recipientBoxes[i] holds the master key for recipientKeys[i], boxed with recipientNonce. */
  recipientBoxes: z.array(Base64).min(1),
  recipientNonce: Base64,
  recipientKeys: z.array(PrivacyPublicKey).min(1),
  privacyFlag: PrivacyFlag,
});
export type EncodedPayload = z.infer<typeof EncodedPayload>;

/** A payload sealed for its sender alone (Tessera's RawTransaction, made by /storeraw): same cipherText later. */
export const RawPayload = z.object({
  senderKey: PrivacyPublicKey,
  cipherText: Base64,
  cipherTextNonce: Base64,
  /** The master key boxed for the sender itself. */
  encryptedKey: Base64,
  keyNonce: Base64,
});
export type RawPayload = z.infer<typeof RawPayload>;

// ---- requests on subjects.enclave(scope, verb) ----------------------------------------------------------

export const KeysRequest = z.object({});
export const KeysReply = z.object({ keys: z.array(PrivacyPublicKey) });

export const EncryptRequest = z.object({
  /** The plaintext, base64. */
  payload: Base64,
  sender: PrivacyPublicKey,
  /** Recipients other than the sender (the sender is added by the enclave). */
  recipients: z.array(PrivacyPublicKey),
  privacyFlag: PrivacyFlag,
});
export const EncryptReply = z.object({ encoded: EncodedPayload });

export const EncryptRawRequest = z.object({ payload: Base64, sender: PrivacyPublicKey });
export const EncryptRawReply = z.object({ raw: RawPayload });

export const EncryptFromRawRequest = z.object({ raw: RawPayload, recipients: z.array(PrivacyPublicKey), privacyFlag: PrivacyFlag });
export const EncryptFromRawReply = EncryptReply;

export const DecryptRequest = z.object({ encoded: EncodedPayload, key: PrivacyPublicKey });
export const DecryptReply = z.object({ payload: Base64 });
