import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { bytesToHex, MapDB, ValueEncoding } from '@ethereumjs/util';
import { keccak256 } from '../../lib/ethereum/chain.js';
import { orderedTrieRoot, orderedTrieRootMpt } from '../../actors/ledger/executor/receipts.js';
import { batchUpdate } from '../../actors/ledger/executor/trie-batch.js';

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    int: (n: number) => next() % n,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

test('ordered trie root equals the MPT root for every size', async () => {
  const r = rng(7);
  for (const n of [1, 2, 3, 15, 16, 17, 100, 127, 128, 129, 200, 255, 256, 257, 600]) {
    const values = Array.from({ length: n }, (_, i) => r.bytes(i % 5 === 0 ? 1 + r.int(4) : 20 + r.int(300)));
    assert.equal(bytesToHex(await orderedTrieRoot(values)), bytesToHex(await orderedTrieRootMpt(values)), `n=${n}`);
  }
  assert.equal(bytesToHex(await orderedTrieRoot([])), '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
});

async function compare(seed: number, keyLen: number, rounds: number, perRound: number, valueLen: () => number) {
  const r = rng(seed);
  const reference = new MerklePatriciaTrie({ db: new MapDB<string, Uint8Array>(), valueEncoding: ValueEncoding.Bytes });
  const db = new MapDB<string, Uint8Array>();
  const batched = new MerklePatriciaTrie({ db, valueEncoding: ValueEncoding.Bytes });
  const live: Uint8Array[] = [];
  for (let round = 0; round < rounds; round++) {
    const entries: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i < perRound; i++) {
      const roll = r.int(10);
      if (roll < 2 && live.length > 0) {
        entries.push([live[r.int(live.length)], new Uint8Array(0)]); // delete
      } else if (roll < 5 && live.length > 0) {
        entries.push([live[r.int(live.length)], r.bytes(valueLen())]); // update
      } else {
        const k = r.bytes(keyLen);
        live.push(k);
        entries.push([k, r.bytes(valueLen())]);
      }
    }
    // reference: one put/del at a time, last write wins
    for (const [k, v] of entries) {
      if (v.length > 0) await reference.put(k, v);
      else await reference.del(k);
    }
    await batchUpdate(batched, entries, keccak256);
    assert.equal(bytesToHex(batched.root()), bytesToHex(reference.root()), `seed ${seed} round ${round}`);
    // everything is readable from the batched trie's own DB
    for (const k of live.slice(-20)) assert.deepEqual(await batched.get(k), await reference.get(k));
  }
}

test('batched trie updates give the MPT root: hashed-length keys (accounts, storage)', async () => {
  await compare(1, 32, 12, 150, () => 71);
  await compare(2, 32, 20, 7, () => 2);
});

test('batched trie updates give the MPT root: short keys and tiny values (embedded nodes, extensions)', async () => {
  await compare(3, 2, 20, 30, () => 1);
  await compare(4, 3, 15, 40, () => 3);
  await compare(5, 1, 10, 20, () => 1);
});

test('batched trie update of a single key into a large existing trie', async () => {
  const r = rng(9);
  const a = new MerklePatriciaTrie();
  const b = new MerklePatriciaTrie();
  const init: [Uint8Array, Uint8Array][] = Array.from({ length: 500 }, () => [r.bytes(32), RLP.encode(r.bytes(20))]);
  for (const [k, v] of init) await a.put(k, v);
  await batchUpdate(b, init, keccak256);
  assert.equal(bytesToHex(b.root()), bytesToHex(a.root()));
  const [k] = init[123];
  await a.put(k, Uint8Array.of(1));
  await batchUpdate(b, [[k, Uint8Array.of(1)]], keccak256);
  assert.equal(bytesToHex(b.root()), bytesToHex(a.root()));
});
