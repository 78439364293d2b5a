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
import type { CallRequest } from './messages.js';
import { runCall, estimateGas, type CallAt, type CallResult } from './call.js';
import { createLedgerCommon, keccak256 } from '../../../lib/ethereum/chain.js';
import { BatchingStateManager } from './state-manager.js';
import { PrivateStateManager } from './private-state-manager.js';
import {
  EMPTY_STATE_ROOT,
  envBlock,
  executeCommittedBlock,
  executedGenesis,
  ExecutionEnvironmentError,
  genesisHeader,
  type ExecutedBlock,
  type FetchPayloads,
  type HeadInfo,
} from './execute-block.js';
import type { PrivateContract } from '../../../lib/ethereum/privacy-rules.js';
import { NodeStore, OverlayDB, StoreDB, type FetchNodes } from './recording-db.js';

export type { ExecutedBlock, HeadInfo, DroppedTx, FetchPayloads } from './execute-block.js';
export type { PrivateContract } from '../../../lib/ethereum/privacy-rules.js';
export type { CallAt, CallResult } from './call.js';
export { ExecutionEnvironmentError } from './execute-block.js';

type EVMMockBlock = Awaited<ReturnType<EVMMockBlockchainInterface['getBlock']>>;

export interface RestartHead {
  number: bigint;
  hash: string;
  stateRoot: string;
  /** Absent in blocks stored before private state existed: the empty root. */
  privateStateRoot?: string;
  timestamp: bigint;
  gasLimit?: bigint;
}

/** A restart point with its defaults filled in (blocks stored before private state existed: the empty root). */
const headInfo = (h: RestartHead, gasLimit: bigint): HeadInfo => ({
  number: h.number,
  hash: h.hash,
  stateRoot: h.stateRoot,
  privateStateRoot: h.privateStateRoot ?? EMPTY_STATE_ROOT,
  timestamp: h.timestamp,
  gasLimit: h.gasLimit ?? gasLimit,
});

const notAParty: FetchPayloads = async (hashes) => new Map(hashes.map((hash) => [hash, { hash, found: false as const }]));

export interface EngineOptions {
  network: Pick<NetworkDescription, 'chainId' | 'name' | 'genesis'>;
  /** Trie database entries by key (the public state store), asked on a cache miss. Return null for unknown keys. */
  fetchNodes?: FetchNodes;
  /** The same for this participant's private state (the private state store). */
  fetchPrivateNodes?: FetchNodes;
  /** Decrypted payloads of private transactions, from this participant's tm. Default: a party to nothing. */
  payloads?: FetchPayloads;
  /** Private contracts created before the restart point (with the block that created each). */
  privateContracts?: (PrivateContract & { block: bigint })[];
  /** Restart point: the last executed block. Absent: build genesis (block 0) from network.genesis.alloc. */
  head?: RestartHead;
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

/** Private state over its own trie, reading through to `publicView` for what it does not hold. */
function privateStateManagerOver(common: Common, db: StoreDB | OverlayDB, root: Uint8Array, publicView: BatchingStateManager): PrivateStateManager {
  const trie = new MerklePatriciaTrie({ db, useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, common });
  trie.root(root);
  const sm = new PrivateStateManager({ common, trie, caches: new Caches(), keccak: keccak256 });
  sm.publicView = publicView;
  return sm;
}

/** This participant's private state: its own trie, VM and node store, beside the public ones. */
interface PrivateSide {
  store: NodeStore;
  storeDb: StoreDB;
  vm: VM;
  /** Known private contracts, with the block that created each (forgotten again when that block is rolled back). */
  contracts: Map<string, PrivateContract & { block: bigint }>;
}

export class ExecutionEngine {
  private vm!: VM;
  private priv!: PrivateSide;
  private payloads: FetchPayloads = notAParty;
  private head_: HeadInfo;
  private genesis_: ExecutedBlock | null = null;
  private readonly exec = new Serial();
  private readonly calls = new Serial();
  private callVm: { vm: VM; db: OverlayDB; root: string } | null = null;
  private privateCallVm: { vm: VM; db: OverlayDB; root: string } | null = null;
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
    const privateStore = new NodeStore(opts.fetchPrivateNodes);
    const contracts = new Map((opts.privateContracts ?? []).map((c) => [c.address.toLowerCase(), { ...c, address: c.address.toLowerCase() }]));
    const init = (engine: ExecutionEngine) => {
      engine.nodeCacheLimit = limit;
      engine.payloads = opts.payloads ?? notAParty;
      engine.priv = { store: privateStore, storeDb: new StoreDB(privateStore), vm: undefined as unknown as VM, contracts };
    };
    if (opts.head) {
      const head = headInfo(opts.head, gasLimit);
      const engine = new ExecutionEngine(common, store, storeDb, recent, head);
      init(engine);
      await engine.buildVm(head.stateRoot, head.privateStateRoot);
      recent.remember(head.number, head.hash);
      return engine;
    }
    // Genesis: block 0 from the alloc.
    const timestamp = BigInt(opts.network.genesis.timestamp);
    const placeholder: HeadInfo = { number: 0n, hash: '0x', stateRoot: '0x', privateStateRoot: EMPTY_STATE_ROOT, timestamp, gasLimit };
    const engine = new ExecutionEngine(common, store, storeDb, recent, placeholder);
    init(engine);
    await engine.buildVm(undefined, EMPTY_STATE_ROOT);
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
    engine.head_ = { number: 0n, hash: engine.genesis_.hash, stateRoot: bytesToHex(root), privateStateRoot: EMPTY_STATE_ROOT, timestamp, gasLimit };
    recent.remember(0n, engine.genesis_.hash);
    return engine;
  }

  private async buildVm(stateRoot: string | undefined, privateStateRoot: string): Promise<void> {
    const root = stateRoot ? hexToBytes(stateRoot as `0x${string}`) : undefined;
    const stateManager = stateManagerOver(this.common, this.storeDb, root);
    this.vm = await createVM({ common: this.common, stateManager, blockchain: this.recent });
    const privateManager = privateStateManagerOver(this.common, this.priv.storeDb, hexToBytes(privateStateRoot as `0x${string}`), stateManager);
    this.priv.vm = await createVM({ common: this.common, stateManager: privateManager, blockchain: this.recent });
  }

  /** A private contract's metadata (eth_getContractPrivacyMetadata), as of the stored head. */
  privateContract(address: string): PrivateContract | undefined {
    const c = this.priv.contracts.get(address.toLowerCase());
    if (!c) return undefined;
    const { block: _block, ...meta } = c;
    return meta;
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
      if (this.priv.store.canFetch && this.priv.store.size > this.nodeCacheLimit) {
        this.priv.store.entries.clear();
        this.priv.vm.stateManager.clearCaches();
      }
      try {
        const contracts = this.priv.contracts;
        const executed = await executeCommittedBlock(
          {
            vm: this.vm,
            common: this.common,
            store: this.store,
            storeDb: this.storeDb,
            coinbase: this.coinbase,
            private: { vm: this.priv.vm, store: this.priv.store, storeDb: this.priv.storeDb, contract: (a) => contracts.get(a.toLowerCase()) },
            payloads: this.payloads,
            blockHashFaults: () => this.recent.faults,
          },
          parent,
          block,
        );
        for (const c of executed.privateContracts) contracts.set(c.address.toLowerCase(), { ...c, block: executed.number });
        this.head_ = {
          number: executed.number,
          hash: executed.hash,
          stateRoot: executed.stateRoot,
          privateStateRoot: executed.privateStateRoot,
          timestamp: executed.timestamp,
          gasLimit: executed.gasLimit,
        };
        this.recent.remember(executed.number, executed.hash);
        return executed;
      } catch (err) {
        // Whatever the VM holds now is suspect: start again from the parent's state (the store kept only
        // what earlier blocks persisted; the aborted block's entries were discarded).
        try {
          await this.buildVm(parent.stateRoot, parent.privateStateRoot);
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
  resetTo(head: RestartHead): Promise<void> {
    return this.exec.run(async () => {
      const h = headInfo(head, this.head_.gasLimit);
      if (this.store.canFetch) this.store.entries.clear();
      if (this.priv.store.canFetch) this.priv.store.entries.clear();
      for (const [address, c] of this.priv.contracts) if (c.block > h.number) this.priv.contracts.delete(address);
      await this.buildVm(h.stateRoot, h.privateStateRoot);
      this.head_ = h;
      this.broken = null;
      this.recent.remember(h.number, h.hash);
    });
  }

  /**
   * eth_call. Runs on a separate VM over the same node store (writes never leave the call). A call to a
   * contract that lives in this participant's private state runs on the private state (as GoQuorum does for
   * a party); `private: true` forces that (a private contract creation, estimated before it is sent).
   */
  call(req: CallRequest, at: 'latest' | CallAt = 'latest', opts: { private?: boolean } = {}): Promise<CallResult> {
    return this.calls.run(async () => {
      const target = at === 'latest' ? this.latestAt() : at;
      const vm = await this.queryVm(req, target, opts.private);
      return runCall(vm, this.common, envBlock(this.common, this.parentOf(target), target.number, target.timestamp, this.coinbase), req);
    });
  }

  /** eth_estimateGas: the smallest gas limit (within ~1.5%) with which the call succeeds. */
  estimateGas(req: CallRequest, at: 'latest' | CallAt = 'latest', opts: { private?: boolean } = {}): Promise<bigint> {
    return this.calls.run(async () => {
      const target = at === 'latest' ? this.latestAt() : at;
      const vm = await this.queryVm(req, target, opts.private);
      return estimateGas(vm, this.common, envBlock(this.common, this.parentOf(target), target.number, target.timestamp, this.coinbase), req);
    });
  }

  private latestAt(): CallAt {
    const h = this.head_;
    return { stateRoot: h.stateRoot, privateStateRoot: h.privateStateRoot, number: h.number, timestamp: h.timestamp };
  }

  private parentOf(at: CallAt): Pick<HeadInfo, 'hash' | 'gasLimit'> {
    return { hash: '0x' + '00'.repeat(32), gasLimit: this.head_.gasLimit };
  }

  /** The private VM when the call targets a private contract (or is forced private), else the public one. */
  private async queryVm(req: CallRequest, target: CallAt, forcePrivate?: boolean): Promise<VM> {
    const privateRoot = target.privateStateRoot ?? EMPTY_STATE_ROOT;
    const publicVm = await this.overlayVm('public', target.stateRoot);
    if (forcePrivate || (req.to && privateRoot !== EMPTY_STATE_ROOT)) {
      const pvm = await this.overlayVm('private', privateRoot);
      const state = pvm.stateManager as PrivateStateManager;
      state.publicView = publicVm.stateManager as BatchingStateManager;
      if (forcePrivate) return pvm;
      const own = await state.ownAccount(createAddressFromString(req.to!.toLowerCase()));
      if (own && !own.isContract()) return publicVm;
      if (own) return pvm;
    }
    return publicVm;
  }

  private async overlayVm(kind: 'public' | 'private', stateRoot: string): Promise<VM> {
    const slot = kind === 'public' ? this.callVm : this.privateCallVm;
    const set = (v: { vm: VM; db: OverlayDB; root: string } | null) => (kind === 'public' ? (this.callVm = v) : (this.privateCallVm = v));
    if (!slot) {
      const db = new OverlayDB(kind === 'public' ? this.store : this.priv.store);
      const root = hexToBytes(stateRoot as `0x${string}`);
      const stateManager = kind === 'public' ? stateManagerOver(this.common, db, root) : privateStateManagerOver(this.common, db, root, this.vm.stateManager as BatchingStateManager);
      const vm = await createVM({ common: this.common.copy(), stateManager, blockchain: this.recent });
      set({ vm, db, root: stateRoot });
      return vm;
    }
    if (slot.root !== stateRoot) {
      slot.db.reset();
      try {
        await slot.vm.stateManager.setStateRoot(hexToBytes(stateRoot as `0x${string}`));
      } catch (err) {
        set(null);
        throw new CodedError(ErrorCode.NotFound, `state ${stateRoot} is not available`, undefined, { cause: err });
      }
      slot.root = stateRoot;
    }
    return slot.vm;
  }
}

