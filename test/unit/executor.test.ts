import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface, JsonRpcProvider, Network, id as ethersId, type JsonRpcPayload, type JsonRpcResult } from 'ethers';
import { ExecutionEngine, type ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { createLedgerCommon } from '../../lib/ethereum/chain.js';
import { addressOf, devKey, devNetwork, sign1559Tx, signLegacyTx, uintWord } from '../support/dev-tx.js';
import { RpcBlock, RpcLog, RpcReceipt, RpcTransaction } from '../../actors/ledger/executor/messages.js';
import { readAccount } from '../../actors/ledger/state/trie-reader.js';
import { toHex } from '../../lib/hex.js';
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import { compileReverter, compileSimpleStorage } from '../support/contracts.js';

const network = devNetwork({ funded: 3, balance: 10n ** 21n });
const k0 = devKey(0);
const k1 = devKey(1);
const a0 = addressOf(k0);
const a1 = addressOf(k1);
const stranger = addressOf(devKey(77)); // never funded
const ss = compileSimpleStorage();
const rv = compileReverter();
const ssIface = new Interface(ss.abi as never);
const rvIface = new Interface(rv.abi as never);

let raftIndex = 0;
function committed(height: number, transactions: string[], timestamp = network.genesis.timestamp + height): CommittedBlock {
  return { height, timestamp, proposer: 'a', raftTerm: 1, raftIndex: ++raftIndex, transactions };
}

/** Every entry the state store would hold after persisting these blocks. */
function nodeMap(blocks: ExecutedBlock[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const b of blocks) for (const [k, v] of b.nodes) m.set(toHex(k), v);
  return m;
}

function validateRpc(b: ExecutedBlock): void {
  RpcBlock.parse(b.block);
  for (const t of b.transactions) RpcTransaction.parse(t);
  for (const r of b.receipts) RpcReceipt.parse(r);
  for (const l of b.logs) RpcLog.parse(l);
  assert.deepEqual(b.block.transactions, b.transactions.map((t) => t.hash));
}

test('genesis: block 0 from the alloc, balances readable from the emitted nodes', async () => {
  const engine = await ExecutionEngine.create({ network });
  const g = engine.genesis();
  assert.ok(g);
  assert.equal(g.number, 0n);
  assert.equal(g.block.number, '0x0');
  assert.equal(g.block.parentHash, '0x' + '00'.repeat(32));
  assert.equal(g.block.baseFeePerGas, '0x0');
  assert.equal(g.block.sha3Uncles, '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347');
  validateRpc(g);
  assert.ok(g.nodes.length > 0);
  assert.deepEqual(engine.head(), {
    number: 0n,
    hash: g.hash,
    stateRoot: g.stateRoot,
    privateStateRoot: '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421', // the empty trie: nothing private yet
    timestamp: BigInt(network.genesis.timestamp),
    gasLimit: 30_000_000n,
  });
  const nodes = nodeMap([g]);
  for (const addr of Object.keys(network.genesis.alloc)) {
    const acc = await readAccount(nodes, g.stateRoot, addr);
    assert.equal(acc?.balance, 10n ** 21n);
    assert.equal(acc?.nonce, 0n);
  }
  assert.equal(await readAccount(nodes, g.stateRoot, stranger), null);
  // Same network, same genesis, anywhere.
  const again = await ExecutionEngine.create({ network });
  assert.equal(again.genesis()?.hash, g.hash);
});

test('value transfer, gas price 0 and maxFeePerGas 0 (zero-balance sender), receipts and formats', async () => {
  const engine = await ExecutionEngine.create({ network });
  const common = engine.common;
  const g = engine.genesis()!;
  const t1 = signLegacyTx(common, k0, { nonce: 0, to: a1, value: 12345n });
  const t2 = sign1559Tx(common, devKey(77), { nonce: 0, to: a0, value: 0n }); // sender has no funds: gas is free
  const b1 = await engine.executeBlock(committed(1, [t1, t2]));
  validateRpc(b1);
  assert.deepEqual(b1.dropped, []);
  assert.equal(b1.transactions.length, 2);
  assert.equal(b1.parentHash, g.hash);
  assert.equal(b1.block.gasUsed, '0xa410'); // 2 × 21000
  assert.equal(engine.head().hash, b1.hash);

  const [r1, r2] = b1.receipts;
  assert.equal(r1.status, '0x1');
  assert.equal(r1.gasUsed, '0x5208');
  assert.equal(r1.cumulativeGasUsed, '0x5208');
  assert.equal(r2.cumulativeGasUsed, '0xa410');
  assert.equal(r1.effectiveGasPrice, '0x0');
  assert.equal(r1.from, a0);
  assert.equal(r1.to, a1);
  assert.equal(r1.type, '0x0');
  assert.equal(r2.type, '0x2');
  assert.equal(r2.from, stranger);
  assert.equal(r1.contractAddress, null);

  const [tx1, tx2] = b1.transactions;
  assert.equal(tx1.chainId, '0x539');
  assert.equal(tx1.yParity, undefined);
  assert.ok(tx1.v === '0xa95' || tx1.v === '0xa96'); // 1337*2+35/36
  assert.equal(tx2.yParity, tx2.v);
  assert.equal(tx2.maxFeePerGas, '0x0');
  assert.deepEqual(tx2.accessList, []);
  assert.equal(tx1.blockHash, b1.hash);

  const nodes = nodeMap([g, b1]);
  assert.equal((await readAccount(nodes, b1.stateRoot, a1))?.balance, 10n ** 21n + 12345n);
  assert.equal((await readAccount(nodes, b1.stateRoot, a0))?.balance, 10n ** 21n - 12345n);
  assert.equal((await readAccount(nodes, b1.stateRoot, a0))?.nonce, 1n);
  assert.equal((await readAccount(nodes, b1.stateRoot, stranger))?.nonce, 1n);
  // the state before the block is still readable
  assert.equal((await readAccount(nodes, g.stateRoot, a1))?.balance, 10n ** 21n);

  // An empty block still advances (timestamp kept non-decreasing).
  const b2 = await engine.executeBlock(committed(2, [], network.genesis.timestamp - 50));
  assert.equal(b2.timestamp, b1.timestamp);
  assert.equal(b2.stateRoot, b1.stateRoot);
  assert.equal(b2.block.transactionsRoot, '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421');
  validateRpc(b2);

  // Heights must follow the head.
  await assert.rejects(engine.executeBlock(committed(5, [])), /expected block 3/);
});

test('SimpleStorage: deploy with 42, call get(), set(10) emits Changed, estimateGas fits', async () => {
  const engine = await ExecutionEngine.create({ network });
  const common = engine.common;
  const deployData = ss.bytecode + uintWord(42);
  const estDeploy = await engine.estimateGas({ from: a0, data: deployData });
  const deploy = signLegacyTx(common, k0, { nonce: 0, data: deployData, gasLimit: estDeploy });
  const b1 = await engine.executeBlock(committed(1, [deploy]));
  validateRpc(b1);
  const receipt = b1.receipts[0];
  assert.equal(receipt.status, '0x1', 'deploy succeeds with the estimated gas');
  const addr = receipt.contractAddress;
  assert.ok(addr);
  assert.ok(BigInt(receipt.gasUsed) <= estDeploy);
  assert.ok(estDeploy - BigInt(receipt.gasUsed) < BigInt(receipt.gasUsed) / 50n, 'estimate within 2%');

  const get = await engine.call({ to: addr, data: ssIface.encodeFunctionData('get') });
  assert.equal(get.reverted, false);
  assert.equal(BigInt(get.returnData), 42n);

  const setData = ssIface.encodeFunctionData('set', [10]);
  const estSet = await engine.estimateGas({ from: a0, to: addr, data: setData });
  const b2 = await engine.executeBlock(committed(2, [signLegacyTx(common, k0, { nonce: 1, to: addr, data: setData, gasLimit: estSet })]));
  validateRpc(b2);
  assert.equal(b2.receipts[0].status, '0x1');
  assert.equal(b2.logs.length, 1);
  const log = b2.logs[0];
  assert.equal(log.address, addr);
  assert.deepEqual(log.topics, [ethersId('Changed(uint256)')]);
  assert.equal(BigInt(log.data), 10n);
  assert.equal(log.logIndex, '0x0');
  assert.equal(log.transactionHash, b2.transactions[0].hash);
  assert.deepEqual(b2.receipts[0].logs, [log]);
  assert.notEqual(b2.block.logsBloom, '0x' + '00'.repeat(256));
  assert.equal(b2.receipts[0].logsBloom, b2.block.logsBloom);

  assert.equal(BigInt((await engine.call({ to: addr, data: ssIface.encodeFunctionData('get') })).returnData), 10n);
  // Calls at an earlier state.
  const atB1 = await engine.call({ to: addr, data: ssIface.encodeFunctionData('get') }, { stateRoot: b1.stateRoot, number: 1n, timestamp: b1.timestamp });
  assert.equal(BigInt(atB1.returnData), 42n);
  // A call's writes never reach the block's nodes nor the state.
  const sizeBefore = engine.store.size;
  await engine.call({ from: a0, to: addr, data: ssIface.encodeFunctionData('set', [99]) });
  assert.equal(engine.store.size, sizeBefore);
  assert.equal(BigInt((await engine.call({ to: addr, data: ssIface.encodeFunctionData('get') })).returnData), 10n);
  // A plain transfer estimates to exactly 21000; one the sender cannot pay is refused.
  assert.equal(await engine.estimateGas({ from: a0, to: a1, value: '0x1' }), 21_000n);
  await assert.rejects(engine.estimateGas({ from: stranger, to: a1, value: '0x1' }), /funds/);
  const c = await engine.call({ from: a0, to: a1 });
  assert.deepEqual(c, { returnData: '0x', gasUsed: 21_000n, reverted: false });
});

test('invalid committed transactions are dropped deterministically with a reason', async () => {
  const engine = await ExecutionEngine.create({ network: { ...network, genesis: { ...network.genesis, gasLimit: '100000' } } });
  const common = engine.common;
  const otherChain = createLedgerCommon({ ...network, chainId: 999 });
  const good = signLegacyTx(common, k0, { nonce: 0, to: a1, value: 1n });
  const replay = good; // same tx again: nonce too low
  const tooHigh = signLegacyTx(common, k1, { nonce: 3, to: a0, value: 1n });
  const wrongChain = signLegacyTx(otherChain, k1, { nonce: 0, to: a0, value: 1n });
  const wrongChain1559 = sign1559Tx(otherChain, k1, { nonce: 0, to: a0 });
  const poor = signLegacyTx(common, devKey(50), { nonce: 0, to: a0, value: 1n });
  const overBlock = signLegacyTx(common, k1, { nonce: 0, to: a0, gasLimit: 90_000 }); // 21000 used, 79000 left
  const lowGas = signLegacyTx(common, k1, { nonce: 0, to: a0, gasLimit: 20_000 });
  const okAfter = signLegacyTx(common, k1, { nonce: 0, to: a0, value: 2n });
  const b1 = await engine.executeBlock(committed(1, [good, replay, tooHigh, wrongChain, wrongChain1559, '0x1234', poor, overBlock, lowGas, okAfter]));
  validateRpc(b1);
  assert.equal(b1.transactions.length, 2);
  assert.deepEqual(b1.receipts.map((r) => r.from), [a0, a1]);
  const reasons = b1.dropped.map((d) => d.reason);
  if (process.env.SHOW_REASONS) console.log(reasons);
  assert.equal(b1.dropped.length, 8);
  assert.match(reasons[0], /nonce too low/);
  assert.match(reasons[1], /nonce too high/);
  assert.match(reasons[2], /invalid chain id: got 999/i);
  assert.match(reasons[3], /invalid chain id: got 999/i);
  assert.match(reasons[4], /transaction type not supported: 18/);
  assert.match(reasons[5], /insufficient funds/);
  assert.match(reasons[6], /exceeds the block's remaining gas/);
  assert.match(reasons[7], /intrinsic gas too low/);
  for (const d of b1.dropped) assert.match(d.hash, /^0x[0-9a-f]{64}$/);
  assert.equal(b1.dropped[0].hash, b1.transactions[0].hash);
  // Not in the block.
  for (const d of b1.dropped.slice(1)) assert.ok(!b1.block.transactions.includes(d.hash as never));

  // The same input gives the same result elsewhere.
  const other = await ExecutionEngine.create({ network: { ...network, genesis: { ...network.genesis, gasLimit: '100000' } } });
  const o1 = await other.executeBlock(committed(1, [good, replay, tooHigh, wrongChain, wrongChain1559, '0x1234', poor, overBlock, lowGas, okAfter]));
  assert.equal(o1.hash, b1.hash);
  assert.deepEqual(o1.dropped, b1.dropped);
});

test('a reverting transaction is included with status 0x0 and its revertReason', async () => {
  const engine = await ExecutionEngine.create({ network });
  const common = engine.common;
  const deploy = signLegacyTx(common, k0, { nonce: 0, data: rv.bytecode, gasLimit: 300_000 });
  const b1 = await engine.executeBlock(committed(1, [deploy]));
  const addr = b1.receipts[0].contractAddress!;
  const bad = signLegacyTx(common, k0, { nonce: 1, to: addr, data: rvIface.encodeFunctionData('setPositive', [0]), gasLimit: 100_000 });
  const good = signLegacyTx(common, k0, { nonce: 2, to: addr, data: rvIface.encodeFunctionData('setPositive', [5]), gasLimit: 100_000 });
  const b2 = await engine.executeBlock(committed(2, [bad, good]));
  validateRpc(b2);
  assert.equal(b2.transactions.length, 2);
  const [r1, r2] = b2.receipts;
  assert.equal(r1.status, '0x0');
  assert.ok(r1.revertReason);
  assert.deepEqual(rvIface.parseError(r1.revertReason!)?.args.toArray(), ['value must be positive']);
  assert.ok(BigInt(r1.gasUsed) < 100_000n, 'REVERT refunds the remaining gas');
  assert.equal(r2.status, '0x1');
  assert.equal(r2.revertReason, undefined);
  // nonce was consumed by the failed tx
  assert.equal(BigInt((await engine.call({ to: addr, data: rvIface.encodeFunctionData('value') })).returnData), 5n);

  // call / estimateGas report the revert
  const c = await engine.call({ from: a0, to: addr, data: rvIface.encodeFunctionData('alwaysRevert') });
  assert.equal(c.reverted, true);
  assert.equal(c.error, 'revert');
  assert.deepEqual(rvIface.parseError(c.revertData!)?.args.toArray(), ['always reverts']);
  await assert.rejects(engine.estimateGas({ from: a0, to: addr, data: rvIface.encodeFunctionData('alwaysRevert') }), (err: Error & { code?: string; data?: unknown }) => {
    assert.equal(err.code, 'EXECUTION_REVERTED');
    assert.deepEqual(rvIface.parseError(err.data as string)?.args.toArray(), ['always reverts']);
    return true;
  });
  // out of gas: status 0, no revertReason
  const oog = signLegacyTx(common, k0, { nonce: 3, to: addr, data: rvIface.encodeFunctionData('setPositive', [7]), gasLimit: 22_000 });
  const b3 = await engine.executeBlock(committed(3, [oog]));
  assert.equal(b3.receipts[0].status, '0x0');
  assert.equal(b3.receipts[0].gasUsed, '0x55f0');
  assert.equal(b3.receipts[0].revertReason, undefined);
});

/** A fresh engine whose block 1 deploys SimpleStorage(42) (legacy tx) and transfers 7 wei (EIP-1559 tx). */
async function deployAndTransfer() {
  const engine = await ExecutionEngine.create({ network });
  const common = engine.common;
  const b1 = await engine.executeBlock(
    committed(1, [
      signLegacyTx(common, k0, { nonce: 0, data: ss.bytecode + uintWord(42), gasLimit: 300_000 }),
      sign1559Tx(common, k1, { nonce: 0, to: a0, value: 7n }),
    ]),
  );
  return { engine, common, b1 };
}

test('ethers v6 reads the blocks, transactions and receipts', async () => {
  const { engine, common, b1 } = await deployAndTransfer();
  const addr = b1.receipts[0].contractAddress!;
  const b2 = await engine.executeBlock(committed(2, [signLegacyTx(common, k0, { nonce: 1, to: addr, data: ssIface.encodeFunctionData('set', [10]), gasLimit: 100_000 })]));
  const blocks = [engine.genesis()!, b1, b2];
  const byHash = (h: string) => blocks.find((b) => b.hash === h);
  const txByHash = (h: string) => blocks.flatMap((b) => b.transactions).find((t) => t.hash === h) ?? null;
  const rcByHash = (h: string) => blocks.flatMap((b) => b.receipts).find((r) => r.transactionHash === h) ?? null;
  class FakeProvider extends JsonRpcProvider {
    constructor() {
      super(undefined, new Network('devtest', 1337n), { staticNetwork: true });
    }
    override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
      const list = Array.isArray(payload) ? payload : [payload];
      return list.map((p) => {
        const [a0] = p.params as [string];
        let result: unknown = null;
        if (p.method === 'eth_chainId') result = '0x539';
        else if (p.method === 'eth_getBlockByNumber') result = blocks.find((b) => b.block.number === a0)?.block ?? null;
        else if (p.method === 'eth_getBlockByHash') result = byHash(a0)?.block ?? null;
        else if (p.method === 'eth_getTransactionByHash') result = txByHash(a0);
        else if (p.method === 'eth_getTransactionReceipt') result = rcByHash(a0);
        else if (p.method === 'eth_blockNumber') result = b2.block.number;
        return { id: p.id, result };
      });
    }
  }
  const provider = new FakeProvider();
  try {
    const blk = await provider.getBlock(1);
    assert.equal(blk?.hash, b1.hash);
    assert.equal(blk?.transactions.length, 2);
    assert.equal(blk?.baseFeePerGas, 0n);
    const tx = await provider.getTransaction(b1.transactions[1].hash);
    assert.equal(tx?.from.toLowerCase(), a1);
    assert.equal(tx?.type, 2);
    assert.equal(tx?.maxFeePerGas, 0n);
    const legacy = await provider.getTransaction(b1.transactions[0].hash);
    assert.equal(legacy?.type, 0);
    assert.equal(legacy?.chainId, 1337n);
    assert.equal(legacy?.to, null);
    const rc = await provider.getTransactionReceipt(b1.transactions[0].hash);
    assert.equal(rc?.contractAddress?.toLowerCase(), addr);
    assert.equal(rc?.status, 1);
    const rc2 = await provider.getTransactionReceipt(b2.transactions[0].hash);
    assert.equal(rc2?.logs.length, 1);
    const parsed = ssIface.parseLog(rc2!.logs[0]);
    assert.equal(parsed?.name, 'Changed');
    assert.equal(parsed?.args[0], 10n);
    // The signature ethers sees recovers to the sender.
    const { Transaction } = await import('ethers');
    const t = Transaction.from({
      type: legacy!.type,
      to: legacy!.to,
      nonce: legacy!.nonce,
      gasLimit: legacy!.gasLimit,
      gasPrice: legacy!.gasPrice,
      data: legacy!.data,
      value: legacy!.value,
      chainId: legacy!.chainId,
      signature: legacy!.signature,
    });
    assert.equal(t.from?.toLowerCase(), a0);
    assert.equal(t.hash, legacy!.hash);
  } finally {
    provider.destroy();
  }
});

test('web3.js v4 reads the blocks, transactions and receipts', async () => {
  const { Web3 } = await import('web3');
  const { engine, b1 } = await deployAndTransfer();
  const blocks = [engine.genesis()!, b1];
  const provider = {
    request: async ({ method, params }: { method: string; params: unknown[] }) => {
      const [p0] = params as [string];
      if (method === 'eth_getBlockByNumber') return blocks.find((b) => b.block.number === p0)?.block ?? null;
      if (method === 'eth_getTransactionByHash') return blocks.flatMap((b) => b.transactions).find((t) => t.hash === p0) ?? null;
      if (method === 'eth_getTransactionReceipt') return blocks.flatMap((b) => b.receipts).find((r) => r.transactionHash === p0) ?? null;
      if (method === 'eth_chainId') return '0x539';
      throw new Error(`unsupported ${method}`);
    },
  };
  const web3 = new Web3(provider as never);
  const blk = await web3.eth.getBlock(1);
  assert.equal(blk.hash, b1.hash);
  assert.equal(blk.number, 1n);
  assert.equal(blk.transactions.length, 2);
  const tx = await web3.eth.getTransaction(b1.transactions[1].hash);
  assert.equal(tx.from, a1);
  assert.equal(tx.type, 2n);
  const rc = await web3.eth.getTransactionReceipt(b1.transactions[0].hash);
  assert.equal(rc.contractAddress, b1.receipts[0].contractAddress);
  assert.equal(rc.status, 1n);
  assert.equal(rc.effectiveGasPrice, 0n);
});
