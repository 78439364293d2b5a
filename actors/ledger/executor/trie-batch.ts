/**
 * Batched Merkle-Patricia trie writes with deferred hashing.
 *
 * @ethereumjs/mpt hashes and stores the whole path to the root on every single put. Flushing a block's
 * worth of accounts (hundreds of keys) that way rehashes the top of the trie hundreds of times and stores
 * every intermediate node (which the state store then persists for nothing). `batchPut` inserts all keys
 * into an in-memory copy of the touched part of the trie and hashes each changed node exactly once,
 * storing only the final nodes. The resulting root is the one the MPT computes (the trie is canonical);
 * unit tests compare both on random data.
 *
 * Deletions keep using the MPT's own `del` (they are rare and need branch collapsing).
 */
import {
  BranchMPTNode,
  decodeMPTNode,
  decodeRawMPTNode,
  ExtensionMPTNode,
  LeafMPTNode,
  type MerklePatriciaTrie,
} from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import type { BatchDBOp } from '@ethereumjs/util';

export type Keccak = (data: Uint8Array) => Uint8Array;
/** A child reference as stored in a parent: a 32-byte hash, or the raw (embedded) node when it encodes to < 32 bytes. */
type Ref = Uint8Array | RawNode;
type RawNode = (Uint8Array | RawNode)[];

type Mem =
  | { t: 'leaf'; path: Uint8Array; value: Uint8Array }
  | { t: 'ext'; path: Uint8Array; child: Child }
  | { t: 'branch'; children: (Child | null)[]; value: Uint8Array | null };
/** A subtree: changed (in memory) or untouched (its reference). */
type Child = Mem | { t: 'ref'; ref: Ref };

interface Item {
  nib: Uint8Array;
  value: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function nibbles(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length * 2);
  for (let i = 0; i < key.length; i++) {
    out[2 * i] = key[i] >> 4;
    out[2 * i + 1] = key[i] & 15;
  }
  return out;
}

/** Hex-prefix (compact) encoding of a nibble path. */
function hexPrefix(path: Uint8Array | number[], leaf: boolean): Uint8Array {
  const odd = path.length & 1;
  const out = new Uint8Array((path.length >> 1) + 1);
  const flag = (leaf ? 2 : 0) + odd;
  let i = 0;
  if (odd) {
    out[0] = (flag << 4) | path[0];
    i = 1;
  } else {
    out[0] = flag << 4;
  }
  for (let o = 1; i < path.length; i += 2, o++) out[o] = (path[i] << 4) | path[i + 1];
  return out;
}

/** Build a fresh subtree from items that all share nib[0, depth). */
function build(items: Item[], depth: number): Mem {
  if (items.length === 1) return { t: 'leaf', path: items[0].nib.subarray(depth), value: items[0].value };
  const first = items[0].nib;
  let len = 0;
  scan: while (depth + len < first.length) {
    const c = first[depth + len];
    for (const it of items) if (it.nib.length <= depth + len || it.nib[depth + len] !== c) break scan;
    len++;
  }
  if (len > 0) return { t: 'ext', path: first.subarray(depth, depth + len), child: build(items, depth + len) };
  const groups: (Item[] | null)[] = new Array(16).fill(null);
  let value: Uint8Array | null = null;
  for (const it of items) {
    if (it.nib.length === depth) value = it.value;
    else (groups[it.nib[depth]] ??= []).push(it);
  }
  return { t: 'branch', children: groups.map((g) => (g ? build(g, depth + 1) : null)), value };
}

/**
 * Serialise a subtree, hashing each node once. Nodes of 32 bytes or more (and the root) are stored
 * under their hash. Returns the reference the parent stores.
 */
function commit(node: Child, keccak: Keccak, ops: BatchDBOp<Uint8Array, Uint8Array>[], root: boolean): Ref {
  if (node.t === 'ref') return node.ref;
  let raw: RawNode;
  if (node.t === 'leaf') raw = [hexPrefix(node.path, true), node.value];
  else if (node.t === 'ext') raw = [hexPrefix(node.path, false), commit(node.child, keccak, ops, false)];
  else {
    raw = node.children.map((c) => (c ? commit(c, keccak, ops, false) : EMPTY));
    raw.push(node.value ?? EMPTY);
  }
  const enc = RLP.encode(raw);
  if (enc.length >= 32 || root) {
    const h = keccak(enc);
    ops.push({ type: 'put', key: h, value: enc });
    return h;
  }
  return raw;
}

function isHashRef(ref: Ref): ref is Uint8Array {
  return ref instanceof Uint8Array;
}

class Loader {
  constructor(private readonly trie: MerklePatriciaTrie) {}

  async load(ref: Ref): Promise<Mem> {
    let node: BranchMPTNode | ExtensionMPTNode | LeafMPTNode;
    if (isHashRef(ref)) {
      const enc = await this.trie.database().get(ref);
      if (!enc) throw new Error('Missing node in DB');
      node = decodeMPTNode(enc);
    } else {
      node = decodeRawMPTNode(ref as Uint8Array[]);
    }
    if (node instanceof LeafMPTNode) return { t: 'leaf', path: Uint8Array.from(node.key()), value: node.value() };
    if (node instanceof ExtensionMPTNode) return { t: 'ext', path: Uint8Array.from(node.key()), child: { t: 'ref', ref: node.value() } };
    const children: (Child | null)[] = [];
    for (let i = 0; i < 16; i++) {
      const b = node.getBranch(i);
      children.push(b === null ? null : { t: 'ref', ref: b as Ref });
    }
    return { t: 'branch', children, value: node.value() };
  }

  /** Insert items (sharing nib[0, depth)) into the subtree `node`. */
  async insert(node: Child | null, items: Item[], depth: number): Promise<Mem> {
    if (node === null) return build(items, depth);
    const mem = node.t === 'ref' ? await this.load(node.ref) : node;
    if (mem.t === 'leaf') {
      const prefix = items[0].nib.subarray(0, depth);
      const full = new Uint8Array(depth + mem.path.length);
      full.set(prefix);
      full.set(mem.path, depth);
      const replaced = items.some((it) => equalNibbles(it.nib, full));
      return build(replaced ? items : [...items, { nib: full, value: mem.value }], depth);
    }
    if (mem.t === 'ext') {
      const e = mem.path;
      let k = 0;
      scan: while (k < e.length) {
        for (const it of items) if (it.nib.length <= depth + k || it.nib[depth + k] !== e[k]) break scan;
        k++;
      }
      if (k === e.length) return { t: 'ext', path: e, child: await this.insert(mem.child, items, depth + k) };
      // Split at depth + k: the extension's remainder goes under nibble e[k] of a new branch.
      const rest = e.subarray(k + 1);
      const existing: Child = rest.length > 0 ? { t: 'ext', path: rest, child: mem.child } : mem.child;
      const children: (Child | null)[] = new Array(16).fill(null);
      children[e[k]] = existing;
      const branch = await this.fillBranch({ t: 'branch', children, value: null }, items, depth + k);
      return k > 0 ? { t: 'ext', path: e.subarray(0, k), child: branch } : branch;
    }
    return this.fillBranch({ t: 'branch', children: mem.children.slice(), value: mem.value }, items, depth);
  }

  private async fillBranch(branch: Extract<Mem, { t: 'branch' }>, items: Item[], depth: number): Promise<Mem> {
    const groups: (Item[] | null)[] = new Array(16).fill(null);
    for (const it of items) {
      if (it.nib.length === depth) branch.value = it.value;
      else (groups[it.nib[depth]] ??= []).push(it);
    }
    for (let i = 0; i < 16; i++) {
      const g = groups[i];
      if (g) branch.children[i] = await this.insert(branch.children[i], g, depth + 1);
    }
    return branch;
  }
}

function equalNibbles(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Apply puts (non-empty values) and deletes (empty values) to `trie`. Keys are the trie's *applied* keys
 * (already hashed when the trie hashes its keys). The trie must use no key prefix and no node pruning.
 * When a key occurs more than once, the last entry wins.
 */
export async function batchUpdate(trie: MerklePatriciaTrie, entries: [Uint8Array, Uint8Array][], keccak: Keccak): Promise<void> {
  const last = new Map<string, [Uint8Array, Uint8Array]>();
  for (const e of entries) last.set(Buffer.from(e[0]).toString('hex'), e);
  const puts: Item[] = [];
  const dels: Uint8Array[] = [];
  for (const [key, value] of last.values()) {
    if (value.length > 0) puts.push({ nib: nibbles(key), value });
    else dels.push(key);
  }
  if (puts.length > 0) {
    const loader = new Loader(trie);
    const root = trie.root();
    const start: Child | null = equalBytes(root, trie.EMPTY_TRIE_ROOT) ? null : { t: 'ref', ref: root };
    const mem = await loader.insert(start, puts, 0);
    const ops: BatchDBOp<Uint8Array, Uint8Array>[] = [];
    const newRoot = commit(mem, keccak, ops, true) as Uint8Array;
    await trie.database().batch(ops);
    trie.root(newRoot);
  }
  for (const key of dels) await trie.del(key, true);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Root of the ordered trie { RLP(i) → values[i] } built in one pass (each node hashed once). */
export function orderedRoot(values: Uint8Array[], keccak: Keccak): Uint8Array {
  const items: Item[] = values.map((value, i) => ({ nib: nibbles(RLP.encode(i)), value }));
  const ops: BatchDBOp<Uint8Array, Uint8Array>[] = [];
  return commit(build(items, 0), keccak, ops, true) as Uint8Array;
}
