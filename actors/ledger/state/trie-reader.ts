/**
 * Reading public state at any state root straight from trie database entries, for the public state store.
 *
 * Entries are what the executor emits in ExecutedBlock.nodes and stores in the state batches (see
 * actors/ledger/executor/recording-db.ts): account and storage trie nodes keyed by their keccak hash, and
 * contract code keyed by 0x63 ('c') ++ keccak(code). Keys are looked up as lowercase 0x-prefixed hex
 * (`toHex(key)`, as the store indexes them when it loads the batches).
 */
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import {
  bytesToHex,
  createAccountFromRLP,
  createAddressFromString,
  equalsBytes,
  hexToBytes,
  KECCAK256_NULL,
  KECCAK256_RLP,
  ValueEncoding,
  type BatchDBOp,
  type DB,
} from '@ethereumjs/util';

/** Where trie entries come from: a Map keyed by lowercase 0x-hex, or anything with such a (sync or async) get. */
export type NodeSource =
  | Map<string, Uint8Array>
  | { get(keyHex: string): Promise<Uint8Array | null | undefined> | Uint8Array | null | undefined };

/** A trie entry the source does not hold: this state is not (or no longer, or not yet) available. */
export class StateNotAvailableError extends Error {
  constructor(readonly keyHex: string) {
    super(`state trie entry ${keyHex} is not available`);
    this.name = 'StateNotAvailableError';
  }
}

export interface AccountFields {
  nonce: bigint;
  balance: bigint;
  /** 0x-hex, 32 bytes */
  codeHash: string;
  /** 0x-hex, 32 bytes */
  storageRoot: string;
}

/** The DB key of contract code: 'c' ++ codeHash. */
function codeKey(codeHash: Uint8Array): Uint8Array {
  const key = new Uint8Array(33);
  key[0] = 0x63;
  key.set(codeHash, 1);
  return key;
}

async function sourceGet(db: NodeSource, keyHex: string): Promise<Uint8Array | undefined> {
  const v = await db.get(keyHex);
  return v ?? undefined;
}

const EMPTY_ROOT_KEY = bytesToHex(KECCAK256_RLP).slice(2);

/** Read-only @ethereumjs DB over a NodeSource (keys from the trie arrive as unprefixed hex). */
class SourceDB implements DB<string, Uint8Array> {
  constructor(private readonly src: NodeSource) {}
  async get(key: string): Promise<Uint8Array | undefined> {
    if (key === EMPTY_ROOT_KEY) return undefined;
    const v = await sourceGet(this.src, '0x' + key);
    // A missing node must not read as "empty": the trie would answer "no such account".
    if (v === undefined) throw new StateNotAvailableError('0x' + key);
    return v;
  }
  async put(): Promise<void> {
    throw new Error('trie-reader is read-only');
  }
  async del(): Promise<void> {}
  async batch(_ops: BatchDBOp<string, Uint8Array>[]): Promise<void> {
    throw new Error('trie-reader is read-only');
  }
  shallowCopy(): DB<string, Uint8Array> {
    return this;
  }
  async open(): Promise<void> {}
}

function trieAt(db: NodeSource, root: Uint8Array): MerklePatriciaTrie {
  return new MerklePatriciaTrie({ db: new SourceDB(db), useKeyHashing: true, valueEncoding: ValueEncoding.Bytes, root });
}

function rootBytes(stateRoot: string | Uint8Array): Uint8Array {
  const b = typeof stateRoot === 'string' ? hexToBytes(stateRoot as `0x${string}`) : stateRoot;
  if (b.length !== 32) throw new Error('a state root is 32 bytes');
  return b;
}

function addressBytes(address: string | Uint8Array): Uint8Array {
  return typeof address === 'string' ? createAddressFromString(address.toLowerCase()).bytes : address;
}

/** The account at `address` under `stateRoot`, or null when it does not exist. Throws StateNotAvailableError. */
export async function readAccount(db: NodeSource, stateRoot: string | Uint8Array, address: string | Uint8Array): Promise<AccountFields | null> {
  const root = rootBytes(stateRoot);
  if (equalsBytes(root, KECCAK256_RLP)) return null;
  const rlp = await trieAt(db, root).get(addressBytes(address));
  if (rlp === null) return null;
  const acc = createAccountFromRLP(rlp);
  return { nonce: acc.nonce, balance: acc.balance, codeHash: bytesToHex(acc.codeHash), storageRoot: bytesToHex(acc.storageRoot) };
}

/** The contract code at `address` (empty for accounts without code or that do not exist). */
export async function readCode(db: NodeSource, stateRoot: string | Uint8Array, address: string | Uint8Array): Promise<Uint8Array> {
  const acc = await readAccount(db, stateRoot, address);
  if (!acc) return new Uint8Array(0);
  const codeHash = hexToBytes(acc.codeHash as `0x${string}`);
  if (equalsBytes(codeHash, KECCAK256_NULL)) return new Uint8Array(0);
  const keyHex = bytesToHex(codeKey(codeHash));
  const code = await sourceGet(db, keyHex);
  if (code === undefined) throw new StateNotAvailableError(keyHex);
  return code;
}

/** The 32-byte value of storage `slot` (32 bytes; hex or bytes) of `address` (zeros when unset). */
export async function readStorage(
  db: NodeSource,
  stateRoot: string | Uint8Array,
  address: string | Uint8Array,
  slot: string | Uint8Array,
): Promise<Uint8Array> {
  const key = typeof slot === 'string' ? hexToBytes(slot as `0x${string}`) : slot;
  if (key.length !== 32) throw new Error('a storage slot is 32 bytes');
  const out = new Uint8Array(32);
  const acc = await readAccount(db, stateRoot, address);
  if (!acc) return out;
  const storageRoot = hexToBytes(acc.storageRoot as `0x${string}`);
  if (equalsBytes(storageRoot, KECCAK256_RLP)) return out;
  const raw = await trieAt(db, storageRoot).get(key);
  if (raw === null) return out;
  const value = RLP.decode(raw) as Uint8Array;
  out.set(value.subarray(Math.max(0, value.length - 32)), 32 - Math.min(32, value.length));
  return out;
}
