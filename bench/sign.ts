/**
 * Fast, dependency-light transaction signing for the load generator: legacy EIP-155 transactions with
 * gas price 0, RLP-encoded by hand and signed with native secp256k1 (tens of thousands per second).
 */
import { signPrivateTransaction } from '../lib/ethereum/transaction.js';
import secp256k1 from 'secp256k1';
import { RLP } from '@ethereumjs/rlp';
import { keccak_256 } from '@noble/hashes/sha3';

export interface Key {
  priv: Uint8Array;
  /** 0x-prefixed lowercase address. */
  address: string;
}

export interface SignedTx {
  raw: string;
  hash: string;
  from: string;
  nonce: number;
}

export interface LegacyFields {
  nonce: number;
  gasLimit: number;
  to: string | null;
  value: bigint;
  data: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  return new Uint8Array(Buffer.from(h.length % 2 ? '0' + h : h, 'hex'));
}

export function bytesToHex(b: Uint8Array): string {
  return '0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Minimal big-endian bytes of a non-negative integer (0 → empty), as RLP wants. */
function intBytes(n: bigint | number): Uint8Array {
  let v = BigInt(n);
  if (v < 0n) throw new Error('negative integer');
  if (v === 0n) return EMPTY;
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Strips leading zero bytes (r and s are integers in RLP). */
function trimInt(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

function keccak(b: Uint8Array): Uint8Array {
  return keccak_256(b);
}

function keyFromPrivate(privHex: string): Key {
  const priv = hexToBytes(privHex);
  if (priv.length !== 32 || !secp256k1.privateKeyVerify(priv)) throw new Error('invalid secp256k1 private key');
  const pub = secp256k1.publicKeyCreate(priv, false); // 65 bytes, 0x04 prefix
  const address = bytesToHex(keccak(pub.subarray(1)).subarray(12));
  return { priv, address };
}

/** Deterministic keys: keccak256("quorum-actors:bench:<label>:<i>"). */
export function deriveKeys(label: string, n: number): Key[] {
  const out: Key[] = [];
  for (let i = 0; i < n; i++) out.push(keyFromPrivate(bytesToHex(keccak(Buffer.from(`quorum-actors:bench:${label}:${i}`)))));
  return out;
}

/** Signs a legacy EIP-155 transaction with gas price 0. */
export function signLegacyTx(key: Key, chainId: number, f: LegacyFields): SignedTx {
  const nonce = intBytes(f.nonce);
  const gasPrice = EMPTY;
  const gasLimit = intBytes(f.gasLimit);
  const to = f.to === null ? EMPTY : hexToBytes(f.to);
  const value = intBytes(f.value);
  const unsigned = RLP.encode([nonce, gasPrice, gasLimit, to, value, f.data, intBytes(chainId), EMPTY, EMPTY]);
  const { signature, recid } = secp256k1.ecdsaSign(keccak(unsigned), key.priv);
  const v = intBytes(BigInt(recid) + 35n + 2n * BigInt(chainId));
  const raw = RLP.encode([nonce, gasPrice, gasLimit, to, value, f.data, v, trimInt(signature.subarray(0, 32)), trimInt(signature.subarray(32, 64))]);
  return { raw: bytesToHex(raw), hash: bytesToHex(keccak(raw)), from: key.address, nonce: f.nonce };
}

/** Contract address of a CREATE from `from` at `nonce`. */
export function createAddress(from: string, nonce: number): string {
  return bytesToHex(keccak(RLP.encode([hexToBytes(from), intBytes(nonce)])).subarray(12));
}

/** ABI call data for `set(uint256)`: selector 0x60fe47b1 + the value as a 32-byte word. */
export function encodeSet(value: bigint): Uint8Array {
  const out = new Uint8Array(36);
  out.set([0x60, 0xfe, 0x47, 0xb1], 0);
  const v = hexToBytes(value.toString(16).padStart(64, '0'));
  out.set(v, 4);
  return out;
}

/**
 * A private transaction as web3js-quorum signs it: legacy, without chain id (v = 27/28), then marked private
 * with v + 10 (37/38). `data` is the 64-byte payload hash from the tm's /storeraw; gas price and value are 0.
 */
export function signPrivateLegacyTx(key: Key, f: { nonce: number; gasLimit: number; to: string | null; data: Uint8Array }): SignedTx {
  const raw = signPrivateTransaction(
    { nonce: BigInt(f.nonce), gasLimit: BigInt(f.gasLimit), to: f.to === null ? null : hexToBytes(f.to), data: f.data },
    (hash) => secp256k1.ecdsaSign(hash, key.priv),
  );
  return { raw: bytesToHex(raw), hash: bytesToHex(keccak(raw)), from: key.address, nonce: f.nonce };
}
