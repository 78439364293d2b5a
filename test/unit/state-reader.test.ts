import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface } from 'ethers';
import { ExecutionEngine, type ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { addressOf, devKey, devNetwork, signLegacyTx, uintWord } from '../support/dev-tx.js';
import { readAccount, readCode, readStorage, StateNotAvailableError, type NodeSource } from '../../actors/ledger/state/trie-reader.js';
import { toHex } from '../../lib/hex.js';
import { compileSimpleStorage } from '../support/contracts.js';

const network = devNetwork({ funded: 2, balance: 1000n });
const k0 = devKey(0);
const a0 = addressOf(k0);
const ss = compileSimpleStorage();
const ssIface = new Interface(ss.abi as never);
const SLOT0 = '0x' + '00'.repeat(32);
const KECCAK_EMPTY = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';
const EMPTY_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

async function chain(): Promise<ExecutedBlock[]> {
  const engine = await ExecutionEngine.create({ network });
  const c = engine.common;
  const g = engine.genesis()!;
  const b1 = await engine.executeBlock({
    height: 1,
    timestamp: network.genesis.timestamp + 1,
    proposer: 'a',
    raftTerm: 1,
    raftIndex: 1,
    transactions: [
      signLegacyTx(c, k0, { nonce: 0, data: ss.bytecode + uintWord(42), gasLimit: 400_000 }),
      signLegacyTx(c, k0, { nonce: 1, to: addressOf(devKey(5)), value: 10n }),
    ],
  });
  const addr = b1.receipts[0].contractAddress!;
  const b2 = await engine.executeBlock({
    height: 2,
    timestamp: network.genesis.timestamp + 2,
    proposer: 'a',
    raftTerm: 1,
    raftIndex: 2,
    transactions: [signLegacyTx(c, k0, { nonce: 2, to: addr, data: ssIface.encodeFunctionData('set', [7]), gasLimit: 100_000 })],
  });
  return [g, b1, b2];
}

function union(blocks: ExecutedBlock[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const b of blocks) for (const [k, v] of b.nodes) m.set(toHex(k), v);
  return m;
}

test('state reader: balance, nonce, code and storage at any root from the union of nodes', async () => {
  const [g, b1, b2] = await chain();
  const nodes = union([g, b1, b2]);
  const addr = b1.receipts[0].contractAddress!;

  const genesisAcc = await readAccount(nodes, g.stateRoot, a0);
  assert.deepEqual(genesisAcc, { nonce: 0n, balance: 1000n, codeHash: KECCAK_EMPTY, storageRoot: EMPTY_ROOT });
  assert.equal((await readAccount(nodes, b1.stateRoot, a0))?.nonce, 2n);
  assert.equal((await readAccount(nodes, b1.stateRoot, a0))?.balance, 990n);
  assert.equal((await readAccount(nodes, b2.stateRoot, a0))?.nonce, 3n);
  assert.equal((await readAccount(nodes, b1.stateRoot, addressOf(devKey(5))))?.balance, 10n);
  assert.equal(await readAccount(nodes, g.stateRoot, addr), null, 'the contract does not exist at genesis');

  const acc = await readAccount(nodes, b1.stateRoot, addr);
  assert.ok(acc);
  assert.equal(acc.nonce, 1n); // EIP-161: contracts start at nonce 1
  assert.notEqual(acc.codeHash, KECCAK_EMPTY);
  assert.notEqual(acc.storageRoot, EMPTY_ROOT);
  assert.equal(toHex(await readCode(nodes, b1.stateRoot, addr)), ss.deployedBytecode);
  assert.equal(toHex(await readCode(nodes, b1.stateRoot, a0)), '0x');
  assert.equal(toHex(await readCode(nodes, g.stateRoot, addr)), '0x');

  const s1 = await readStorage(nodes, b1.stateRoot, addr, SLOT0);
  assert.equal(s1.length, 32);
  assert.equal(toHex(s1), '0x' + uintWord(42));
  assert.equal(toHex(await readStorage(nodes, b2.stateRoot, addr, SLOT0)), '0x' + uintWord(7));
  assert.equal(toHex(await readStorage(nodes, b2.stateRoot, addr, '0x' + '00'.repeat(31) + '01')), '0x' + '00'.repeat(32));
  assert.equal(toHex(await readStorage(nodes, b2.stateRoot, a0, SLOT0)), '0x' + '00'.repeat(32));
  // byte arguments work too
  assert.equal(toHex(await readStorage(nodes, b2.stateRoot, addr, new Uint8Array(32))), '0x' + uintWord(7));

  // An async source (e.g. a database) works the same way.
  const asyncSource: NodeSource = { get: async (k: string) => nodes.get(k) ?? null };
  assert.equal((await readAccount(asyncSource, b2.stateRoot, a0))?.nonce, 3n);
  assert.equal(toHex(await readStorage(asyncSource, b2.stateRoot, addr, SLOT0)), '0x' + uintWord(7));

  // The empty state has no accounts.
  assert.equal(await readAccount(new Map(), EMPTY_ROOT, a0), null);
});

test('state reader: missing nodes are reported, never read as empty', async () => {
  const [g, b1, b2] = await chain();
  const addr = b1.receipts[0].contractAddress!;
  // Without block 2's nodes, block 2's state is not available.
  const partial = union([g, b1]);
  await assert.rejects(readAccount(partial, b2.stateRoot, a0), StateNotAvailableError);
  await assert.rejects(readStorage(partial, b2.stateRoot, addr, SLOT0), StateNotAvailableError);
  // Unknown root.
  await assert.rejects(readAccount(union([g, b1, b2]), '0x' + '11'.repeat(32), a0), StateNotAvailableError);
  // Code missing from the source.
  const noCode = union([g, b1, b2]);
  for (const k of [...noCode.keys()]) if (k.length === 2 + 66) noCode.delete(k); // 33-byte keys: 'c' ++ codeHash
  await assert.rejects(readCode(noCode, b2.stateRoot, addr), StateNotAvailableError);
});
