/**
 * Messages of the ledger actors (block executor and public state store). Other actors import only this
 * file (through index.ts). Shapes returned to the gateway are already in Ethereum JSON-RPC form: the
 * ledger is the authority on how its blocks, transactions, receipts and logs look on the wire.
 */
import { z } from 'zod';
import { Address, Hash32, HexBytes, HexQuantity } from '../../lib/hex.js';

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
  z.object({ kind: z.literal('call'), call: CallRequest, block: BlockTag }),
  z.object({ kind: z.literal('estimateGas'), call: CallRequest, block: BlockTag }),
]);
export type LedgerQuery = z.infer<typeof LedgerQuery>;

export const Head = z.object({ number: HexQuantity, hash: Hash32, stateRoot: Hash32, timestamp: HexQuantity, gasLimit: HexQuantity });
export type Head = z.infer<typeof Head>;

/** executor → everyone of its participant (publish on subjects.blockExecuted), after the block is stored. */
export const BlockExecuted = z.object({
  number: HexQuantity,
  hash: Hash32,
  stateRoot: Hash32,
  timestamp: HexQuantity,
  gasLimit: HexQuantity,
  gasUsed: HexQuantity,
  transactions: z.array(Hash32),
  /** Hashes of committed transactions the executor refused (bad nonce, no funds): they will never land. */
  dropped: z.array(Hash32),
});
export type BlockExecuted = z.infer<typeof BlockExecuted>;

/** executor → state store: the trie nodes a block wrote, persisted in one batch before the block counts as stored. */
export const StateApply = z.object({
  number: HexQuantity,
  blockHash: Hash32,
  stateRoot: Hash32,
  /** [key, value] pairs of the state trie database (trie nodes and contract code), hex. */
  nodes: z.array(z.tuple([HexBytes, HexBytes])),
});
export type StateApply = z.infer<typeof StateApply>;

/** executor → state store: consecutive blocks' trie writes in one request (the executor batches when behind). */
export const StateApplyBatch = z.object({ blocks: z.array(StateApply).min(1).max(200) });
export type StateApplyBatch = z.infer<typeof StateApplyBatch>;

/** executor → state store: trie database entries it misses in its cache (after a restart, say). */
export const StateNodesRequest = z.object({ keys: z.array(HexBytes).max(4096) });
export const StateNodesReply = z.object({ values: z.array(HexBytes.nullable()) });

/** gateway → state store: state at a block number (the gateway resolves tags to numbers). */
export const StateRead = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('account'), address: Address, block: HexQuantity }),
  /** Many accounts at one block in one round trip (the gateway's admission of a burst of transactions). */
  z.object({ kind: z.literal('accounts'), addresses: z.array(Address).min(1).max(1000), block: HexQuantity }),
  z.object({ kind: z.literal('code'), address: Address, block: HexQuantity }),
  z.object({ kind: z.literal('storage'), address: Address, slot: Hash32, block: HexQuantity }),
]);
export type StateRead = z.infer<typeof StateRead>;
export const AccountState = z.object({ nonce: HexQuantity, balance: HexQuantity, codeHash: Hash32, storageRoot: Hash32 });
export type AccountState = z.infer<typeof AccountState>;
