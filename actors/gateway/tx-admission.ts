/**
 * Checks on a raw signed transaction before it goes to consensus. Two pure steps:
 *   decodeRawTransaction(raw, common)  → size, type, chain id, RLP, signature, private or not (lib/ethereum/
 *                                        transaction.ts, the one decoder the executor uses too);
 *   admitTransaction(decoded, facts)    → gas price, gas limits, nonce window, funds, against the state at head.
 * Both return a CodedError(Rejected) with a geth-like message instead of throwing.
 */
import { CodedError, ErrorCode } from '../../lib/errors.js';
import type { Checked, DecodedTx } from '../../lib/ethereum/transaction.js';

export { decodeRawTransaction, MAX_TX_SIZE, type DecodedTx } from '../../lib/ethereum/transaction.js';

/** How far ahead of the state nonce a transaction may be (the pool holds it until the gap fills). */
export const MAX_NONCE_GAP = 1000n;

export interface AdmissionFacts {
  /** Gas limit of the head block. */
  blockGasLimit: bigint;
  /** The sender's account at head; null when it does not exist yet. */
  account: { nonce: bigint; balance: bigint } | null;
}

const reject = (message: string): { ok: false; error: CodedError } => ({ ok: false, error: new CodedError(ErrorCode.Rejected, message) });

/** The state-dependent rules. Gas is free on this chain, so the only cost is the value transferred. */
export function admitTransaction(tx: DecodedTx, facts: AdmissionFacts): Checked<DecodedTx> {
  if (tx.feeCap !== 0n || tx.tipCap !== 0n) return reject('gas price must be 0');
  if (tx.gasLimit > facts.blockGasLimit) return reject(`exceeds block gas limit: gas ${tx.gasLimit}, block gas limit ${facts.blockGasLimit}`);
  if (tx.gasLimit < tx.intrinsicGas) return reject(`intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${tx.intrinsicGas}`);
  const nonce = facts.account?.nonce ?? 0n;
  if (tx.nonce < nonce) return reject(`nonce too low: address ${tx.from}, tx: ${tx.nonce} state: ${nonce}`);
  if (tx.nonce > nonce + MAX_NONCE_GAP) return reject(`nonce too high: address ${tx.from}, tx: ${tx.nonce} state: ${nonce} (max gap ${MAX_NONCE_GAP})`);
  if (tx.isPrivate && tx.value !== 0n) return reject('ether value is not supported for private transactions');
  const balance = facts.account?.balance ?? 0n;
  if (tx.value > balance) return reject(`insufficient funds for transfer: address ${tx.from} have ${balance} want ${tx.value}`);
  return { ok: true, value: tx };
}
