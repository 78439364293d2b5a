/**
 * The ledger's execution core: one VM over a cached view of the public state, fed committed blocks in
 * order. Pure apart from the two callbacks it is given (trie nodes and block hashes it does not hold).
 * The actor shell (main.ts / shell*.ts) does the I/O: it persists each ExecutedBlock's `nodes` and block
 * data, publishes events, and answers queries with `call` / `estimateGas`.
 */
import type { Common } from '@ethereumjs/common';
import type { EVMMockBlockchainInterface } from '@ethereumjs/evm';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches } from '@ethereumjs/statemanager';
import { Account, bytesToHex, createAddressFromString, createZeroAddress, hexToBytes, ValueEncoding } from '@ethereumjs/util';
import { createVM, type VM } from '@ethereumjs/vm';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { NetworkDescription } from '../../../lib/network/description.js';
import type { CommittedBlock } from '../../consensus/messages.js';
import type { CallRequest } from '../messages.js';
import { runCall, estimateGas, type CallAt, type CallResult } from './call.js';
import { createLedgerCommon, keccak256 } from '../../../lib/ethereum/chain.js';
import { BatchingStateManager } from './state-manager.js';
import {
  envBlock,
  executeCommittedBlock,
  executedGenesis,
  ExecutionEnvironmentError,
  genesisHeader,
  type ExecutedBlock,
  type HeadInfo,
} from './execute-block.js';
import { NodeStore, OverlayDB, StoreDB, type FetchNodes } from './recording-db.js';

export type { ExecutedBlock, HeadInfo, DroppedTx } from './execute-block.js';
export type { CallAt, CallResult } from './call.js';
export { ExecutionEnvironmentError } from './execute-block.js';

type EVMMockBlock = Awaited<ReturnType<EVMMockBlockchainInterface['getBlock']>>;

export interface EngineOptions {
  network: Pick<NetworkDescription, 'chainId' | 'name' | 'genesis'>;
  /** Trie database entries by key (the public state store), asked on a cache miss. Return null for unknown keys. */
  fetchNodes?: FetchNodes;
  /** Restart point: the last executed block. Absent: build genesis (block 0) from network.genesis.alloc. */
  head?: { number: bigint; hash: string; stateRoot: string; timestamp: bigint; gasLimit?: bigint };
  /**
   * Hash of an earlier block, for BLOCKHASH after a restart (the engine remembers the last 256 it executed,
   * but not those before a restart). Without it, a BLOCKHASH of an unknown block aborts the block.
   */
  blockHash?: (number: bigint) => Promise<string | null>;
  /** Share one Common across engines in a process (default: a new one for the network). */
  common?: Common;
  /**
   * Bound on trie entries kept in memory. When exceeded at the start of a block, the engine forgets them
   * (and its account/storage caches) and refetches what it needs through `fetchNodes`. Only honoured with
   * `fetchNodes`, and only safe when every earlier block's `nodes` have been persisted before the next
   * executeBlock call (persist first). Default: unbounded.
   */
  nodeCacheLimit?: number;
}

/** BLOCKHASH source: the last 256 executed block hashes, then the `blockHash` callback. */
class RecentBlocks implements EVMMockBlockchainInterface {
  private readonly hashes = new Map<bigint, Uint8Array>();
  faults = 0;
  constructor(private readonly fallback?: (n: bigint) => Promise<string | null>) {}

  remember(number: bigint, hash: string): void {
    this.hashes.set(number, hexToBytes(hash as `0x${string}`));
    this.hashes.delete(number - 257n);
  }

  async getBlock(blockId: number): Promise<EVMMockBlock> {
    const n = BigInt(blockId);
    let h = this.hashes.get(n);
    if (h === undefined && this.fallback) {
      const hex = await this.fallback(n);
      if (hex) h = hexToBytes(hex as `0x${string}`);
    }
    if (h === undefined) {
      this.faults++;
      throw new ExecutionEnvironmentError(`BLOCKHASH: hash of block ${n} is not known to the executor`);
    }
    const bytes = h;
    return { hash: () => bytes };
  }

  async putBlock(): Promise<void> {}

  shallowCopy(): EVMMockBlockchainInterface {
    return this;
  }
}

/** A promise-chain mutex: one task at a time, in call order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

function stateManagerOver(common: Common, db: StoreDB | OverlayDB, root?: Uint8Array): BatchingStateManager {
  const trie = new MerklePatriciaTrie({ db, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, common });
  if (root) trie.root(root);
  return new BatchingStateManager({ common, trie, caches: new Caches(), keccak: keccak256 });
}

export class ExecutionEngine {
  private vm!: VM;
  private head_: HeadInfo;
  private genesis_: ExecutedBlock | null = null;
  private readonly exec = new Serial();
  private readonly calls = new Serial();
  private callVm: { vm: VM; db: OverlayDB; root: string } | null = null;
  private broken: Error | null = null;
  readonly coinbase = createZeroAddress();

  private nodeCacheLimit = Infinity;

  private constructor(
    readonly common: Common,
    readonly store: NodeStore,
    private readonly storeDb: StoreDB,
    private readonly recent: RecentBlocks,
    head: HeadInfo,
  ) {
    this.head_ = head;
  }

  static async create(opts: EngineOptions): Promise<ExecutionEngine> {
    const common = opts.common ?? createLedgerCommon(opts.network);
    const store = new NodeStore(opts.fetchNodes);
    const storeDb = new StoreDB(store);
    const recent = new RecentBlocks(opts.blockHash);
    const gasLimit = BigInt(opts.network.genesis.gasLimit);
    const limit = opts.fetchNodes && opts.nodeCacheLimit !== undefined ? opts.nodeCacheLimit : Infinity;
    if (opts.head) {
      const h = opts.head;
      const head: HeadInfo = { number: h.number, hash: h.hash, stateRoot: h.stateRoot, timestamp: h.timestamp, gasLimit: h.gasLimit ?? gasLimit };
      const engine = new ExecutionEngine(common, store, storeDb, recent, head);
      engine.nodeCacheLimit = limit;
      await engine.buildVm(head.stateRoot);
      recent.remember(head.number, head.hash);
      return engine;
    }
    // Genesis: block 0 from the alloc.
    const timestamp = BigInt(opts.network.genesis.timestamp);
    const placeholder: HeadInfo = { number: 0n, hash: '0x', stateRoot: '0x', timestamp, gasLimit };
    const engine = new ExecutionEngine(common, store, storeDb, recent, placeholder);
    engine.nodeCacheLimit = limit;
    await engine.buildVm();
    store.startRecording();
    const sm = engine.vm.stateManager;
    const alloc = Object.entries(opts.network.genesis.alloc).sort(([a], [b]) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    for (const [addr, { balance }] of alloc) {
      await sm.putAccount(createAddressFromString(addr.toLowerCase()), new Account(0n, BigInt(balance)));
    }
    const root = await sm.getStateRoot();
    const nodes = store.takeRecorded();
    const header = genesisHeader(common, root, timestamp, gasLimit);
    engine.genesis_ = executedGenesis(header, nodes);
    engine.head_ = { number: 0n, hash: engine.genesis_.hash, stateRoot: bytesToHex(root), timestamp, gasLimit };
    recent.remember(0n, engine.genesis_.hash);
    return engine;
  }

  private async buildVm(stateRoot?: string): Promise<void> {
    const root = stateRoot ? hexToBytes(stateRoot as `0x${string}`) : undefined;
    const stateManager = stateManagerOver(this.common, this.storeDb, root);
    this.vm = await createVM({ common: this.common, stateManager, blockchain: this.recent });
  }

  /** The genesis block built at create() (with the nodes to persist); null when the engine restarted from a head. */
  genesis(): ExecutedBlock | null {
    return this.genesis_;
  }

  head(): HeadInfo {
    return { ...this.head_ };
  }

  /**
   * Execute the next committed block (height must be head + 1). Calls are serialised. On an
   * ExecutionEnvironmentError (a trie node or block hash could not be obtained) nothing changed: the head
   * is the same and the block can be retried.
   */
  executeBlock(block: CommittedBlock): Promise<ExecutedBlock> {
    return this.exec.run(async () => {
      if (this.broken) throw this.broken;
      const parent = this.head_;
      if (BigInt(block.height) !== parent.number + 1n) {
        throw new CodedError(ErrorCode.Conflict, `expected block ${parent.number + 1n}, got ${block.height}`);
      }
      if (this.store.size > this.nodeCacheLimit) {
        this.store.entries.clear();
        this.vm.stateManager.clearCaches();
      }
      try {
        const executed = await executeCommittedBlock(
          { vm: this.vm, common: this.common, store: this.store, storeDb: this.storeDb, coinbase: this.coinbase, blockHashFaults: () => this.recent.faults },
          parent,
          block,
        );
        this.head_ = {
          number: executed.number,
          hash: executed.hash,
          stateRoot: executed.stateRoot,
          timestamp: executed.timestamp,
          gasLimit: executed.gasLimit,
        };
        this.recent.remember(executed.number, executed.hash);
        return executed;
      } catch (err) {
        // Whatever the VM holds now is suspect: start again from the parent's state (the store kept only
        // what earlier blocks persisted; the aborted block's entries were discarded).
        try {
          await this.buildVm(parent.stateRoot);
        } catch (rebuildErr) {
          this.broken = new Error(`executor state could not be rebuilt at block ${parent.number}`, { cause: rebuildErr });
        }
        throw err;
      }
    });
  }

  /**
   * Go back to (or forward to) a stored head, e.g. when the shell could not persist the block the engine just
   * executed. The state of `head` must be readable (in memory or through fetchNodes). Serialised with
   * executeBlock. With fetchNodes, the in-memory entries are dropped too: entries of blocks after `head` may
   * never have been persisted, and a block executed again must report them again in its `nodes`.
   */
  resetTo(head: { number: bigint; hash: string; stateRoot: string; timestamp: bigint; gasLimit?: bigint }): Promise<void> {
    return this.exec.run(async () => {
      const h: HeadInfo = { number: head.number, hash: head.hash, stateRoot: head.stateRoot, timestamp: head.timestamp, gasLimit: head.gasLimit ?? this.head_.gasLimit };
      if (this.store.canFetch) this.store.entries.clear();
      await this.buildVm(h.stateRoot);
      this.head_ = h;
      this.broken = null;
      this.recent.remember(h.number, h.hash);
    });
  }

  /** eth_call. Runs on a separate VM over the same node store (writes never leave the call). */
  call(req: CallRequest, at: 'latest' | CallAt = 'latest'): Promise<CallResult> {
    return this.calls.run(async () => {
      const target = at === 'latest' ? this.latestAt() : at;
      const vm = await this.callVmAt(target.stateRoot);
      return runCall(vm, this.common, envBlock(this.common, this.parentOf(target), target.number, target.timestamp, this.coinbase), req);
    });
  }

  /** eth_estimateGas: the smallest gas limit (within ~1.5%) with which the call succeeds. */
  estimateGas(req: CallRequest, at: 'latest' | CallAt = 'latest'): Promise<bigint> {
    return this.calls.run(async () => {
      const target = at === 'latest' ? this.latestAt() : at;
      const vm = await this.callVmAt(target.stateRoot);
      return estimateGas(vm, this.common, envBlock(this.common, this.parentOf(target), target.number, target.timestamp, this.coinbase), req);
    });
  }

  private latestAt(): CallAt {
    const h = this.head_;
    return { stateRoot: h.stateRoot, number: h.number, timestamp: h.timestamp };
  }

  private parentOf(at: CallAt): HeadInfo {
    return { number: at.number - 1n, hash: '0x' + '00'.repeat(32), stateRoot: at.stateRoot, timestamp: at.timestamp, gasLimit: this.head_.gasLimit };
  }

  private async callVmAt(stateRoot: string): Promise<VM> {
    if (!this.callVm) {
      const db = new OverlayDB(this.store);
      const stateManager = stateManagerOver(this.common, db, hexToBytes(stateRoot as `0x${string}`));
      const vm = await createVM({ common: this.common.copy(), stateManager, blockchain: this.recent });
      this.callVm = { vm, db, root: stateRoot };
      return vm;
    }
    if (this.callVm.root !== stateRoot) {
      this.callVm.db.reset();
      try {
        await this.callVm.vm.stateManager.setStateRoot(hexToBytes(stateRoot as `0x${string}`));
      } catch (err) {
        this.callVm = null;
        throw new CodedError(ErrorCode.NotFound, `state ${stateRoot} is not available`, undefined, { cause: err });
      }
      this.callVm.root = stateRoot;
    }
    return this.callVm.vm;
  }
}

