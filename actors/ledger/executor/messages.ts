/**
 * Messages of the block executor. Other actors import only this file (and state/messages.ts), never the
 * executor's code. Shapes returned to the gateway are already in Ethereum JSON-RPC form: the
 * ledger is the authority on how its blocks, transactions, receipts and logs look on the wire.
 */
import { z } from 'zod';
import { Address, Hash32, HexBytes, HexQuantity } from '../../../lib/hex.js';

export const BlockTag = z.union([HexQuantity, z.enum(['latest', 'earliest', 'pending', 'safe', 'finalized'])]);
export type BlockTag = z.infer<typeof BlockTag>;

export const RpcLog = z.object({
  address: Address,
  topics: z.array(Hash32),
  data: HexBytes,
  blockNumber: HexQuantity,
  blockHash: Hash32,
  transactionHash: Hash32,
  transactionIndex: HexQuantity,
  logIndex: HexQuantity,
  removed: z.boolean(),
});
export type RpcLog = z.infer<typeof RpcLog>;

export const RpcTransaction = z.object({
  hash: Hash32,
  type: HexQuantity,
  nonce: HexQuantity,
  blockHash: Hash32.nullable(),
  blockNumber: HexQuantity.nullable(),
  transactionIndex: HexQuantity.nullable(),
  from: Address,
  to: Address.nullable(),
  value: HexQuantity,
  gas: HexQuantity,
  gasPrice: HexQuantity,
  maxFeePerGas: HexQuantity.optional(),
  maxPriorityFeePerGas: HexQuantity.optional(),
  input: HexBytes,
  chainId: HexQuantity.optional(),
  accessList: z.array(z.object({ address: Address, storageKeys: z.array(Hash32) })).optional(),
  v: HexQuantity,
  r: HexQuantity,
  s: HexQuantity,
  yParity: HexQuantity.optional(),
});
export type RpcTransaction = z.infer<typeof RpcTransaction>;

export const RpcReceipt = z.object({
  transactionHash: Hash32,
  transactionIndex: HexQuantity,
  blockHash: Hash32,
  blockNumber: HexQuantity,
  from: Address,
  to: Address.nullable(),
  cumulativeGasUsed: HexQuantity,
  gasUsed: HexQuantity,
  effectiveGasPrice: HexQuantity,
  contractAddress: Address.nullable(),
  logs: z.array(RpcLog),
  logsBloom: HexBytes,
  type: HexQuantity,
  status: HexQuantity,
  /** Quorum/besu style: the ABI-encoded revert data of a failed transaction, when there was some. */
  revertReason: HexBytes.optional(),
});
export type RpcReceipt = z.infer<typeof RpcReceipt>;

export const RpcBlock = z.object({
  number: HexQuantity,
  hash: Hash32,
  parentHash: Hash32,
  nonce: HexBytes,
  sha3Uncles: Hash32,
  logsBloom: HexBytes,
  transactionsRoot: Hash32,
  stateRoot: Hash32,
  receiptsRoot: Hash32,
  miner: Address,
  difficulty: HexQuantity,
  totalDifficulty: HexQuantity,
  extraData: HexBytes,
  size: HexQuantity,
  gasLimit: HexQuantity,
  gasUsed: HexQuantity,
  timestamp: HexQuantity,
  mixHash: Hash32,
  baseFeePerGas: HexQuantity,
  withdrawalsRoot: Hash32.optional(),
  withdrawals: z.array(z.unknown()).optional(),
  blobGasUsed: HexQuantity.optional(),
  excessBlobGas: HexQuantity.optional(),
  parentBeaconBlockRoot: Hash32.optional(),
  uncles: z.array(Hash32),
  transactions: z.union([z.array(Hash32), z.array(RpcTransaction)]),
});
export type RpcBlock = z.infer<typeof RpcBlock>;

/** eth_call / eth_estimateGas request object, as JSON-RPC clients send it. */
export const CallRequest = z.object({
  from: Address.optional(),
  to: Address.nullable().optional(),
  gas: HexQuantity.optional(),
  gasPrice: HexQuantity.optional(),
  maxFeePerGas: HexQuantity.optional(),
  maxPriorityFeePerGas: HexQuantity.optional(),
  value: HexQuantity.optional(),
  data: HexBytes.optional(),
  input: HexBytes.optional(),
  nonce: HexQuantity.optional(),
  type: HexQuantity.optional(),
  chainId: HexQuantity.optional(),
  accessList: z.array(z.object({ address: Address, storageKeys: z.array(Hash32) })).optional(),
});
export type CallRequest = z.infer<typeof CallRequest>;

export const LogFilter = z.object({
  fromBlock: BlockTag.optional(),
  toBlock: BlockTag.optional(),
  blockHash: Hash32.optional(),
  address: z.union([Address, z.array(Address)]).optional(),
  topics: z.array(z.union([Hash32, z.array(Hash32), z.null()])).optional(),
});
export type LogFilter = z.infer<typeof LogFilter>;

/** gateway → executor (request/reply on subjects.ledgerQuery). */
export const LedgerQuery = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('head') }),
  z.object({ kind: z.literal('blockByNumber'), block: BlockTag, fullTransactions: z.boolean() }),
  z.object({ kind: z.literal('blockByHash'), hash: Hash32, fullTransactions: z.boolean() }),
  z.object({ kind: z.literal('transaction'), hash: Hash32 }),
  z.object({ kind: z.literal('receipt'), hash: Hash32 }),
  z.object({ kind: z.literal('logs'), filter: LogFilter }),
  /** `private`: run on this participant's private state even when `to` holds no private contract (a private creation). */
  z.object({ kind: z.literal('call'), call: CallRequest, block: BlockTag, private: z.boolean().optional() }),
  z.object({ kind: z.literal('estimateGas'), call: CallRequest, block: BlockTag, private: z.boolean().optional() }),
  z.object({ kind: z.literal('privacyMetadata'), address: Address }),
]);
export type LedgerQuery = z.infer<typeof LedgerQuery>;

/** eth_getContractPrivacyMetadata: what this participant recorded when the private contract was created. */
export const PrivacyMetadata = z.object({
  creationTxHash: Hash32,
  privacyFlag: z.union([z.literal(0), z.literal(1), z.literal(3)]),
  /** Every party's privacy key (GoQuorum's mandatoryFor is not supported: empty). */
  parties: z.array(z.string()),
});
export type PrivacyMetadata = z.infer<typeof PrivacyMetadata>;

export const Head = z.object({ number: HexQuantity, hash: Hash32, stateRoot: Hash32, timestamp: HexQuantity, gasLimit: HexQuantity });
export type Head = z.infer<typeof Head>;

/** executor → everyone of its participant (publish on subjects.blockExecuted), after the block is stored. */
export const BlockExecuted = z.object({
  number: HexQuantity,
  hash: Hash32,
  stateRoot: Hash32,
  /** This participant's private state root after the block (absent in blocks stored before private state). */
  privateStateRoot: Hash32.optional(),
  timestamp: HexQuantity,
  gasLimit: HexQuantity,
  gasUsed: HexQuantity,
  transactions: z.array(Hash32),
  /** Hashes of committed transactions the executor refused (bad nonce, no funds): they will never land. */
  dropped: z.array(Hash32),
});
export type BlockExecuted = z.infer<typeof BlockExecuted>;

/**
 * executor → its gateway (publish on subjects.blockReceipts), just before the block's BlockExecuted: the receipt
 * of every transaction of the block as this participant answers it (its private receipt where it has one), so
 * that a wallet polling for a receipt is answered from the gateway's cache rather than by a query per transaction.
 * Not stored: the gateway asks the ledger for whatever it missed.
 */
export const BlockReceipts = z.object({ number: HexQuantity, receipts: z.array(RpcReceipt) });
export type BlockReceipts = z.infer<typeof BlockReceipts>;

/** executor → its consensus (publish on subjects.transactionsDropped), for a block that dropped transactions. */
export const TransactionsDroppedReport = BlockExecuted.pick({ number: true, dropped: true });
export type TransactionsDroppedReport = z.infer<typeof TransactionsDroppedReport>;
