/**
 * MerkleStateManager whose flush writes each trie in one batch (trie-batch.ts) instead of one MPT put per
 * account / storage slot. Same resulting roots and database layout as the base class (code under
 * 'c' ++ codeHash, storage tries sharing the account trie's DB without prefix), fewer hashes, and only
 * final nodes stored — so a block's `nodes` hold no dead intermediate nodes.
 */
import { RLP } from '@ethereumjs/rlp';
import { CODEHASH_PREFIX, MerkleStateManager, type MerkleStateManagerOpts } from '@ethereumjs/statemanager';
import { Account, concatBytes, createAddressFromString, unpadBytes, unprefixedHexToBytes, type Address } from '@ethereumjs/util';
import { batchUpdate, type Keccak } from './trie-batch.js';

const EMPTY = new Uint8Array(0);

export class BatchingStateManager extends MerkleStateManager {
  private readonly keccak: Keccak;

  constructor(opts: MerkleStateManagerOpts & { keccak: Keccak }) {
    const { keccak, ...rest } = opts;
    super(rest);
    if (this._prefixStorageTrieKeys) throw new Error('BatchingStateManager does not support prefixed storage trie keys');
    this.keccak = keccak;
  }

  /**
   * With caches, the base class writes a slot to the cache AND straight into the storage trie (its
   * `cache.put(...) ?? write()` always takes the second branch: put returns undefined), rehashing the
   * storage trie path on every SSTORE. The cache alone is enough: flush() writes the trie once per block.
   * (An account's storageRoot is therefore updated at flush, not after each SSTORE; nothing reads it in
   * between except the EIP-7610 create-collision check, which only matters for accounts with storage but
   * nonce 0 and no code — impossible here, the genesis allocates balances only.)
   */
  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const storage = this._caches?.storage;
    if (storage === undefined) return super.putStorage(address, key, value);
    if (key.length !== 32) throw new Error('Storage key must be 32 bytes long');
    if (value.length > 32) throw new Error('Storage value cannot be longer than 32 bytes');
    if ((await this.getAccount(address)) === undefined) throw new Error('putStorage() called on non-existing account');
    storage.put(address, key, RLP.encode(unpadBytes(value)));
  }

  override async flush(): Promise<void> {
    const caches = this._caches;
    if (caches === undefined) return super.flush();
    const keccak = this.keccak;

    // Contract code: stored under ('c' ++) codeHash, then the account's codeHash is set (as the base class).
    for (const [addrHex, elem] of caches.code?.flush() ?? []) {
      const code = elem.code;
      if (code === undefined) continue;
      const codeHash = keccak(code);
      const key = this._prefixCodeHashes ? concatBytes(CODEHASH_PREFIX, codeHash) : codeHash;
      await this._getCodeDB().put(key, code);
      const address = createAddressFromString(`0x${addrHex}`);
      if ((await this.getAccount(address)) === undefined) await this.putAccount(address, new Account());
      await this.modifyAccountFields(address, { codeHash });
    }

    // Storage: one batch per account, then its storageRoot goes into the account (cache).
    const byAccount = new Map<string, [Uint8Array, Uint8Array][]>();
    for (const [addrHex, keyHex, value] of caches.storage?.flush() ?? []) {
      const decoded = RLP.decode(value ?? EMPTY) as Uint8Array;
      const entry: [Uint8Array, Uint8Array] = [keccak(unprefixedHexToBytes(keyHex)), decoded.length > 0 ? RLP.encode(decoded) : EMPTY];
      const list = byAccount.get(addrHex);
      if (list) list.push(entry);
      else byAccount.set(addrHex, [entry]);
    }
    for (const [addrHex, entries] of byAccount) {
      const address = createAddressFromString(`0x${addrHex}`);
      const account = await this.getAccount(address);
      if (!account) continue;
      const trie = this._getStorageTrie(address, account);
      await batchUpdate(trie, entries, keccak);
      account.storageRoot = trie.root();
      await this.putAccount(address, account);
    }

    // Accounts.
    const accounts: [Uint8Array, Uint8Array][] = [];
    for (const [addrHex, elem] of caches.account?.flush() ?? []) {
      accounts.push([keccak(unprefixedHexToBytes(addrHex)), elem.accountRLP ?? EMPTY]);
    }
    if (accounts.length > 0) await batchUpdate(this._trie, accounts, keccak);
  }
}
