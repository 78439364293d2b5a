/**
 * Ethereum JSON-RPC shapes (as ethers v6 and web3.js v4 read them) for what the executor produces.
 * QUANTITY: 0x-hex without leading zeros; DATA: 0x-hex bytes; addresses: lowercase hex.
 */
import type { BlockHeader } from '@ethereumjs/block';
import { Capability, TransactionType, type TypedTransaction } from '@ethereumjs/tx';
import type { Address } from '@ethereumjs/util';
import type { Log } from '@ethereumjs/evm';
import { quantity, toHex } from '../../../lib/hex.js';
import type { RpcBlock, RpcLog, RpcReceipt, RpcTransaction } from './messages.js';

export interface TxLocation {
  blockHash: string;
  blockNumber: bigint;
  index: number;
}

/** The gas price a mined tx paid per gas, with base fee 0: legacy/2930 → gasPrice; 1559 → min(maxFee, tip). */
function effectiveGasPrice(tx: TypedTransaction, baseFee = 0n): bigint {
  if ('maxFeePerGas' in tx) {
    const tip = tx.maxPriorityFeePerGas;
    const cap = tx.maxFeePerGas;
    return baseFee + tip < cap ? baseFee + tip : cap;
  }
  return (tx as { gasPrice: bigint }).gasPrice;
}

export function formatTransaction(tx: TypedTransaction, from: Address, loc: TxLocation | null): RpcTransaction {
  const out: RpcTransaction = {
    hash: toHex(tx.hash()),
    type: quantity(tx.type),
    nonce: quantity(tx.nonce),
    blockHash: loc ? loc.blockHash : null,
    blockNumber: loc ? quantity(loc.blockNumber) : null,
    transactionIndex: loc ? quantity(loc.index) : null,
    from: from.toString(),
    to: tx.to ? tx.to.toString() : null,
    value: quantity(tx.value),
    gas: quantity(tx.gasLimit),
    gasPrice: quantity(loc ? effectiveGasPrice(tx) : 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice),
    input: toHex(tx.data),
    v: quantity(tx.v ?? 0n),
    r: quantity(tx.r ?? 0n),
    s: quantity(tx.s ?? 0n),
  };
  if (tx.type === TransactionType.Legacy) {
    if (tx.supports(Capability.EIP155ReplayProtection)) out.chainId = quantity(tx.common.chainId());
  } else {
    const typed = tx as TypedTransaction & { chainId: bigint; accessList: [Uint8Array, Uint8Array[]][] };
    out.chainId = quantity(typed.chainId);
    out.yParity = quantity(tx.v ?? 0n);
    out.accessList = typed.accessList.map(([address, keys]) => ({
      address: toHex(address),
      storageKeys: keys.map((k) => toHex(k)),
    }));
    if ('maxFeePerGas' in tx) {
      out.maxFeePerGas = quantity(tx.maxFeePerGas);
      out.maxPriorityFeePerGas = quantity(tx.maxPriorityFeePerGas);
    }
  }
  return out;
}

export function formatLog(
  log: Log,
  ctx: { blockHash: string; blockNumber: bigint; transactionHash: string; transactionIndex: number; logIndex: number },
): RpcLog {
  const [address, topics, data] = log;
  return {
    address: toHex(address),
    topics: topics.map((t) => toHex(t)),
    data: toHex(data),
    blockNumber: quantity(ctx.blockNumber),
    blockHash: ctx.blockHash,
    transactionHash: ctx.transactionHash,
    transactionIndex: quantity(ctx.transactionIndex),
    logIndex: quantity(ctx.logIndex),
    removed: false,
  };
}

export interface ReceiptInput {
  tx: TypedTransaction;
  from: Address;
  index: number;
  status: 0 | 1;
  gasUsed: bigint;
  cumulativeGasUsed: bigint;
  contractAddress: Address | null;
  logs: RpcLog[];
  logsBloom: Uint8Array;
  revertReason?: Uint8Array;
}

export function formatReceipt(r: ReceiptInput, block: { hash: string; number: bigint }): RpcReceipt {
  const out: RpcReceipt = {
    transactionHash: toHex(r.tx.hash()),
    transactionIndex: quantity(r.index),
    blockHash: block.hash,
    blockNumber: quantity(block.number),
    from: r.from.toString(),
    to: r.tx.to ? r.tx.to.toString() : null,
    cumulativeGasUsed: quantity(r.cumulativeGasUsed),
    gasUsed: quantity(r.gasUsed),
    effectiveGasPrice: quantity(effectiveGasPrice(r.tx)),
    contractAddress: r.contractAddress ? r.contractAddress.toString() : null,
    logs: r.logs,
    logsBloom: toHex(r.logsBloom),
    type: quantity(r.tx.type),
    status: quantity(r.status),
  };
  if (r.revertReason !== undefined && r.revertReason.length > 0) out.revertReason = toHex(r.revertReason);
  return out;
}

const ZERO8 = '0x0000000000000000';

export function formatBlock(header: BlockHeader, transactions: string[], size: number): RpcBlock {
  const out: RpcBlock = {
    number: quantity(header.number),
    hash: toHex(header.hash()),
    parentHash: toHex(header.parentHash),
    nonce: header.nonce.length === 8 ? toHex(header.nonce) : ZERO8,
    sha3Uncles: toHex(header.uncleHash),
    logsBloom: toHex(header.logsBloom),
    transactionsRoot: toHex(header.transactionsTrie),
    stateRoot: toHex(header.stateRoot),
    receiptsRoot: toHex(header.receiptTrie),
    miner: header.coinbase.toString(),
    difficulty: quantity(header.difficulty),
    totalDifficulty: '0x0',
    extraData: toHex(header.extraData),
    size: quantity(size),
    gasLimit: quantity(header.gasLimit),
    gasUsed: quantity(header.gasUsed),
    timestamp: quantity(header.timestamp),
    mixHash: toHex(header.mixHash),
    baseFeePerGas: quantity(header.baseFeePerGas ?? 0n),
    uncles: [],
    transactions,
  };
  if (header.withdrawalsRoot !== undefined) {
    out.withdrawalsRoot = toHex(header.withdrawalsRoot);
    out.withdrawals = [];
  }
  if (header.blobGasUsed !== undefined) out.blobGasUsed = quantity(header.blobGasUsed);
  if (header.excessBlobGas !== undefined) out.excessBlobGas = quantity(header.excessBlobGas);
  if (header.parentBeaconBlockRoot !== undefined) out.parentBeaconBlockRoot = toHex(header.parentBeaconBlockRoot);
  return out;
}
