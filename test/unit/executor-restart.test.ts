import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface } from 'ethers';
import { ExecutionEngine, ExecutionEnvironmentError, type ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { addressOf, devKey, devNetwork, sign1559Tx, signLegacyTx, uintWord } from '../support/dev-tx.js';
import { readAccount, readCode, readStorage } from '../../actors/ledger/state/trie-reader.js';
import { toHex } from '../../lib/hex.js';
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import { compileSimpleStorage, compileSolidity } from '../support/contracts.js';
import type { Common } from '@ethereumjs/common';
import { createAddressFromString, createContractAddress, createAccount, hexToBytes } from '@ethereumjs/util';
import { createBlock } from '@ethereumjs/block';
import { createTxFromRLP } from '@ethereumjs/tx';
import { createVM, runBlock } from '@ethereumjs/vm';
import { MerkleStateManager } from '@ethereumjs/statemanager';

const network = devNetwork({ funded: 3 });
const k0 = devKey(0);
const k1 = devKey(1);
const a1 = addressOf(k1);
const ss = compileSimpleStorage();
const ssIface = new Interface(ss.abi as never);
const BH = compileSolidity({
  'BlockHashes.sol': `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;
contract BlockHashes {
    mapping(uint => bytes32) public seen;
    function record() public {
        seen[block.number - 1] = blockhash(block.number - 1);
        seen[block.number - 2] = blockhash(block.number - 2);
    }
}
`,
}).BlockHashes;
const bhIface = new Interface(BH.abi as never);

function committed(height: number, transactions: string[]): CommittedBlock {
  return { height, timestamp: network.genesis.timestamp + 2 * height, proposer: 'a', raftTerm: 1, raftIndex: height, transactions };
}

/** A fixed scenario: deploys, storage writes, transfers to new accounts, 1559 txs, a revert, BLOCKHASH. */
function scenario(common: Common): CommittedBlock[] {
  // contract addresses are deterministic: k0 deploys SimpleStorage at nonce 0 and BlockHashes at nonce 1, k1 deploys SimpleStorage at nonce 0
  const ssAddr = contractAddress(k0, 0);
  const bhAddr = contractAddress(k0, 1);
  const ss2Addr = contractAddress(k1, 0);
  return [
    committed(1, [
      signLegacyTx(common, k0, { nonce: 0, data: ss.bytecode + uintWord(42), gasLimit: 400_000 }),
      signLegacyTx(common, k0, { nonce: 1, data: BH.bytecode, gasLimit: 400_000 }),
      signLegacyTx(common, k1, { nonce: 0, data: ss.bytecode + uintWord(1), gasLimit: 400_000 }),
    ]),
    committed(2, [
      signLegacyTx(common, k0, { nonce: 2, to: ssAddr, data: ssIface.encodeFunctionData('set', [7]), gasLimit: 100_000 }),
      sign1559Tx(common, k1, { nonce: 1, to: addressOf(devKey(20)), value: 5n }),
      signLegacyTx(common, k0, { nonce: 3, to: bhAddr, data: bhIface.encodeFunctionData('record'), gasLimit: 200_000 }),
    ]),
    committed(3, [
      signLegacyTx(common, k0, { nonce: 4, to: ssAddr, data: ssIface.encodeFunctionData('set', [8]), gasLimit: 100_000 }),
      signLegacyTx(common, k1, { nonce: 2, to: ss2Addr, data: ssIface.encodeFunctionData('set', [0]), gasLimit: 100_000 }), // clears a slot
      signLegacyTx(common, k0, { nonce: 5, to: bhAddr, data: bhIface.encodeFunctionData('record'), gasLimit: 200_000 }),
      sign1559Tx(common, devKey(20), { nonce: 0, to: addressOf(devKey(21)), value: 1n }),
      signLegacyTx(common, k0, { nonce: 6, data: ss.bytecode + uintWord(3), gasLimit: 400_000 }),
      signLegacyTx(common, k0, { nonce: 7, to: ssAddr, data: '0xdeadbeef', gasLimit: 100_000 }), // reverts (no such function)
    ]),
    committed(4, [
      signLegacyTx(common, k0, { nonce: 8, to: ssAddr, data: ssIface.encodeFunctionData('set', [9]), gasLimit: 100_000 }),
      signLegacyTx(common, k1, { nonce: 3, to: ss2Addr, data: ssIface.encodeFunctionData('set', [11]), gasLimit: 100_000 }),
      signLegacyTx(common, k0, { nonce: 9, to: bhAddr, data: bhIface.encodeFunctionData('record'), gasLimit: 200_000 }),
    ]),
  ];
}

function contractAddress(key: Uint8Array, nonce: number): string {
  return createContractAddress(createAddressFromString(addressOf(key)), BigInt(nonce)).toString();
}

function union(blocks: ExecutedBlock[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const b of blocks) for (const [k, v] of b.nodes) m.set(toHex(k), v);
  return m;
}

function fetchFrom(map: Map<string, Uint8Array>, counter?: { n: number }) {
  return async (keys: Uint8Array[]) => {
    if (counter) counter.n += keys.length;
    return keys.map((k) => map.get(toHex(k)) ?? null);
  };
}

function summary(b: ExecutedBlock) {
  return { hash: b.hash, stateRoot: b.stateRoot, receipts: b.receipts, dropped: b.dropped, block: b.block };
}

test('two engines fed the same blocks produce identical blocks', async () => {
  const a = await ExecutionEngine.create({ network });
  const b = await ExecutionEngine.create({ network });
  assert.equal(a.genesis()!.hash, b.genesis()!.hash);
  const blocks = scenario(a.common);
  for (const blk of blocks) {
    const ea = await a.executeBlock(blk);
    const eb = await b.executeBlock(structuredClone(blk));
    assert.deepEqual(summary(ea), summary(eb));
    assert.deepEqual(ea.dropped, []);
  }
  assert.deepEqual(a.head(), b.head());
});

test('restart equivalence: an engine restarted from the head and the persisted nodes continues identically', async () => {
  const a = await ExecutionEngine.create({ network });
  const blocks = scenario(a.common);
  const executed: ExecutedBlock[] = [a.genesis()!];
  for (const blk of blocks) executed.push(await a.executeBlock(blk));
  const [g, e1, e2, e3, e4] = executed;
  assert.equal(e3.receipts[5].status, '0x0', 'the scenario has a failing tx');
  assert.equal(e3.receipts.length, 6);

  // B restarts after block 2 with only what the state store persisted (genesis, 1, 2).
  const persisted = union([g, e1, e2]);
  const counter = { n: 0 };
  const known = new Map(executed.map((e) => [e.number, e.hash]));
  const b = await ExecutionEngine.create({
    network,
    head: { number: e2.number, hash: e2.hash, stateRoot: e2.stateRoot, timestamp: e2.timestamp },
    fetchNodes: fetchFrom(persisted, counter),
    blockHash: async (n) => known.get(n) ?? null,
  });
  assert.equal(b.genesis(), null);
  assert.equal(b.head().hash, e2.hash);
  // reads at the head before executing anything
  const get = await b.call({ to: e1.receipts[0].contractAddress!, data: ssIface.encodeFunctionData('get') });
  assert.equal(BigInt(get.returnData), 7n);

  const b3 = await b.executeBlock(blocks[2]);
  assert.deepEqual(summary(b3), summary(e3));
  assert.ok(counter.n > 0, 'B fetched nodes it did not hold');
  for (const [k, v] of b3.nodes) persisted.set(toHex(k), v);

  // Everything at block 3 is readable from the union of what was persisted.
  for (const addr of [e1.receipts[0].contractAddress!, e1.receipts[2].contractAddress!, e3.receipts[4].contractAddress!]) {
    const acc = await readAccount(persisted, b3.stateRoot, addr);
    assert.ok(acc);
    assert.equal(toHex(await readCode(persisted, b3.stateRoot, addr)), ss.deployedBytecode);
  }
  assert.equal(BigInt(toHex(await readStorage(persisted, b3.stateRoot, e1.receipts[0].contractAddress!, '0x' + '00'.repeat(32)))), 8n);
  assert.equal(BigInt(toHex(await readStorage(persisted, b3.stateRoot, e1.receipts[2].contractAddress!, '0x' + '00'.repeat(32)))), 0n);
  assert.equal((await readAccount(persisted, b3.stateRoot, addressOf(devKey(21))))?.balance, 1n);

  // And a third engine restarted after block 3 from that union continues to block 4 identically.
  const c = await ExecutionEngine.create({
    network,
    head: { number: b3.number, hash: b3.hash, stateRoot: b3.stateRoot, timestamp: b3.timestamp },
    fetchNodes: fetchFrom(persisted),
    blockHash: async (n) => known.get(n) ?? null,
  });
  const c4 = await c.executeBlock(blocks[3]);
  assert.deepEqual(summary(c4), summary(e4));
  // B too (it keeps its cache and continues)
  const b4 = await b.executeBlock(blocks[3]);
  assert.deepEqual(summary(b4), summary(e4));
  // BLOCKHASH saw the real hashes
  const bh = e1.receipts[1].contractAddress!;
  const seen = await c.call({ to: bh, data: bhIface.encodeFunctionData('seen', [2]) });
  assert.equal(seen.returnData, e2.hash);
  const seen1 = await c.call({ to: bh, data: bhIface.encodeFunctionData('seen', [1]) });
  assert.equal(seen1.returnData, e1.hash);
});

test('a node the state store cannot serve aborts the block without changing anything; a retry succeeds', async () => {
  const a = await ExecutionEngine.create({ network });
  const blocks = scenario(a.common);
  const executed: ExecutedBlock[] = [a.genesis()!];
  for (const blk of blocks) executed.push(await a.executeBlock(blk));
  const [g, e1, e2, e3] = executed;
  const known = new Map(executed.map((e) => [e.number, e.hash]));
  const persisted = union([g, e1, e2]);
  let available = false;
  const b = await ExecutionEngine.create({
    network,
    head: { number: e2.number, hash: e2.hash, stateRoot: e2.stateRoot, timestamp: e2.timestamp },
    fetchNodes: async (keys) => (available ? keys.map((k) => persisted.get(toHex(k)) ?? null) : keys.map(() => null)),
    blockHash: async (n) => known.get(n) ?? null,
  });
  await assert.rejects(b.executeBlock(blocks[2]), ExecutionEnvironmentError);
  assert.equal(b.head().hash, e2.hash);
  available = true;
  const b3 = await b.executeBlock(blocks[2]);
  assert.deepEqual(summary(b3), summary(e3));

  // Without the hashes of earlier blocks, BLOCKHASH aborts the block rather than reading a wrong value.
  const c = await ExecutionEngine.create({
    network,
    head: { number: e2.number, hash: e2.hash, stateRoot: e2.stateRoot, timestamp: e2.timestamp },
    fetchNodes: fetchFrom(persisted),
  });
  await assert.rejects(c.executeBlock(blocks[2]), /BLOCKHASH/);
  assert.equal(c.head().hash, e2.hash);
});

test('the engine accepts the transaction of an account whose state came only from fetched nodes', async () => {
  // Many accounts in genesis so that the trie is deep, then a restart straight from genesis.
  const big = devNetwork({ funded: 200 });
  const a = await ExecutionEngine.create({ network: big });
  const g = a.genesis()!;
  const txs = Array.from({ length: 50 }, (_, i) => signLegacyTx(a.common, devKey(i * 3), { nonce: 0, to: addressOf(devKey(1000 + i)), value: BigInt(i + 1) }));
  const blk: CommittedBlock = { height: 1, timestamp: big.genesis.timestamp + 1, proposer: 'a', raftTerm: 1, raftIndex: 1, transactions: txs };
  const e1 = await a.executeBlock(blk);
  const b = await ExecutionEngine.create({
    network: big,
    head: { number: 0n, hash: g.hash, stateRoot: g.stateRoot, timestamp: g.timestamp },
    fetchNodes: fetchFrom(union([g])),
  });
  const b1 = await b.executeBlock(blk);
  assert.deepEqual(summary(b1), summary(e1));
  assert.equal(b1.transactions.length, 50);
  const all = union([g, b1]);
  assert.equal((await readAccount(all, b1.stateRoot, addressOf(devKey(1049))))?.balance, 50n);
  assert.equal((await readAccount(all, b1.stateRoot, a1))?.balance, 10n ** 24n);
});

test('every block verifies with @ethereumjs runBlock on an independent reference VM', async () => {
  const a = await ExecutionEngine.create({ network });
  const blocks = scenario(a.common);
  const executed: ExecutedBlock[] = [a.genesis()!];
  for (const blk of blocks) executed.push(await a.executeBlock(blk));

  // Reference: stock MerkleStateManager (no caches), genesis alloc, stock runBlock.
  const hashes = new Map(executed.map((e) => [Number(e.number), hexToBytes(e.hash as `0x${string}`)]));
  const blockchain = {
    getBlock: async (n: number) => ({ hash: () => hashes.get(n)! }),
    putBlock: async () => {},
    shallowCopy() {
      return this;
    },
  };
  const stateManager = new MerkleStateManager({ common: a.common });
  for (const [addr, { balance }] of Object.entries(network.genesis.alloc)) {
    await stateManager.putAccount(createAddressFromString(addr), createAccount({ balance: BigInt(balance) }));
  }
  assert.equal(toHex(await stateManager.getStateRoot()), executed[0].stateRoot);
  const vm = await createVM({ common: a.common, stateManager, blockchain });
  for (let i = 1; i < executed.length; i++) {
    const e = executed[i];
    const rb = e.block;
    const header = {
      parentHash: rb.parentHash, uncleHash: rb.sha3Uncles, coinbase: rb.miner, stateRoot: rb.stateRoot,
      transactionsTrie: rb.transactionsRoot, receiptTrie: rb.receiptsRoot, logsBloom: rb.logsBloom,
      difficulty: rb.difficulty, number: rb.number, gasLimit: rb.gasLimit, gasUsed: rb.gasUsed, timestamp: rb.timestamp,
      extraData: rb.extraData, mixHash: rb.mixHash, nonce: rb.nonce, baseFeePerGas: rb.baseFeePerGas,
      withdrawalsRoot: rb.withdrawalsRoot, blobGasUsed: rb.blobGasUsed, excessBlobGas: rb.excessBlobGas,
      parentBeaconBlockRoot: rb.parentBeaconBlockRoot,
    } as Record<string, string>;
    const raws = blocks[i - 1].transactions.map((r) => hexToBytes(r as `0x${string}`));
    const block = createBlock(
      { header, transactions: raws.map((r) => createTxFromRLP(r, { common: a.common })), withdrawals: [] },
      { common: a.common },
    );
    assert.equal(toHex(block.hash()), e.hash, `block ${i} header hash`);
    // generate: false → runBlock checks stateRoot, receiptsRoot, logsBloom and gasUsed against the header.
    const result = await runBlock(vm, { block, skipBlockValidation: true, skipHardForkValidation: true });
    assert.equal(result.receipts.length, e.receipts.length);
    result.receipts.forEach((r, j) => assert.equal(BigInt(e.receipts[j].cumulativeGasUsed), r.cumulativeBlockGasUsed));
  }
});

test('resetTo a stored head, and a bounded node cache refetching what it dropped', async () => {
  const a = await ExecutionEngine.create({ network });
  const blocks = scenario(a.common);
  const executed: ExecutedBlock[] = [a.genesis()!];
  for (const blk of blocks) executed.push(await a.executeBlock(blk));
  const [g, , e2, e3, e4] = executed;
  const known = new Map(executed.map((e) => [e.number, e.hash]));

  // The shell could not persist block 3: back to block 2, execute 3 again; its nodes are reported again.
  const persisted = union([g]);
  const b = await ExecutionEngine.create({
    network,
    fetchNodes: fetchFrom(persisted),
    blockHash: async (n) => known.get(n) ?? null,
    nodeCacheLimit: 50,
  });
  for (const blk of blocks.slice(0, 2)) {
    const e = await b.executeBlock(blk);
    for (const [k, v] of e.nodes) persisted.set(toHex(k), v);
  }
  await b.executeBlock(blocks[2]); // executed, never persisted
  assert.equal(b.head().hash, e3.hash);
  await b.resetTo({ number: e2.number, hash: e2.hash, stateRoot: e2.stateRoot, timestamp: e2.timestamp });
  assert.equal(b.head().hash, e2.hash);
  const again = await b.executeBlock(blocks[2]);
  assert.deepEqual(summary(again), summary(e3));
  for (const [k, v] of again.nodes) persisted.set(toHex(k), v);
  const b4 = await b.executeBlock(blocks[3]);
  assert.deepEqual(summary(b4), summary(e4));
  assert.ok(b.store.size < 400, `the node cache was bounded (${b.store.size})`);
});
