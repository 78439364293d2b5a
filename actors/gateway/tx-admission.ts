/**
 * Checks on a raw signed transaction before it goes to consensus. Two pure steps:
 *   decodeRawTransaction(raw, common)  → size, type, chain id, RLP, signature (the sender is recovered here,
 *                                        once, so nobody downstream has to recover it again);
 *   admitTransaction(decoded, facts)    → gas price, gas limits, nonce window, funds, against the state at head.
 * Both return a CodedError(Rejected) with a geth-like message instead of throwing.
 */
import type { Common } from '@ethereumjs/common';
import { RLP } from '@ethereumjs/rlp';
import { keccak_256 } from '@noble/hashes/sha3';
import { createTxFromRLP, paramsTx, TransactionType, type TypedTransaction } from '@ethereumjs/tx';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { toHex } from '../../lib/hex.js';

export const MAX_TX_SIZE = 128 * 1024;
/** How far ahead of the state nonce a transaction may be (the pool holds it until the gap fills). */
export const MAX_NONCE_GAP = 1000n;

export interface DecodedTx {
  /** 0x-prefixed lowercase hex of the signed transaction, as it will be submitted. */
  raw: string;
  hash: string;
  /** Recovered sender, lowercase 0x address. */
  from: string;
  type: 0 | 1 | 2;
  chainId: bigint;
  nonce: bigint;
  gasLimit: bigint;
  /** gasPrice for types 0/1, maxFeePerGas for type 2. */
  feeCap: bigint;
  /** gasPrice for types 0/1, maxPriorityFeePerGas for type 2. */
  tipCap: bigint;
  value: bigint;
  intrinsicGas: bigint;
  size: number;
}

export interface AdmissionFacts {
  /** Gas limit of the head block. */
  blockGasLimit: bigint;
  /** The sender's account at head; null when it does not exist yet. */
  account: { nonce: bigint; balance: bigint } | null;
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

/** The chain id a raw transaction claims, read from its RLP before the full decode (for a clear error). */
function claimedChainId(bytes: Uint8Array): Checked<{ type: 0 | 1 | 2; chainId: bigint | undefined }> {
  const first = bytes[0];
  let fields: unknown;
  let type: 0 | 1 | 2;
  if (first >= 0xc0) type = 0;
  else if (first === TransactionType.AccessListEIP2930 || first === TransactionType.FeeMarketEIP1559) type = first;
  else if (first <= 0x7f) return reject(`transaction type not supported: ${first} (supported: 0 legacy, 1 access list, 2 dynamic fee)`);
  else return reject('invalid transaction: not an RLP list or a typed envelope');
  try {
    fields = RLP.decode(type === 0 ? bytes : bytes.subarray(1));
  } catch (err) {
    return reject(`invalid transaction: rlp: ${ejsMessage(err)}`);
  }
  if (!Array.isArray(fields) || fields.length === 0 || !(fields[0] instanceof Uint8Array)) return reject('invalid transaction: malformed RLP');
  if (type !== 0) return { ok: true, value: { type, chainId: bytesToBigInt(fields[0]) } };
  const v = fields[6];
  if (fields.length !== 9 || !(v instanceof Uint8Array)) return reject('invalid transaction: a legacy transaction has 9 fields');
  if (v.length === 0) return reject('invalid signature: transaction is not signed');
  const vn = bytesToBigInt(v);
  if (vn === 27n || vn === 28n) return reject('only replay-protected (EIP-155) transactions allowed over RPC');
  if (vn < 35n) return reject(`invalid signature: invalid v value ${vn}`);
  return { ok: true, value: { type, chainId: (vn - 35n) / 2n } };
}

/**
 * Every ethereumjs tx constructor copies its Common and merges the tx params into the copy (JSON round
 * trips and a cache rebuild: more than half the cost of decoding). Decoding never changes a Common, so
 * the gateway decodes with one prepared copy whose copy() is itself. Used only here, only for decoding
 * (never for signing or execution).
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

/** Decodes and authenticates a raw transaction for this chain. */
export function decodeRawTransaction(bytes: Uint8Array, common: Common): Checked<DecodedTx> {
  if (bytes.length === 0) return reject('invalid transaction: empty');
  if (bytes.length > MAX_TX_SIZE) return reject(`transaction too large: ${bytes.length} bytes, max ${MAX_TX_SIZE}`);
  const claimed = claimedChainId(bytes);
  if (!claimed.ok) return claimed;
  const expected = common.chainId();
  if (claimed.value.chainId !== expected) return reject(`invalid chain id: got ${claimed.value.chainId}, expected ${expected}`);

  let tx: TypedTransaction;
  try {
    tx = createTxFromRLP(bytes, { common: decodingCommon(common) });
  } catch (err) {
    return reject(`invalid transaction: ${ejsMessage(err)}`);
  }
  if (!tx.isSigned()) return reject('invalid signature: transaction is not signed');
  let from: string;
  try {
    from = tx.getSenderAddress().toString();
  } catch {
    return reject('invalid signature');
  }
  const type = claimed.value.type;
  const feeCap = 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice;
  const tipCap = 'maxPriorityFeePerGas' in tx ? tx.maxPriorityFeePerGas : (tx as { gasPrice: bigint }).gasPrice;
  return {
    ok: true,
    value: {
      // The decoders accept only canonical encodings (strict RLP, no leading zeros), so the hash of the
      // bytes received is the transaction hash, and they are what consensus orders.
      raw: toHex(bytes),
      hash: toHex(keccak_256(bytes)),
      from,
      type,
      chainId: expected,
      nonce: tx.nonce,
      gasLimit: tx.gasLimit,
      feeCap,
      tipCap,
      value: tx.value,
      intrinsicGas: tx.getIntrinsicGas(),
      size: bytes.length,
    },
  };
}

/** The state-dependent rules. Gas is free on this chain, so the only cost is the value transferred. */
export function admitTransaction(tx: DecodedTx, facts: AdmissionFacts): Checked<DecodedTx> {
  if (tx.feeCap !== 0n || tx.tipCap !== 0n) return reject('gas price must be 0');
  if (tx.gasLimit > facts.blockGasLimit) return reject(`exceeds block gas limit: gas ${tx.gasLimit}, block gas limit ${facts.blockGasLimit}`);
  if (tx.gasLimit < tx.intrinsicGas) return reject(`intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${tx.intrinsicGas}`);
  const nonce = facts.account?.nonce ?? 0n;
  if (tx.nonce < nonce) return reject(`nonce too low: address ${tx.from}, tx: ${tx.nonce} state: ${nonce}`);
  if (tx.nonce > nonce + MAX_NONCE_GAP) return reject(`nonce too high: address ${tx.from}, tx: ${tx.nonce} state: ${nonce} (max gap ${MAX_NONCE_GAP})`);
  const balance = facts.account?.balance ?? 0n;
  if (tx.value > balance) return reject(`insufficient funds for transfer: address ${tx.from} have ${balance} want ${tx.value}`);
  return { ok: true, value: tx };
}
