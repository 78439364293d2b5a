/**
 * The one decoder of a raw signed transaction, shared by the gateway (admission) and the executor (execution).
 * It checks size, type, chain id, RLP and signature, recovers the sender once, and recognises GoQuorum's private
 * transactions: a legacy transaction signed without a chain id whose v is 37/38 (27/28 + 10), whose data is the
 * 64-byte hash of a payload held by the transaction managers of its parties.
 *
 * Returns a CodedError(Rejected) with a geth-like message instead of throwing.
 */
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { createLegacyTxFromBytesArray, createTxFromRLP, paramsTx, TransactionType, type TypedTransaction } from '@ethereumjs/tx';
import { Address } from '@ethereumjs/util';
import { CodedError, ErrorCode } from '../errors.js';
import { toHex } from '../hex.js';
import { keccak256 } from './chain.js';

export const MAX_TX_SIZE = 128 * 1024;
/** v of a private transaction is the homestead v (27/28) plus this offset (GoQuorum). */
export const PRIVATE_V_OFFSET = 10n;
/** A private transaction's data: the SHA3-512 hash of its encrypted payload. */
export const PAYLOAD_HASH_BYTES = 64;

export interface DecodedTx {
  /** 0x-prefixed lowercase hex of the signed transaction, as it is submitted and ordered. */
  raw: string;
  /** keccak-256 of `raw`. */
  hash: string;
  /** Recovered sender, lowercase 0x address. */
  from: string;
  type: 0 | 1 | 2;
  /** Private (v = 37/38): `data` is a payload hash; the real data lives with the parties' tms. */
  isPrivate: boolean;
  nonce: bigint;
  gasLimit: bigint;
  /** gasPrice for types 0/1, maxFeePerGas for type 2. */
  feeCap: bigint;
  /** gasPrice for types 0/1, maxPriorityFeePerGas for type 2. */
  tipCap: bigint;
  value: bigint;
  to: string | null;
  data: Uint8Array;
  intrinsicGas: bigint;
  size: number;
  /** The library's transaction (frozen; hash, sender and serialization are those of `raw`). */
  tx: TypedTransaction;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: CodedError };

const reject = (message: string): { ok: false; error: CodedError } => ({ ok: false, error: new CodedError(ErrorCode.Rejected, message) });

function bytesToBigInt(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt(toHex(b));
}

/** ethereumjs appends ' (tx type=... hash=... )' context to its messages; keep the first part, bounded. */
function ejsMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  const cut = m.indexOf(' (tx type=');
  return (cut > 0 ? m.slice(0, cut) : m).slice(0, 200);
}

interface Envelope {
  type: 0 | 1 | 2;
  /** undefined for a private transaction (signed without a chain id). */
  chainId: bigint | undefined;
  isPrivate: boolean;
  fields: Uint8Array[];
}

/** What the raw bytes claim (type, chain id, private), read from the RLP before the full decode. */
function readEnvelope(bytes: Uint8Array): Checked<Envelope> {
  const first = bytes[0];
  let type: 0 | 1 | 2;
  if (first >= 0xc0) type = 0;
  else if (first === TransactionType.AccessListEIP2930 || first === TransactionType.FeeMarketEIP1559) type = first;
  else if (first <= 0x7f) return reject(`transaction type not supported: ${first} (supported: 0 legacy, 1 access list, 2 dynamic fee)`);
  else return reject('invalid transaction: not an RLP list or a typed envelope');
  let fields: unknown;
  try {
    fields = RLP.decode(type === 0 ? bytes : bytes.subarray(1));
  } catch (err) {
    return reject(`invalid transaction: rlp: ${ejsMessage(err)}`);
  }
  if (!Array.isArray(fields) || fields.length === 0 || !(fields[0] instanceof Uint8Array)) return reject('invalid transaction: malformed RLP');
  const list = fields as Uint8Array[];
  if (type !== 0) return { ok: true, value: { type, chainId: bytesToBigInt(list[0]), isPrivate: false, fields: list } };
  if (list.length !== 9 || !list.every((f) => f instanceof Uint8Array)) return reject('invalid transaction: a legacy transaction has 9 fields');
  const v = list[6];
  if (v.length === 0) return reject('invalid signature: transaction is not signed');
  const vn = bytesToBigInt(v);
  if (vn === 37n || vn === 38n) return { ok: true, value: { type, chainId: undefined, isPrivate: true, fields: list } };
  if (vn === 27n || vn === 28n) return reject('only replay-protected (EIP-155) transactions allowed over RPC');
  if (vn < 35n) return reject(`invalid signature: invalid v value ${vn}`);
  return { ok: true, value: { type, chainId: (vn - 35n) / 2n, isPrivate: false, fields: list } };
}

/**
 * Every ethereumjs tx constructor copies its Common and merges the tx params into the copy (JSON round trips
 * and a cache rebuild: more than half the cost of decoding). Decoding never changes a Common, so we decode with
 * one prepared copy whose copy() is itself.
 */
const decodingCommons = new WeakMap<Common, Common>();
function decodingCommon(common: Common): Common {
  let c = decodingCommons.get(common);
  if (!c) {
    const prepared = common.copy();
    prepared.updateParams(paramsTx);
    prepared.copy = () => prepared;
    prepared.updateParams = () => undefined;
    decodingCommons.set(common, prepared);
    c = prepared;
  }
  return c;
}

/** The sender: the recovered key hashed with our keccak (the library's publicToAddress hashes in JavaScript). */
const senderOf = (tx: TypedTransaction): Address => new Address(keccak256(tx.getSenderPublicKey()).subarray(12));

/**
 * A private transaction as the library sees it: the same fields with the homestead v (27/28), which is what
 * it was signed as; hash, serialization and v are then put back to those of the bytes received.
 */
function privateTx(raw: Uint8Array, fields: Uint8Array[], common: Common): TypedTransaction {
  const v = bytesToBigInt(fields[6]);
  const homestead = [...fields];
  homestead[6] = Uint8Array.of(Number(v - PRIVATE_V_OFFSET));
  const tx = createLegacyTxFromBytesArray(homestead, { common, freeze: false });
  const sender = senderOf(tx); // recovered with v 27/28, before v is restored
  const hash = keccak256(raw);
  Object.defineProperty(tx, 'getSenderAddress', { value: () => sender });
  Object.defineProperty(tx, 'hash', { value: () => hash });
  Object.defineProperty(tx, 'serialize', { value: () => raw });
  Object.defineProperty(tx, 'v', { value: v });
  return tx;
}

/** Decodes and authenticates a raw transaction for this chain. */
export function decodeRawTransaction(bytes: Uint8Array, common: Common): Checked<DecodedTx> {
  if (bytes.length === 0) return reject('invalid transaction: empty');
  if (bytes.length > MAX_TX_SIZE) return reject(`transaction too large: ${bytes.length} bytes, max ${MAX_TX_SIZE}`);
  const envelope = readEnvelope(bytes);
  if (!envelope.ok) return envelope;
  const { type, isPrivate } = envelope.value;
  const expected = common.chainId();
  if (!isPrivate && envelope.value.chainId !== expected) return reject(`invalid chain id: got ${envelope.value.chainId}, expected ${expected}`);

  let tx: TypedTransaction;
  try {
    tx = isPrivate ? privateTx(bytes, envelope.value.fields, decodingCommon(common)) : createTxFromRLP(bytes, { common: decodingCommon(common), freeze: false });
  } catch (err) {
    const m = ejsMessage(err);
    return reject(/signature|recover/i.test(m) ? `invalid signature: ${m}` : `invalid transaction: ${m}`);
  }
  if (!tx.isSigned()) return reject('invalid signature: transaction is not signed');
  let from: Address;
  try {
    from = isPrivate ? tx.getSenderAddress() : senderOf(tx);
  } catch {
    return reject('invalid signature');
  }
  if (!isPrivate) {
    // The sender is asked for several times (admission, runTx, formatting): derive it once. The bytes received
    // are the canonical encoding (the decoders refuse any other), so they are the serialization: the
    // transactions root and the block size need not encode every transaction again.
    Object.defineProperty(tx, 'getSenderAddress', { value: () => from });
    Object.defineProperty(tx, 'serialize', { value: () => bytes });
  }
  Object.freeze(tx);
  if (isPrivate && tx.data.length !== PAYLOAD_HASH_BYTES) {
    return reject(`invalid private transaction: its data must be the ${PAYLOAD_HASH_BYTES}-byte hash of a stored payload, got ${tx.data.length} bytes`);
  }
  const feeCap = 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice;
  const tipCap = 'maxPriorityFeePerGas' in tx ? tx.maxPriorityFeePerGas : (tx as { gasPrice: bigint }).gasPrice;
  return {
    ok: true,
    value: {
      // The decoders accept only canonical encodings (strict RLP, no leading zeros), so the hash of the
      // bytes received is the transaction hash, and they are what consensus orders.
      raw: toHex(bytes),
      hash: toHex(keccak256(bytes)),
      from: from.toString(),
      type,
      isPrivate,
      nonce: tx.nonce,
      gasLimit: tx.gasLimit,
      feeCap,
      tipCap,
      value: tx.value,
      to: tx.to ? tx.to.toString() : null,
      data: tx.data,
      intrinsicGas: tx.getIntrinsicGas(),
      size: bytes.length,
      tx,
    },
  };
}

export interface PrivateTxFields {
  nonce: bigint;
  gasLimit: bigint;
  /** null: a contract creation */
  to: Uint8Array | null;
  /** the 64-byte payload hash */
  data: Uint8Array;
}

const rlpInt = (n: bigint): Uint8Array => (n === 0n ? new Uint8Array(0) : Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex'));

/**
 * Signs a private transaction as GoQuorum does: the homestead signing hash (no chain id) over
 * [nonce, gasPrice 0, gas, to, value 0, data], then v = 27/28 + 10. `sign` returns a 64-byte compact signature
 * and its recovery id (secp256k1's ecdsaSign).
 */
export function signPrivateTransaction(fields: PrivateTxFields, sign: (hash: Uint8Array) => { signature: Uint8Array; recid: number }): Uint8Array {
  const body = [rlpInt(fields.nonce), rlpInt(0n), rlpInt(fields.gasLimit), fields.to ?? new Uint8Array(0), rlpInt(0n), fields.data];
  const { signature, recid } = sign(keccak256(RLP.encode(body)));
  const strip = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  };
  const v = BigInt(27 + recid) + PRIVATE_V_OFFSET;
  return RLP.encode([...body, rlpInt(v), strip(signature.subarray(0, 32)), strip(signature.subarray(32, 64))]);
}
