/**
 * A payload hash in its spellings: raw 64 bytes (SHA3-512 of the cipherText, see enclave/payload-hash.ts),
 * 0x-hex as it goes on chain and over the bus, base64 as Tessera's HTTP API and GoQuorum call it "key", and
 * bare lowercase hex as the tm's tables key it.
 */
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { payloadHash } from '../enclave/payload-hash.js';
import type { EncodedPayload, PayloadKey } from './messages.js';

const HEX = /^(0x)?[0-9a-fA-F]{128}$/;
const B64 = /^[A-Za-z0-9+/]{86}==$/;

export function hashKey(hash: Uint8Array): PayloadKey {
  if (hash.length !== 64) throw new Error(`a payload hash has 64 bytes, not ${hash.length}`);
  const buf = Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength);
  return { hashHex: '0x' + buf.toString('hex'), key: buf.toString('base64') };
}

/** The hash of an encoded payload (or of its cipherText), in both spellings. */
export function keyOfPayload(p: Pick<EncodedPayload, 'cipherText'>): PayloadKey {
  return hashKey(payloadHash(p));
}

export function hexToB64(hashHex: string): string {
  if (!HEX.test(hashHex)) throw new CodedError(ErrorCode.InvalidInput, 'expected a 64-byte hex payload hash');
  return Buffer.from(hashHex.replace(/^0x/, ''), 'hex').toString('base64');
}

/** Tessera's key (base64) → 0x-hex. Strict: a key of the wrong length is refused, not truncated. */
export function b64ToHex(key: string): string {
  if (!B64.test(key)) throw new CodedError(ErrorCode.InvalidInput, 'expected a base64 64-byte payload hash (88 characters)');
  return '0x' + Buffer.from(key, 'base64').toString('hex');
}

/** The tables' spelling: lowercase hex without 0x (one spelling, so lookups never miss on case). */
export function rowKey(hashHex: string): string {
  if (!HEX.test(hashHex)) throw new CodedError(ErrorCode.InvalidInput, 'expected a 64-byte hex payload hash');
  return hashHex.replace(/^0x/, '').toLowerCase();
}

export const fromRowKey = (row: string): string => '0x' + row;
