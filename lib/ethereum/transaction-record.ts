/**
 * The one shape of a transaction between actors once the gateway has admitted it: the signed bytes, plus what
 * the gateway read from them once (hash, recovered sender, nonce, gas limit), so that consensus can order and
 * de-duplicate without recovering signatures. The executor decodes `raw` itself with the same decoder
 * (lib/ethereum/transaction.ts); a private transaction is the same record (its raw is signed with v = 37/38).
 */
import { z } from 'zod';
import { Address, Hash32, HexBytes, HexQuantity } from '../hex.js';

export const TransactionRecord = z.object({
  /** The signed transaction (RLP / typed envelope), hex: what is ordered and executed. */
  raw: HexBytes,
  hash: Hash32,
  from: Address,
  nonce: HexQuantity,
  /** So the minter can respect the block gas limit without decoding. */
  gasLimit: HexQuantity,
});
export type TransactionRecord = z.infer<typeof TransactionRecord>;

/** As the gateway submits it: with the sender's nonce in state at admission (a floor for the pool's nonce tracking). */
export const AdmittedTransaction = TransactionRecord.extend({ accountNonce: HexQuantity });
export type AdmittedTransaction = z.infer<typeof AdmittedTransaction>;
