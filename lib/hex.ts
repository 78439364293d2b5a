import { z } from 'zod';

/** 0x-prefixed hex string of any even length (bytes). */
export const HexBytes = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, 'expected 0x-prefixed hex bytes');
/** 0x-prefixed hex quantity (Ethereum JSON-RPC QUANTITY: no leading zeros, "0x0" for zero). */
export const HexQuantity = z.string().regex(/^0x(0|[1-9a-fA-F][0-9a-fA-F]*)$/, 'expected 0x-prefixed hex quantity');
export const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 20-byte 0x-prefixed address');
export const Hash32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected a 32-byte 0x-prefixed hash');

export function toHex(bytes: Uint8Array): string {
  return '0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  const body = hex.startsWith('0x') ? hex.slice(2) : hex;
  return new Uint8Array(Buffer.from(body.length % 2 ? '0' + body : body, 'hex'));
}

export function quantity(n: bigint | number): string {
  return '0x' + BigInt(n).toString(16);
}

