/**
 * One committed block through the VM, without BlockBuilder/runBlock: each transaction runs with `runTx`
 * inside one block-level journal checkpoint (state is flushed to the trie once, at the end of the block),
 * an invalid transaction is skipped deterministically (runTx reverts its own checkpoint when it throws),
 * then the header is assembled here. No clock, no randomness: the same CommittedBlock sequence gives the
 * same hashes on every participant.
 */
import { createBlock, createBlockHeader, type Block, type BlockHeader } from '@ethereumjs/block';
import type { Common } from '@ethereumjs/common';
import { createLegacyTx, type TypedTransaction } from '@ethereumjs/tx';
import type { Log } from '@ethereumjs/evm';
import {
  Account,
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
import type { RpcLog, RpcReceipt, RpcTransaction } from './messages.js';
import type { ReceivedPayload } from '../../tm/messages.js';
import { keccak256 } from '../../../lib/ethereum/chain.js';
import { decodeRawTransaction } from '../../../lib/ethereum/transaction.js';
import { contractParties, privacyViolation, type PrivateContract } from '../../../lib/ethereum/privacy-rules.js';
import { blockSize, receiptsRoot, transactionsRoot } from './receipts.js';
import { MissingStateNodeError, type NodeStore, type StoreDB } from './recording-db.js';
import type { PrivateStateManager } from './private-state-manager.js';
import { formatBlock, formatLog, formatReceipt, formatTransaction, type ReceiptInput } from './rpc-format.js';
import type { RpcBlock } from './messages.js';

export interface HeadInfo {
  number: bigint;
  hash: string;
  stateRoot: string;
  /** This participant's private state root after the block (the same on every party of the same contracts). */
  privateStateRoot: string;
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
  privateStateRoot: string;
  timestamp: bigint;
  gasLimit: bigint;
  gasUsed: bigint;
  /** transactions as hashes */
  block: RpcBlock;
  transactions: RpcTransaction[];
  /** public receipts: the same on every participant (a private transaction's shows only its nonce and gas) */
  receipts: RpcReceipt[];
  /** all public logs of the block, in order (logIndex is block-wide) */
  logs: RpcLog[];
  /** receipts of the private transactions this participant is a party to (what its parties' users see) */
  privateReceipts: RpcReceipt[];
  privateLogs: RpcLog[];
  /** private contracts this block created, as this participant records them */
  privateContracts: PrivateContract[];
  /** committed transactions that failed validation: skipped, not in the block, will never land */
  dropped: DroppedTx[];
  /** every entry this block added to the public state trie database (account + storage trie nodes, contract code) */
  nodes: [Uint8Array, Uint8Array][];
  /** the same for this participant's private state */
  privateNodes: [Uint8Array, Uint8Array][];
}

/** The environment could not answer (missing trie node, unknown block hash, tm away): the block is aborted, state untouched. */
export class ExecutionEnvironmentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExecutionEnvironmentError';
  }
}

/** The payloads of a block's private transactions, from this participant's tm. Throws when the tm cannot answer. */
export type FetchPayloads = (hashes: string[]) => Promise<Map<string, ReceivedPayload>>;

export interface PrivateStateEnv {
  vm: VM;
  store: NodeStore;
  storeDb: StoreDB;
  /** Private contracts known before this block. */
  contract(address: string): PrivateContract | undefined;
}

export interface BlockEnv {
  vm: VM;
  common: Common;
  store: NodeStore;
  storeDb: StoreDB;
  coinbase: Address;
  private: PrivateStateEnv;
  payloads: FetchPayloads;
  /** faults of the BLOCKHASH source (see engine) */
  blockHashFaults(): number;
}

const ZERO_HASH = '0x' + '00'.repeat(32);

/** Header fields shared by the execution-time header and the final one. */
function baseHeaderData(parent: Pick<HeadInfo, 'hash' | 'gasLimit'>, number: bigint, timestamp: bigint, coinbase: Address, extraData: Uint8Array = new Uint8Array(0)) {
  return {
    parentHash: hexToBytes(parent.hash as `0x${string}`),
    uncleHash: KECCAK256_RLP_ARRAY,
    coinbase,
    difficulty: 0n,
    number,
    gasLimit: parent.gasLimit,
    timestamp,
    extraData,
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
export function envBlock(common: Common, parent: Pick<HeadInfo, 'hash' | 'gasLimit'>, number: bigint, timestamp: bigint, coinbase: Address): Block {
  return createBlock({ header: baseHeaderData(parent, number, timestamp, coinbase) }, { common });
}

function cleanReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // runTx appends " (vm hf=... -> block ... -> tx ...)": keep the first, stable part.
  const i = msg.indexOf(' (vm hf=');
  return (i >= 0 ? msg.slice(0, i) : msg).slice(0, 500);
}

/** One transaction's effect, public or private, in the shape receipts are made from. */
interface Outcome {
  status: 0 | 1;
  gasUsed: bigint;
  logs: Log[];
  bloom: Uint8Array;
  createdAddress?: Address;
  revertData?: Uint8Array;
}

interface Included {
  tx: TypedTransaction;
  from: Address;
  outcome: Outcome;
  cumulativeGasUsed: bigint;
  /** For a private transaction this participant is a party to: what it did to the private state. */
  privateOutcome?: Outcome;
}

function outcomeOf(result: RunTxResult): Outcome {
  const failed = result.execResult.exceptionError !== undefined;
  return {
    status: failed ? 0 : 1,
    gasUsed: result.totalGasSpent,
    logs: result.execResult.logs ?? [],
    bloom: result.bloom.bitvector,
    createdAddress: result.createdAddress,
    revertData: failed && result.execResult.returnValue.length > 0 ? result.execResult.returnValue : undefined,
  };
}

/**
 * The private transaction as its parties run it: the same sender, nonce, gas and target, with the decrypted
 * payload as its data. Unsigned: the sender is the one recovered from the transaction on chain.
 */
function privateExecutionTx(tx: TypedTransaction, from: Address, payload: Uint8Array, common: Common): TypedTransaction {
  const ptx = createLegacyTx({ nonce: tx.nonce, gasPrice: 0n, gasLimit: tx.gasLimit, to: tx.to, value: 0n, data: payload }, { common, freeze: false });
  Object.defineProperty(ptx, 'getSenderAddress', { value: () => from });
  return ptx;
}

const EMPTY_BLOOM = new Uint8Array(256);
/** A private transaction that changed nothing (refused by the privacy rules, failed, or undone). */
const noPrivateEffect = (gasUsed = 0n): Outcome => ({ status: 0, gasUsed, logs: [], bloom: EMPTY_BLOOM });

/**
 * Execute `committed` on top of `parent`. The caller (the engine) serialises calls and, when this throws an
 * ExecutionEnvironmentError after state was touched, rebuilds its VMs at `parent` (see engine.ts).
 */
export async function executeCommittedBlock(env: BlockEnv, parent: HeadInfo, committed: CommittedBlock): Promise<ExecutedBlock> {
  const { vm, common, store, storeDb, coinbase } = env;
  const priv = env.private;
  const number = BigInt(committed.height);
  const ts = BigInt(committed.timestamp);
  const timestamp = ts > parent.timestamp ? ts : parent.timestamp;
  const gasLimit = parent.gasLimit;
  const block = envBlock(common, parent, number, timestamp, coinbase);

  // Decode every transaction once; ask the tm for every private payload of the block in one request. A tm that
  // does not answer aborts the block (retried later): "no answer" is never "not a recipient".
  const decoded = committed.transactions.map((rawHex) => {
    const raw = hexToBytes(rawHex as `0x${string}`);
    return { raw, result: decodeRawTransaction(raw, common) };
  });
  const privateHashes = [...new Set(decoded.flatMap((d) => (d.result.ok && d.result.value.isPrivate ? [bytesToHex(d.result.value.data)] : [])))];
  let payloads = new Map<string, ReceivedPayload>();
  if (privateHashes.length > 0) {
    try {
      payloads = await env.payloads(privateHashes);
    } catch (err) {
      throw new ExecutionEnvironmentError(`block ${number} waits for private payloads: ${cleanReason(err)}`, { cause: err });
    }
  }

  const faults0 = storeDb.faults;
  const pfaults0 = priv.storeDb.faults;
  const bhFaults0 = env.blockHashFaults();
  const faulted = () => storeDb.faults !== faults0 || priv.storeDb.faults !== pfaults0 || env.blockHashFaults() !== bhFaults0;
  const lastFault = () => (priv.storeDb.faults !== pfaults0 ? priv.storeDb.lastFault : storeDb.lastFault);
  const fatal = (err: unknown): ExecutionEnvironmentError =>
    err instanceof ExecutionEnvironmentError
      ? err
      : new ExecutionEnvironmentError(`block ${number} aborted: ${faulted() && lastFault() ? lastFault()!.message : cleanReason(err)}`, { cause: err });

  store.startRecording();
  priv.store.startRecording();
  await vm.evm.journal.checkpoint();
  await priv.vm.evm.journal.checkpoint();
  let checkpointOpen = true;

  const included: Included[] = [];
  const dropped: DroppedTx[] = [];
  const createdContracts = new Map<string, PrivateContract>();
  let gasUsed = 0n;

  /** Run a private transaction's payload against the private state, if the privacy rules let it. */
  const runPrivate = async (tx: TypedTransaction, from: Address, hash: string, payload: Extract<ReceivedPayload, { found: true }>): Promise<Outcome> => {
    const isCreation = tx.to === undefined;
    const target = isCreation ? undefined : (createdContracts.get(tx.to!.toString()) ?? priv.contract(tx.to!.toString()));
    const violation = privacyViolation(target, payload, isCreation);
    if (violation) return noPrivateEffect();
    // The private sender account carries the public nonce, so a private contract's address is the one its
    // public nonce gives (as in GoQuorum), on every party alike.
    const state = priv.vm.stateManager as PrivateStateManager;
    const account = (await state.ownAccount(from)) ?? new Account();
    account.nonce = tx.nonce;
    await state.putOwnAccount(from, account);
    let result: RunTxResult;
    // A checkpoint of its own: a transaction that wrote public state is undone whole.
    await priv.vm.evm.journal.checkpoint();
    try {
      const ptx = privateExecutionTx(tx, from, hexToBytes(payload.payload as `0x${string}`), common);
      result = await runTx(priv.vm, { tx: ptx, block, skipNonce: true, skipBalance: true, skipHardForkValidation: true });
    } catch (err) {
      await priv.vm.evm.journal.revert();
      state.takeViolation();
      if (faulted() || err instanceof MissingStateNodeError) throw fatal(err);
      return noPrivateEffect();
    }
    if (faulted()) throw fatal(lastFault());
    if (state.takeViolation()) {
      await priv.vm.evm.journal.revert();
      return noPrivateEffect(result.totalGasSpent);
    }
    await priv.vm.evm.journal.commit();
    const outcome = outcomeOf(result);
    if (isCreation && outcome.status === 1) {
      const address = (result.createdAddress ?? createContractAddress(from, tx.nonce)).toString();
      createdContracts.set(address, { address, creationTxHash: hash, privacyFlag: payload.privacyFlag, parties: contractParties(payload) });
    }
    return outcome;
  };

  try {
    for (const { raw, result: d } of decoded) {
      if (!d.ok) {
        dropped.push({ hash: bytesToHex(keccak256(raw)), reason: d.error.message });
        continue;
      }
      const { tx, hash, isPrivate } = d.value;
      const from = tx.getSenderAddress();
      const remaining = gasLimit - gasUsed;
      if (tx.gasLimit > remaining) {
        dropped.push({ hash, reason: `gas limit ${tx.gasLimit} exceeds the block's remaining gas ${remaining}` });
        continue;
      }
      const intrinsic = d.value.intrinsicGas;
      if (tx.gasLimit < intrinsic) {
        dropped.push({ hash, reason: `intrinsic gas too low: gas limit ${tx.gasLimit}, intrinsic gas ${intrinsic}` });
        continue;
      }
      const account = await vm.stateManager.getAccount(from);
      if (faulted()) throw fatal(lastFault());
      const nonce = account?.nonce ?? 0n;
      if (tx.nonce < nonce) {
        dropped.push({ hash, reason: `nonce too low: account ${from} has nonce ${nonce}, tx has ${tx.nonce}` });
        continue;
      }
      if (tx.nonce > nonce) {
        dropped.push({ hash, reason: `nonce too high: account ${from} has nonce ${nonce}, tx has ${tx.nonce}` });
        continue;
      }
      const feeCap = d.value.feeCap;
      const maxCost = tx.value + tx.gasLimit * feeCap;
      const balance = account?.balance ?? 0n;
      if (balance < maxCost) {
        dropped.push({ hash, reason: `insufficient funds: account ${from} has ${balance}, tx needs up to ${maxCost}` });
        continue;
      }

      if (isPrivate) {
        if (tx.value !== 0n) {
          dropped.push({ hash, reason: 'ether value is not supported for private transactions' });
          continue;
        }
        // On the public state a private transaction only uses its nonce and its intrinsic gas (gas is free).
        const updated = account ?? new Account();
        updated.nonce = nonce + 1n;
        await vm.stateManager.putAccount(from, updated);
        gasUsed += intrinsic;
        const payload = payloads.get(bytesToHex(tx.data));
        const outcome: Outcome = {
          status: 1,
          gasUsed: intrinsic,
          logs: [],
          bloom: EMPTY_BLOOM,
          createdAddress: tx.to === undefined ? createContractAddress(from, tx.nonce) : undefined,
        };
        const privateOutcome = payload?.found ? await runPrivate(tx, from, hash, payload) : undefined;
        included.push({ tx, from, outcome, cumulativeGasUsed: gasUsed, privateOutcome });
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
      if (faulted()) throw fatal(lastFault());
      gasUsed += result.totalGasSpent;
      included.push({ tx, from, outcome: outcomeOf(result), cumulativeGasUsed: gasUsed });
    }

    checkpointOpen = false;
    await vm.evm.journal.commit(); // outermost: flushes caches into the tries → StoreDB puts (recorded)
    await priv.vm.evm.journal.commit();
    if (faulted()) throw fatal(lastFault());
  } catch (err) {
    if (checkpointOpen) {
      try {
        await vm.evm.journal.revert();
        await priv.vm.evm.journal.revert();
      } catch {
        /* the engine rebuilds the VMs anyway */
      }
    }
    store.discardRecording();
    priv.store.discardRecording();
    throw fatal(err);
  }

  let stateRoot: Uint8Array;
  let privateStateRoot: Uint8Array;
  try {
    stateRoot = await vm.stateManager.getStateRoot();
    privateStateRoot = await priv.vm.stateManager.getStateRoot();
    if (faulted()) throw fatal(lastFault());
  } catch (err) {
    store.discardRecording();
    priv.store.discardRecording();
    throw fatal(err);
  }
  const nodes = store.takeRecorded();
  const privateNodes = priv.store.takeRecorded();

  // Header: public receipts only, so every participant computes the same block.
  const txs = included.map((i) => i.tx);
  const bloom = new Bloom(undefined, common);
  for (const i of included) for (let b = 0; b < 256; b++) bloom.bitvector[b] |= i.outcome.bloom[b];
  const receiptList = included.map((i) => ({
    receipt: { status: i.outcome.status, cumulativeBlockGasUsed: i.cumulativeGasUsed, bitvector: i.outcome.bloom, logs: i.outcome.logs } as TxReceipt,
    txType: i.tx.type,
  }));
  const [txRoot, rcptRoot] = await Promise.all([transactionsRoot(txs), receiptsRoot(receiptList)]);
  const header: BlockHeader = createBlockHeader(
    {
      // The consensus evidence (QBFT: digest, round, the parent's commit seals), identical on every participant.
      ...baseHeaderData(parent, number, timestamp, coinbase, hexToBytes((committed.extraData ?? '0x') as `0x${string}`)),
      stateRoot,
      transactionsTrie: txRoot,
      receiptTrie: rcptRoot,
      logsBloom: bloom.bitvector,
      gasUsed,
    },
    // Proof of stake caps extraData at 32 bytes; a QBFT header carries its commit seals there, as IBFT does.
    { common, skipConsensusFormatValidation: true },
  );
  const blockHash = bytesToHex(header.hash());
  return assemble(header, blockHash, included, dropped, nodes, {
    privateStateRoot: bytesToHex(privateStateRoot),
    privateNodes,
    privateContracts: [...createdContracts.values()],
  });
}

function assemble(
  header: BlockHeader,
  blockHash: string,
  included: Included[],
  dropped: DroppedTx[],
  nodes: [Uint8Array, Uint8Array][],
  priv: { privateStateRoot: string; privateNodes: [Uint8Array, Uint8Array][]; privateContracts: PrivateContract[] },
): ExecutedBlock {
  const number = header.number;
  const transactions: RpcTransaction[] = [];
  const receipts: RpcReceipt[] = [];
  const logs: RpcLog[] = [];
  const privateReceipts: RpcReceipt[] = [];
  const privateLogs: RpcLog[] = [];
  let logIndex = 0;
  const receiptOf = (inc: Included, index: number, outcome: Outcome, txLogs: RpcLog[]): RpcReceipt => {
    const input: ReceiptInput = {
      tx: inc.tx,
      from: inc.from,
      index,
      status: outcome.status,
      gasUsed: outcome.gasUsed,
      cumulativeGasUsed: inc.cumulativeGasUsed,
      contractAddress: inc.tx.to === undefined ? (outcome.createdAddress ?? createContractAddress(inc.from, inc.tx.nonce)) : null,
      logs: txLogs,
      logsBloom: outcome.bloom,
    };
    if (outcome.revertData) input.revertReason = outcome.revertData;
    return formatReceipt(input, { hash: blockHash, number });
  };
  included.forEach((inc, index) => {
    const txHash = bytesToHex(inc.tx.hash());
    transactions.push(formatTransaction(inc.tx, inc.from, { blockHash, blockNumber: number, index }));
    const at = (i: number) => ({ blockHash, blockNumber: number, transactionHash: txHash, transactionIndex: index, logIndex: i });
    const txLogs = inc.outcome.logs.map((log) => formatLog(log, at(logIndex++)));
    logs.push(...txLogs);
    receipts.push(receiptOf(inc, index, inc.outcome, txLogs));
  });
  // Private logs are numbered after the block's public ones, so no two logs of a block share an index.
  included.forEach((inc, index) => {
    if (!inc.privateOutcome) return;
    const txHash = bytesToHex(inc.tx.hash());
    const txLogs = inc.privateOutcome.logs.map((log) =>
      formatLog(log, { blockHash, blockNumber: number, transactionHash: txHash, transactionIndex: index, logIndex: logIndex++ }),
    );
    privateLogs.push(...txLogs);
    privateReceipts.push(receiptOf(inc, index, inc.privateOutcome, txLogs));
  });
  const size = blockSize(header.raw() as Uint8Array[], included.map((i) => i.tx), header.withdrawalsRoot !== undefined);
  return {
    number,
    hash: blockHash,
    parentHash: bytesToHex(header.parentHash),
    stateRoot: bytesToHex(header.stateRoot),
    privateStateRoot: priv.privateStateRoot,
    timestamp: header.timestamp,
    gasLimit: header.gasLimit,
    gasUsed: header.gasUsed,
    block: formatBlock(header, transactions.map((t) => t.hash), size),
    transactions,
    receipts,
    logs,
    privateReceipts,
    privateLogs,
    privateContracts: priv.privateContracts,
    dropped,
    nodes,
    privateNodes: priv.privateNodes,
  };
}

/** The genesis header (block 0) over a given state root. */
export function genesisHeader(common: Common, stateRoot: Uint8Array, timestamp: bigint, gasLimit: bigint): BlockHeader {
  const parent = { hash: ZERO_HASH, gasLimit };
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

/** Private state starts empty: the root of the empty trie. */
export const EMPTY_STATE_ROOT = bytesToHex(KECCAK256_RLP);

export function executedGenesis(header: BlockHeader, nodes: [Uint8Array, Uint8Array][]): ExecutedBlock {
  return assemble(header, bytesToHex(header.hash()), [], [], nodes, { privateStateRoot: EMPTY_STATE_ROOT, privateNodes: [], privateContracts: [] });
}
