/**
 * The one Enclave interface (as Tessera's enclave-api): a local implementation over tweetnacl holds the keys
 * (local-enclave.ts); the tm reaches it through a client over NATS (enclave-client.ts). Both pass one test
 * suite. Errors are CodedErrors: a payload that does not open is Rejected, with a clear message.
 */
import type { EncodedPayload, PrivacyFlag, RawPayload } from './messages.js';

export interface Enclave {
  /** The public keys whose private halves this enclave holds (base64). */
  publicKeys(): Promise<string[]>;
  /** Seal `payload` for `recipients` and the sender (one of our keys). */
  encrypt(payload: Uint8Array, sender: string, recipients: string[], privacyFlag: PrivacyFlag): Promise<EncodedPayload>;
  /** Seal `payload` for the sender alone (/storeraw); later shared with encryptFromRaw under the same cipherText. */
  encryptRaw(payload: Uint8Array, sender: string): Promise<RawPayload>;
  encryptFromRaw(raw: RawPayload, recipients: string[], privacyFlag: PrivacyFlag): Promise<EncodedPayload>;
  /** Open a payload with our private key for `key` (a recipient key or the sender key). */
  decrypt(encoded: EncodedPayload, key: string): Promise<Uint8Array>;
}
