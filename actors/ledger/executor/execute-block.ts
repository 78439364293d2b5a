/**
 * One committed block through the VM, without BlockBuilder/runBlock: each transaction runs with `runTx`
 * inside one block-level journal checkpoint (state is flushed to the trie once, at the end of the block),
 * an invalid transaction is skipped deterministically (runTx reverts its own checkpoint when it throws),
 * then the header is assembled here. No clock, no randomness: the same CommittedBlock sequence gives the
 * same hashes on every participant.
 */
import { createBlock, createBlockHeader, type Block, type BlockHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import type { TypedTransaction } from '@ethereumjs/tx';
import {
  Address,
  bytesToHex,
  createContractAddress,
  createZeroAddress,
  hexToBytes,
  KECCAK256_RLP,
  KECCAK256_RLP_ARRAY,
} from '@ethereumjs/util';
import { Bloom, runTx, type RunTxResult, type TxReceipt, type VM } from '@ethereumjs/vm';
import type { CommittedBlock } from '../../consensus/messages.js';
import type { RpcLog, RpcReceipt, RpcTransaction } from '../messages.js';
import { decodeTransaction, keccak256, recoverSender } from '../../../lib/ethereum/chain.js';
import { blockSize, receiptsRoot, transactionsRoot } from './receipts.js';
import { MissingStateNodeError, type NodeStore, type StoreDB } from './recording-db.js';
import { formatBlock, formatLog, formatReceipt, formatTransaction, type ReceiptInput } from './rpc-format.js';
import type { RpcBlock } from '../messages.js';

export interface HeadInfo {
  number: bigint;
  hash: string;
  stateRoot: string;
  timestamp: bigint;
  gasLimit: bigint;
}

export interface DroppedTx {
  hash: string;
  reason: string;
}

export interface ExecutedBlock {
  number: bigint;
  hash: string;
  parentHash: string;
  stateRoot: string;
  timestamp: bigint;
  gasLimit: bigint;
  gasUsed: bigint;
  /** transactions as hashes */
  block: RpcBlock;
  transactions: RpcTransaction[];
  receipts: RpcReceipt[];
  /** all logs of the block, in order (logIndex is block-wide) */
  logs: RpcLog[];
  /** committed transactions that failed validation: skipped, not in the block, will never land */
  dropped: DroppedTx[];
  /** every entry this block added to the state trie database (account + storage trie nodes, contract code) */
  nodes: [Uint8Array, Uint8Array][];
}

/** The environment could not answer (missing trie node, unknown block hash): the block is aborted, state untouched. */
export class ExecutionEnvironmentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecutionEnvironmentError';
  }
}

export interface BlockEnv {
  vm: VM;
  common: Common;
  store: NodeStore;
  storeDb: StoreDB;
  coinbase: Address;
  /** faults of the BLOCKHASH source (see engine) */
  blockHashFaults(): number;
}

export const ZERO_HASH = '0x' + '00'.repeat(32);

/** Header fields shared by the execution-time header and the final one. */
function baseHeaderData(parent: HeadInfo, number: bigint, timestamp: bigint, coinbase: Address) {
  return {
    parentHash: hexToBytes(parent.hash as `0x${string}`),
    uncleHash: KECCAK256_RLP_ARRAY,
    coinbase,
    difficulty: 0n,
    number,
    gasLimit: parent.gasLimit,
    timestamp,
    extraData: new Uint8Array(0),
    mixHash: new Uint8Array(32),
    nonce: new Uint8Array(8),
    baseFeePerGas: 0n,
    withdrawalsRoot: KECCAK256_RLP,
    blobGasUsed: 0n,
    excessBlobGas: 0n,
    parentBeaconBlockRoot: new Uint8Array(32),
  };
}

/** The block environment the EVM sees (NUMBER, TIMESTAMP, COINBASE, GASLIMIT, BASEFEE=0, PREVRANDAO=0). */
export function envBlock(common: Common, parent: HeadInfo, number: bigint, timestamp: bigint, coinbase: Address): Block {
  return createBlock({ header: baseHeaderData(parent, number, timestamp, coinbase) }, { common });
}

function cleanReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // runTx appends " (vm hf=... -> block ... -> tx ...)": keep the first, stable part.
  const i = msg.indexOf(' (vm hf=');
  return (i >= 0 ? msg.slice(0, i) : msg).slice(0, 500);
}

interface Included {
  tx: TypedTransaction;
  from: Address;
  result: RunTxResult;
  cumulativeGasUsed: bigint;
}

/**
 * Execute `committed` on top of `parent`. The caller (the engine) serialises calls and, when this throws an
 * ExecutionEnvironmentError after state was touched, rebuilds its VM at `parent` (see engine.ts).
 */
export async function executeCommittedBlock(env: BlockEnv, parent: HeadInfo, committed: CommittedBlock): Promise<ExecutedBlock> {
  const { vm, common, store, storeDb, coinbase } = env;
  const number = BigInt(committed.height);
  const ts = BigInt(committed.timestamp);
  const timestamp = ts > parent.timestamp ? ts : parent.timestamp;
  const gasLimit = parent.gasLimit;
  const block = envBlock(common, parent, number, timestamp, coinbase);

  const faults0 = storeDb.faults;
  const bhFaults0 = env.blockHashFaults();
  const faulted = () => storeDb.faults !== faults0 || env.blockHashFaults() !== bhFaults0;
  const fatal = (err: unknown): ExecutionEnvironmentError =>
    err instanceof ExecutionEnvironmentError
      ? err
      : new ExecutionEnvironmentError(
          `block ${number} aborted: ${storeDb.lastFault && storeDb.faults !== faults0 ? storeDb.lastFault.message : cleanReason(err)}`,
          { cause: err },
        );

  store.startRecording();
  await vm.evm.journal.checkpoint();
  let checkpointOpen = true;

  const included: Included[] = [];
  const dropped: DroppedTx[] = [];
  let gasUsed = 0n;

  try {
    for (const rawHex of committed.transactions) {
      const raw = hexToBytes(rawHex as `0x${string}`);
      let tx: TypedTransaction;
      try {
        tx = decodeTransaction(raw, common);
      } catch (err) {
        dropped.push({ hash: bytesToHex(keccak256(raw)), reason: `invalid transaction: ${cleanReason(err)}` });
        continue;
      }
      const hash = bytesToHex(tx.hash());
      let from: Address;
      try {
        from = recoverSender(tx);
      } catch (err) {
        dropped.push({ hash, reason: `invalid signature: ${cleanReason(err)}` });
        continue;
      }
      const remaining = gasLimit - gasUsed;
      if (tx.gasLimit > remaining) {
        dropped.push({ hash, reason: `gas limit ${tx.gasLimit} exceeds the block's remaining gas ${remaining}` });
        continue;
      }
      const intrinsic = tx.getIntrinsicGas();
      if (tx.gasLimit < intrinsic) {
        dropped.push({ hash, reason: `intrinsic gas too low: gas limit ${tx.gasLimit}, intrinsic gas ${intrinsic}` });
        continue;
      }
      const account = await vm.stateManager.getAccount(from);
      if (faulted()) throw fatal(storeDb.lastFault);
      const nonce = account?.nonce ?? 0n;
      if (tx.nonce < nonce) {
        dropped.push({ hash, reason: `nonce too low: account ${from} has nonce ${nonce}, tx has ${tx.nonce}` });
        continue;
      }
      if (tx.nonce > nonce) {
        dropped.push({ hash, reason: `nonce too high: account ${from} has nonce ${nonce}, tx has ${tx.nonce}` });
        continue;
      }
      const feeCap = 'maxFeePerGas' in tx ? tx.maxFeePerGas : (tx as { gasPrice: bigint }).gasPrice;
      const maxCost = tx.value + tx.gasLimit * feeCap;
      const balance = account?.balance ?? 0n;
      if (balance < maxCost) {
        dropped.push({ hash, reason: `insufficient funds: account ${from} has ${balance}, tx needs up to ${maxCost}` });
        continue;
      }
      let result: RunTxResult;
      try {
        result = await runTx(vm, { tx, block, blockGasUsed: gasUsed, skipHardForkValidation: true });
      } catch (err) {
        if (faulted() || err instanceof MissingStateNodeError) throw fatal(err);
        dropped.push({ hash, reason: cleanReason(err) });
        continue;
      }
      if (faulted()) throw fatal(storeDb.lastFault);
      gasUsed += result.totalGasSpent;
      included.push({ tx, from, result, cumulativeGasUsed: gasUsed });
    }

    checkpointOpen = false;
    await vm.evm.journal.commit(); // outermost: flushes caches into the tries → StoreDB puts (recorded)
    if (faulted()) throw fatal(storeDb.lastFault);
  } catch (err) {
    if (checkpointOpen) {
      try {
        await vm.evm.journal.revert();
      } catch {
        /* the engine rebuilds the VM anyway */
      }
    }
    store.discardRecording();
    throw fatal(err);
  }

  let stateRoot: Uint8Array;
  try {
    stateRoot = await vm.stateManager.getStateRoot();
    if (faulted()) throw fatal(storeDb.lastFault);
  } catch (err) {
    store.discardRecording();
    throw fatal(err);
  }
  const nodes = store.takeRecorded();

  // Header.
  const txs = included.map((i) => i.tx);
  const bloom = new Bloom(undefined, common);
  for (const i of included) bloom.or(i.result.bloom);
  const receiptList = included.map((i) => ({ receipt: i.result.receipt as TxReceipt, txType: i.tx.type }));
  const [txRoot, rcptRoot] = await Promise.all([transactionsRoot(txs), receiptsRoot(receiptList)]);
  const header: BlockHeader = createBlockHeader(
    {
      ...baseHeaderData(parent, number, timestamp, coinbase),
      stateRoot,
      transactionsTrie: txRoot,
      receiptTrie: rcptRoot,
      logsBloom: bloom.bitvector,
      gasUsed,
    },
    { common },
  );
  const blockHash = bytesToHex(header.hash());
  return assemble(header, blockHash, included, dropped, nodes);
}

function assemble(
  header: BlockHeader,
  blockHash: string,
  included: Included[],
  dropped: DroppedTx[],
  nodes: [Uint8Array, Uint8Array][],
): ExecutedBlock {
  const number = header.number;
  const transactions: RpcTransaction[] = [];
  const receipts: RpcReceipt[] = [];
  const logs: RpcLog[] = [];
  let logIndex = 0;
  included.forEach((inc, index) => {
    const { tx, from, result } = inc;
    const txHash = bytesToHex(tx.hash());
    transactions.push(formatTransaction(tx, from, { blockHash, blockNumber: number, index }));
    const txLogs = (result.execResult.logs ?? []).map((log) =>
      formatLog(log, { blockHash, blockNumber: number, transactionHash: txHash, transactionIndex: index, logIndex: logIndex++ }),
    );
    logs.push(...txLogs);
    const failed = result.execResult.exceptionError !== undefined;
    const input: ReceiptInput = {
      tx,
      from,
      index,
      status: failed ? 0 : 1,
      gasUsed: result.totalGasSpent,
      cumulativeGasUsed: inc.cumulativeGasUsed,
      contractAddress: tx.to === undefined ? (result.createdAddress ?? createContractAddress(from, tx.nonce)) : null,
      logs: txLogs,
      logsBloom: result.bloom.bitvector,
    };
    if (failed && result.execResult.returnValue.length > 0) input.revertReason = result.execResult.returnValue;
    receipts.push(formatReceipt(input, { hash: blockHash, number }));
  });
  const size = blockSize(header.raw() as Uint8Array[], included.map((i) => i.tx), header.withdrawalsRoot !== undefined);
  return {
    number,
    hash: blockHash,
    parentHash: bytesToHex(header.parentHash),
    stateRoot: bytesToHex(header.stateRoot),
    timestamp: header.timestamp,
    gasLimit: header.gasLimit,
    gasUsed: header.gasUsed,
    block: formatBlock(header, transactions.map((t) => t.hash), size),
    transactions,
    receipts,
    logs,
    dropped,
    nodes,
  };
}

/** The genesis header (block 0) over a given state root. */
export function genesisHeader(common: Common, stateRoot: Uint8Array, timestamp: bigint, gasLimit: bigint): BlockHeader {
  const parent: HeadInfo = { number: -1n, hash: ZERO_HASH, stateRoot: ZERO_HASH, timestamp, gasLimit };
  return createBlockHeader(
    {
      ...baseHeaderData(parent, 0n, timestamp, createZeroAddress()),
      stateRoot,
      transactionsTrie: KECCAK256_RLP,
      receiptTrie: KECCAK256_RLP,
      logsBloom: new Uint8Array(256),
      gasUsed: 0n,
    },
    { common },
  );
}

export function executedGenesis(header: BlockHeader, nodes: [Uint8Array, Uint8Array][]): ExecutedBlock {
  return assemble(header, bytesToHex(header.hash()), [], [], nodes);
}
