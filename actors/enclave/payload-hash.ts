/**
 * A payload's hash, as Tessera computes it: SHA3-512 over the raw cipherText bytes (not the base64 text, not
 * the whole encoded payload). It is the key the tm stores the payload under and what goes on chain.
 */
import { sha3_512 } from '@noble/hashes/sha3';
import type { EncodedPayload } from './messages.js';

/** 64 bytes: SHA3-512 of the decoded cipherText of `payload` (an encoded payload, or its cipherText in base64). */
export function payloadHash(payload: Pick<EncodedPayload, 'cipherText'> | string): Uint8Array {
  const b64 = typeof payload === 'string' ? payload : payload.cipherText;
  return sha3_512(new Uint8Array(Buffer.from(b64, 'base64')));
}
