/**
 * The executor's in-memory view of the state trie database, and the @ethereumjs `DB` adapters over it.
 *
 * @ethereumjs/statemanager v10 (MerkleStateManager, default options) keeps EVERYTHING in one key/value
 * database, the one of the account trie:
 *   - account trie nodes, keyed by their 32-byte keccak hash;
 *   - storage trie nodes of every contract (storage tries are shallow copies of the account trie sharing
 *     its DB, no key prefix), keyed by their 32-byte hash;
 *   - contract code, keyed by 'c' (0x63) ++ keccak(code) (33 bytes).
 * Every key is content-addressed, so a key never changes its value and nothing is ever deleted (node
 * pruning is off): the union of all blocks' writes is a complete, append-only database.
 *
 * NodeStore holds those entries (unprefixed lowercase hex key → bytes), records the ones a block adds (the
 * block's `nodes`, for the state store to persist in one batch), and on a miss asks `fetchNodes` (the public
 * state store, after a restart). A node that cannot be found anywhere is a fault, never "absent": the trie
 * would otherwise silently read a missing node as an empty account.
 */
import type { BatchDBOp, DB } from '@ethereumjs/util';

export type FetchNodes = (keys: Uint8Array[]) => Promise<(Uint8Array | null)[]>;

/** A state trie entry the executor needs but neither holds nor can fetch. The block is aborted, never half-applied. */
export class MissingStateNodeError extends Error {
  constructor(readonly keyHex: string, cause?: unknown) {
    super(`state trie node 0x${keyHex} is missing (not in memory, not served by the state store)`, { cause });
    this.name = 'MissingStateNodeError';
  }
}

/**
 * keccak(RLP('')): the root of an empty trie. It is never stored, yet the trie looks it up when it writes
 * into an empty (storage) trie and expects a plain miss; every other miss is a fault.
 */
const EMPTY_TRIE_ROOT_HEX = '56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export class NodeStore {
  /** unprefixed lowercase hex key → value */
  readonly entries = new Map<string, Uint8Array>();
  private recording: Map<string, Uint8Array> | null = null;

  constructor(private readonly fetchNodes?: FetchNodes) {}

  /** True when misses can be served by the state store. */
  get canFetch(): boolean {
    return this.fetchNodes !== undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  has(keyHex: string): boolean {
    return this.entries.has(keyHex);
  }

  async get(keyHex: string): Promise<Uint8Array> {
    const hit = this.entries.get(keyHex);
    if (hit !== undefined) return hit;
    let value: Uint8Array | null | undefined = null;
    let cause: unknown;
    if (this.fetchNodes) {
      try {
        [value] = await this.fetchNodes([hexToBytes(keyHex)]);
      } catch (err) {
        cause = err;
      }
    }
    if (value === null || value === undefined) throw new MissingStateNodeError(keyHex, cause);
    // Another reader may have filled it meanwhile; the value is the same (content-addressed).
    if (!this.entries.has(keyHex)) this.entries.set(keyHex, value);
    return value;
  }

  /** Store an entry; when it is new and a block is recording, it becomes part of that block's `nodes`. */
  put(keyHex: string, value: Uint8Array): void {
    if (this.entries.has(keyHex)) return;
    this.entries.set(keyHex, value);
    this.recording?.set(keyHex, value);
  }

  startRecording(): void {
    this.recording = new Map();
  }

  /** End recording and return what was added, in insertion order. */
  takeRecorded(): [Uint8Array, Uint8Array][] {
    const rec = this.recording ?? new Map<string, Uint8Array>();
    this.recording = null;
    const out: [Uint8Array, Uint8Array][] = [];
    for (const [k, v] of rec) out.push([hexToBytes(k), v]);
    return out;
  }

  /** Abort: forget everything added since startRecording (it was never persisted). */
  discardRecording(): void {
    if (this.recording) for (const k of this.recording.keys()) this.entries.delete(k);
    this.recording = null;
  }

  /** Seed entries (e.g. from a persisted batch) without recording them. */
  load(nodes: Iterable<[Uint8Array, Uint8Array]>): void {
    for (const [k, v] of nodes) {
      const kh = Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex');
      if (!this.entries.has(kh)) this.entries.set(kh, v);
    }
  }
}

/**
 * The @ethereumjs DB over a NodeStore. Keys arrive as unprefixed hex strings and values as bytes (the trie
 * must be created with `valueEncoding: ValueEncoding.Bytes`). Deletes are ignored: the checkpoint DB turns
 * cached misses into 'del' ops and content-addressed entries are never removed.
 */
export class StoreDB implements DB<string, Uint8Array> {
  /** Unrecoverable misses seen through this adapter; the engine checks it around each transaction (the trie or
   * the EVM could swallow the error, a miss must still abort the block). */
  faults = 0;
  lastFault: MissingStateNodeError | null = null;

  constructor(readonly store: NodeStore) {}

  get(key: string): Promise<Uint8Array | undefined> {
    const hit = this.store.entries.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    if (key === EMPTY_TRIE_ROOT_HEX) return Promise.resolve(undefined);
    return this.miss(key);
  }

  private async miss(key: string): Promise<Uint8Array> {
    try {
      return await this.store.get(key);
    } catch (err) {
      this.faults++;
      this.lastFault = err instanceof MissingStateNodeError ? err : new MissingStateNodeError(key, err);
      throw this.lastFault;
    }
  }

  async put(key: string, val: Uint8Array): Promise<void> {
    this.store.put(key, val);
  }

  async del(_key: string): Promise<void> {}

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) if (op.type === 'put') this.store.put(op.key, op.value);
  }

  shallowCopy(): DB<string, Uint8Array> {
    return this;
  }

  async open(): Promise<void> {}
}

/**
 * A read-mostly DB for eth_call / estimateGas: reads go to the shared NodeStore, writes stay in a private
 * overlay (cleared with `reset()`), so a call can never add to a block's `nodes` or the shared store.
 */
export class OverlayDB implements DB<string, Uint8Array> {
  private overlay = new Map<string, Uint8Array>();
  constructor(readonly store: NodeStore) {}

  reset(): void {
    this.overlay = new Map();
  }

  get(key: string): Promise<Uint8Array | undefined> {
    const hit = this.overlay.get(key) ?? this.store.entries.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    if (key === EMPTY_TRIE_ROOT_HEX) return Promise.resolve(undefined);
    return this.store.get(key);
  }

  async put(key: string, val: Uint8Array): Promise<void> {
    this.overlay.set(key, val);
  }

  async del(_key: string): Promise<void> {}

  async batch(ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    for (const op of ops) if (op.type === 'put') this.overlay.set(op.key, op.value);
  }

  shallowCopy(): DB<string, Uint8Array> {
    return this;
  }

  async open(): Promise<void> {}
}
