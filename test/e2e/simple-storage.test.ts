/**
 * The SimpleStorage walkthrough with ethers v6 against a 4-participant network: deploy through p1,
 * read on every gateway, write through p4, transfers, logs, a mixed load, and agreement of all
 * four participants on the chain and its state; then web3.js v4 against p2 (deploy, call, and set() from a
 * node-managed account). simple-storage-qbft.test.ts runs all of it again on QBFT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Web3 } from 'web3';
import { AbiCoder, Contract, ContractFactory, Interface, Wallet, getAddress, type InterfaceAbi, type TransactionReceipt } from 'ethers';
import { compileReverter, compileSimpleStorage } from '../support/contracts.js';
import { RpcError, describeValue, q, signLegacy, useNetwork, waitFor, withDeadline } from '../support/network.js';

const h = useNetwork('simplestorage', { testKeys: 8 });
const compiled = compileSimpleStorage();
const SS = { abi: compiled.abi as InterfaceAbi, bytecode: compiled.bytecode };
const ssIface = new Interface(SS.abi);
const CHANGED_TOPIC = ssIface.getEvent('Changed')!.topicHash;
const abi = AbiCoder.defaultAbiCoder();

/** The same walkthrough runs on a QBFT network (simple-storage-qbft.test.ts): consensus RPCs differ. */
const qbft = process.env.QUORUM_TEST_CONSENSUS === 'qbft';
const T = 180_000; // per-test timeout; waits inside have their own, shorter deadlines

/** Fields ethers (and most clients) read from a receipt. */
function assertReceiptShape(r: any, hash: string, where: string): void {
  assert.ok(r && typeof r === 'object', `${where}: no receipt for ${hash}`);
  for (const k of ['transactionHash', 'transactionIndex', 'blockHash', 'blockNumber', 'from', 'to', 'cumulativeGasUsed', 'gasUsed', 'contractAddress', 'logs', 'logsBloom', 'status']) {
    assert.ok(k in r, `${where}: receipt of ${hash} lacks "${k}": ${describeValue(r)}`);
  }
  assert.equal(r.transactionHash, hash, `${where}: receipt transactionHash`);
  assert.ok(Array.isArray(r.logs), `${where}: receipt logs is not an array`);
  assert.match(r.logsBloom, /^0x[0-9a-f]{512}$/i, `${where}: logsBloom`);
  assert.ok('effectiveGasPrice' in r, `${where}: receipt lacks effectiveGasPrice: ${describeValue(r)}`);
  assert.equal(q(r.effectiveGasPrice, 'effectiveGasPrice'), 0n, `${where}: effectiveGasPrice must be 0`);
}

/** Receipts are identical on every gateway (same block hash, number, status, logs). */
function assertSameReceipts(receipts: any[], hash: string): void {
  const [first, ...rest] = receipts;
  rest.forEach((r, j) => {
    for (const k of ['blockHash', 'blockNumber', 'transactionIndex', 'status', 'gasUsed', 'cumulativeGasUsed', 'contractAddress', 'logsBloom']) {
      assert.deepEqual(r[k], first[k], `receipt of ${hash}: "${k}" differs between p1 (${describeValue(first[k])}) and p${j + 2} (${describeValue(r[k])})`);
    }
    assert.deepEqual(r.logs, first.logs, `receipt of ${hash}: logs differ between p1 and p${j + 2}`);
  });
}

let ssAddress: string | undefined;
let setReceipt: TransactionReceipt | undefined;

function deployed(): string {
  if (!ssAddress) throw new Error('SimpleStorage was not deployed (an earlier test failed)');
  return ssAddress;
}

test('the gateways answer basic queries', { timeout: T }, async () => {
  const t = h.t;
  for (let i = 0; i < t.size; i++) {
    assert.equal(q(await t.rpc(i, 'eth_chainId'), 'eth_chainId'), BigInt(t.chainId), `eth_chainId on ${t.participantId(i)}`);
    assert.equal(await t.rpc(i, 'net_version'), String(t.chainId), `net_version on ${t.participantId(i)}`);
    assert.equal(q(await t.rpc(i, 'eth_gasPrice')), 0n, `eth_gasPrice on ${t.participantId(i)}`);
    assert.equal(q(await t.rpc(i, 'eth_maxPriorityFeePerGas')), 0n, `eth_maxPriorityFeePerGas on ${t.participantId(i)}`);
    assert.equal(typeof (await t.rpc(i, 'web3_clientVersion')), 'string');
    assert.equal(await t.rpc(i, 'eth_syncing'), false, `eth_syncing on ${t.participantId(i)}`);
    if (!qbft) {
      const role = await t.rpc(i, 'raft_role');
      assert.ok(role === 'minter' || role === 'verifier', `raft_role on ${t.participantId(i)}: ${describeValue(role)}`);
    } else assert.equal(await t.rpc(i, 'istanbul_isValidator'), true, `istanbul_isValidator on ${t.participantId(i)}`);
    const genesis = await t.rpc(i, 'eth_getBlockByNumber', ['0x0', false]);
    assert.ok(genesis && genesis.number === '0x0', `genesis block on ${t.participantId(i)}: ${describeValue(genesis)}`);
  }
  if (!qbft) {
    // exactly one minter, and everyone names it as leader
    const leaders = await Promise.all(t.urls.map((_, i) => t.rpc<string>(i, 'raft_leader')));
    assert.ok(leaders.every((l) => l === leaders[0]), `raft_leader disagrees: ${leaders.join(', ')}`);
    const roles = await Promise.all(t.urls.map((_, i) => t.rpc<string>(i, 'raft_role')));
    assert.deepEqual(roles.map((r, i) => (r === 'minter' ? t.participantId(i) : null)).filter(Boolean), [leaders[0]], `raft_role: ${roles.join(', ')}`);
  } else {
    // every validator, by its node address, and everyone agrees on the set
    const sets = await Promise.all(t.urls.map((_, i) => t.rpc<string[]>(i, 'istanbul_getValidators')));
    const addresses = await Promise.all(t.urls.map((_, i) => t.rpc<string>(i, 'istanbul_nodeAddress')));
    for (const set of sets) assert.deepEqual(set, [...addresses].sort(), 'istanbul_getValidators: every participant, the same set');
  }
  // genesis identical everywhere
  const hashes = await Promise.all(t.urls.map((_, i) => t.rpc(i, 'eth_getBlockByNumber', ['0x0', false]).then((b) => b.hash)));
  assert.ok(hashes.every((x) => x === hashes[0]), `genesis hashes differ: ${hashes.join(', ')}`);
});

test('deploy SimpleStorage(42) through p1 with a node-managed key as an ethers Wallet', { timeout: T }, async () => {
  const t = h.t;
  const wallet = t.nodeWallet(0, 0);
  const factory = new ContractFactory(SS.abi, SS.bytecode, wallet);
  const contract = await withDeadline(factory.deploy(42), 60_000, 'ContractFactory.deploy(42) via p1 (populate + eth_sendRawTransaction)');
  const tx = contract.deploymentTransaction();
  assert.ok(tx, 'deploymentTransaction() is null');
  const receipt = await tx.wait(1, 60_000);
  assert.ok(receipt, 'no receipt for the deployment');
  assert.equal(receipt.status, 1, 'deployment receipt status');
  const address = await contract.getAddress();
  assert.equal(receipt.contractAddress, address, 'receipt contractAddress');
  assert.equal(receipt.from, wallet.address);

  const receipts = await t.receiptsEverywhere(tx.hash);
  receipts.forEach((r, i) => {
    assertReceiptShape(r, tx.hash, t.participantId(i));
    assert.equal(r.status, '0x1', `${t.participantId(i)}: status`);
    assert.equal(getAddress(r.contractAddress), address, `${t.participantId(i)}: contractAddress`);
    assert.equal(r.to, null, `${t.participantId(i)}: a deployment's "to" is null`);
  });
  assertSameReceipts(receipts, tx.hash);

  // the transaction itself is queryable everywhere
  for (let i = 0; i < t.size; i++) {
    const got = await t.providers[i].getTransaction(tx.hash);
    assert.ok(got, `eth_getTransactionByHash(${tx.hash}) on ${t.participantId(i)} is null`);
    assert.equal(got.from, wallet.address);
    assert.equal(got.blockNumber, receipt.blockNumber);
    assert.equal(got.gasPrice ?? 0n, 0n);
  }

  // code and value on all four
  const codes = await Promise.all(t.providers.map((p) => p.getCode(address)));
  assert.ok(codes[0].length > 2, 'eth_getCode is empty on p1');
  codes.forEach((c, i) => assert.equal(c, codes[0], `eth_getCode differs on ${t.participantId(i)}`));
  for (let i = 0; i < t.size; i++) {
    const c = new Contract(address, SS.abi, t.providers[i]);
    assert.equal(await c.get(), 42n, `get() on ${t.participantId(i)}`);
    assert.equal(q(await t.rpc(i, 'eth_getStorageAt', [address, '0x0', 'latest'])), 42n, `eth_getStorageAt slot 0 on ${t.participantId(i)}`);
  }
  ssAddress = address;
});

test('deploy SimpleStorage(42) through p1 with eth_sendTransaction from eth_accounts()[0]', { timeout: T }, async () => {
  const t = h.t;
  const provider = t.providers[0];
  const accounts: string[] = await provider.send('eth_accounts', []);
  assert.ok(Array.isArray(accounts) && accounts.length > 0, `eth_accounts on p1: ${describeValue(accounts)}`);
  const managed = t.nodeKeys(0).map((k) => new Wallet(k).address.toLowerCase());
  assert.ok(managed.includes(accounts[0].toLowerCase()), `eth_accounts()[0] ${accounts[0]} is not one of p1's node-managed accounts ${managed.join(', ')}`);
  const deployTx = await new ContractFactory(SS.abi, SS.bytecode).getDeployTransaction(42);
  const hash: string = await provider.send('eth_sendTransaction', [{ from: accounts[0], data: deployTx.data }]);
  assert.match(hash, /^0x[0-9a-f]{64}$/i, 'eth_sendTransaction returns a tx hash');
  const receipts = await t.receiptsEverywhere(hash);
  receipts.forEach((r, i) => {
    assertReceiptShape(r, hash, t.participantId(i));
    assert.equal(r.status, '0x1', `${t.participantId(i)}: status`);
    assert.equal(r.from.toLowerCase(), accounts[0].toLowerCase());
  });
  assertSameReceipts(receipts, hash);
  const address = getAddress(receipts[0].contractAddress);
  assert.notEqual(address, ssAddress, 'the two deployments share an address');
  for (let i = 0; i < t.size; i++) {
    assert.equal(await new Contract(address, SS.abi, t.providers[i]).get(), 42n, `get() on ${t.participantId(i)}`);
  }
});

test('set(10) through p4 is seen as 10 on all four, with its Changed log', { timeout: T }, async () => {
  const t = h.t;
  const address = deployed();
  const wallet = t.nodeWallet(3, 0);
  const c = new Contract(address, SS.abi, wallet);
  const tx = await withDeadline<any>(c.set(10), 60_000, 'set(10) via p4');
  const receipt: TransactionReceipt | null = await tx.wait(1, 60_000);
  assert.ok(receipt && receipt.status === 1, `set(10) receipt: ${describeValue(receipt)}`);
  setReceipt = receipt;
  const receipts = await t.receiptsEverywhere(tx.hash);
  assertSameReceipts(receipts, tx.hash);
  for (const [i, r] of receipts.entries()) {
    assertReceiptShape(r, tx.hash, t.participantId(i));
    assert.equal(r.logs.length, 1, `${t.participantId(i)}: set() emits one log`);
    assert.equal(getAddress(r.logs[0].address), address);
    assert.deepEqual(r.logs[0].topics, [CHANGED_TOPIC]);
  }
  for (let i = 0; i < t.size; i++) {
    const ci = new Contract(address, SS.abi, t.providers[i]);
    assert.equal(await ci.get(), 10n, `get() on ${t.participantId(i)} after set(10)`);
    // and the value at the previous block is still 42 (state at any block)
    assert.equal(await ci.get({ blockTag: receipt.blockNumber - 1 }), 42n, `get() at block ${receipt.blockNumber - 1} on ${t.participantId(i)}`);
  }
});

test('eth_getLogs finds the Changed(10) event on every participant', { timeout: T }, async () => {
  const t = h.t;
  const address = deployed();
  assert.ok(setReceipt, 'set(10) did not succeed (an earlier test failed)');
  const data10 = abi.encode(['uint256'], [10]);
  const found: any[] = [];
  for (let i = 0; i < t.size; i++) {
    const logs: any[] = await t.rpc(i, 'eth_getLogs', [{ address, fromBlock: '0x0', toBlock: 'latest', topics: [CHANGED_TOPIC] }]);
    assert.ok(Array.isArray(logs), `eth_getLogs on ${t.participantId(i)}: ${describeValue(logs)}`);
    assert.equal(logs.length, 1, `eth_getLogs on ${t.participantId(i)} returned ${logs.length} Changed logs: ${describeValue(logs)}`);
    const log = logs[0];
    assert.equal(log.data, data10, `${t.participantId(i)}: log data`);
    assert.equal(log.transactionHash, setReceipt.hash, `${t.participantId(i)}: log transactionHash`);
    assert.equal(Number(q(log.blockNumber)), setReceipt.blockNumber, `${t.participantId(i)}: log blockNumber`);
    assert.equal(log.blockHash, setReceipt.blockHash, `${t.participantId(i)}: log blockHash`);
    assert.equal(log.removed ?? false, false);
    found.push(log);

    // the same through ethers' own filter path, and by block hash
    const viaEthers = await t.providers[i].getLogs({ address, topics: [CHANGED_TOPIC], fromBlock: setReceipt.blockNumber, toBlock: setReceipt.blockNumber });
    assert.equal(viaEthers.length, 1, `provider.getLogs on ${t.participantId(i)}`);
    assert.equal(ssIface.parseLog(viaEthers[0])?.args[0], 10n);
    const byHash: any[] = await t.rpc(i, 'eth_getLogs', [{ blockHash: setReceipt.blockHash, topics: [CHANGED_TOPIC] }]);
    assert.equal(byHash.length, 1, `eth_getLogs by blockHash on ${t.participantId(i)}: ${describeValue(byHash)}`);
    // a topic that matches nothing
    const none: any[] = await t.rpc(i, 'eth_getLogs', [{ address, fromBlock: '0x0', toBlock: 'latest', topics: ['0x' + '11'.repeat(32)] }]);
    assert.deepEqual(none, [], `eth_getLogs with a non-matching topic on ${t.participantId(i)}`);
  }
  found.forEach((l, i) => assert.deepEqual(l, found[0], `the log differs on ${t.participantId(i)}`));
});

test('a value transfer changes balances identically on all four gateways', { timeout: T }, async () => {
  const t = h.t;
  const sender = t.nodeWallet(1, 0); // p2's node-managed account, through p2
  const recipient = Wallet.createRandom().address;
  const value = 12_345n;
  const tx = await withDeadline(sender.sendTransaction({ to: recipient, value }), 60_000, 'value transfer via p2');
  const receipt = await tx.wait(1, 60_000);
  assert.ok(receipt && receipt.status === 1, `transfer receipt: ${describeValue(receipt)}`);
  const receipts = await t.receiptsEverywhere(tx.hash);
  assertSameReceipts(receipts, tx.hash);
  const n = receipt.blockNumber;
  for (let i = 0; i < t.size; i++) {
    const p = t.providers[i];
    const where = t.participantId(i);
    assert.equal(await p.getBalance(recipient), value, `recipient balance on ${where}`);
    assert.equal(await p.getBalance(recipient, n - 1), 0n, `recipient balance before the transfer on ${where}`);
    const before = await p.getBalance(sender.address, n - 1);
    const afterAt = await p.getBalance(sender.address, n);
    assert.equal(before - afterAt, value, `sender paid exactly the value (gas price 0) on ${where}: before ${before}, after ${afterAt}`);
  }
  const senderBalances = await Promise.all(t.providers.map((p) => p.getBalance(sender.address, n)));
  senderBalances.forEach((b, i) => assert.equal(b, senderBalances[0], `sender balance at block ${n} on ${t.participantId(i)}`));
  const nonces = await Promise.all(t.providers.map((p) => p.getTransactionCount(sender.address, 'latest')));
  nonces.forEach((x, i) => assert.equal(x, nonces[0], `sender nonce on ${t.participantId(i)}`));
});

test('after 50 mixed transactions across gateways all four agree on every block and the state root', { timeout: T }, async () => {
  const t = h.t;
  const address = deployed();
  const wallets = t.testKeys.map((_, k) => t.testWallet(k, k % t.size)); // wallet k pinned to gateway k % 4
  const recipients = Array.from({ length: 5 }, () => Wallet.createRandom().address);
  const TOTAL = 50;
  const plan: { k: number; kind: 'transfer' | 'set'; arg: bigint }[] = [];
  for (let j = 0; j < TOTAL; j++) plan.push({ k: j % wallets.length, kind: j % 2 === 0 ? 'transfer' : 'set', arg: BigInt(1000 + j) });

  const nonces = await Promise.all(wallets.map((w) => w.provider!.getTransactionCount(w.address, 'pending')));
  const perWallet: string[][] = wallets.map(() => []);
  let expectedTransferred = 0n;
  for (const step of plan) {
    const w = wallets[step.k];
    const raw =
      step.kind === 'transfer'
        ? await signLegacy(w, t.chainId, { nonce: nonces[step.k]++, to: recipients[Number(step.arg % 5n)], value: step.arg, gasLimit: 21_000 })
        : await signLegacy(w, t.chainId, { nonce: nonces[step.k]++, to: address, data: ssIface.encodeFunctionData('set', [step.arg]), gasLimit: 100_000 });
    if (step.kind === 'transfer') expectedTransferred += step.arg;
    perWallet[step.k].push(raw);
  }
  // each wallet sends its own transactions in nonce order; wallets run concurrently
  const hashes: string[] = [];
  await Promise.all(
    perWallet.map(async (raws, k) => {
      const gw = k % t.size;
      for (const raw of raws) {
        const hash = await t.rpc<string>(gw, 'eth_sendRawTransaction', [raw]);
        assert.match(hash, /^0x[0-9a-f]{64}$/i, `eth_sendRawTransaction on ${t.participantId(gw)} returned ${describeValue(hash)}`);
        hashes.push(hash);
      }
    }),
  );
  assert.equal(hashes.length, TOTAL);
  assert.equal(new Set(hashes).size, TOTAL, 'duplicate tx hashes');

  let top = 0;
  for (const hash of hashes) {
    const receipts = await t.receiptsEverywhere(hash, 90_000);
    assertSameReceipts(receipts, hash);
    assert.equal(receipts[0].status, '0x1', `tx ${hash} failed: ${describeValue(receipts[0])}`);
    top = Math.max(top, Number(q(receipts[0].blockNumber)));
  }

  // every block 0..top is the same on all four, and so is the state at `top`
  for (let n = 0; n <= top; n++) {
    const blocks = await Promise.all(t.urls.map((_, i) => t.rpc(i, 'eth_getBlockByNumber', ['0x' + n.toString(16), false])));
    blocks.forEach((b, i) => {
      assert.ok(b, `block ${n} missing on ${t.participantId(i)}`);
      for (const k of ['hash', 'parentHash', 'stateRoot', 'transactionsRoot', 'receiptsRoot', 'logsBloom', 'gasUsed', 'timestamp']) {
        assert.equal(b[k], blocks[0][k], `block ${n}: "${k}" differs between p1 (${blocks[0][k]}) and ${t.participantId(i)} (${b[k]})`);
      }
      assert.deepEqual(b.transactions, blocks[0].transactions, `block ${n}: transactions differ on ${t.participantId(i)}`);
    });
    if (n > 0) {
      const parent = await t.rpc(0, 'eth_getBlockByNumber', ['0x' + (n - 1).toString(16), false]);
      assert.equal(blocks[0].parentHash, parent.hash, `block ${n} parentHash does not link to block ${n - 1}`);
    }
  }
  const byHash = await Promise.all(t.urls.map(async (_, i) => {
    const b = await t.rpc(i, 'eth_getBlockByNumber', ['0x' + top.toString(16), false]);
    return t.rpc(i, 'eth_getBlockByHash', [b.hash, true]);
  }));
  byHash.forEach((b, i) => assert.equal(b.stateRoot, byHash[0].stateRoot, `stateRoot by hash on ${t.participantId(i)}`));
  assert.ok(byHash[0].transactions.length === 0 || typeof byHash[0].transactions[0] === 'object', 'eth_getBlockByHash(…, true) returns full transactions');

  // state agrees too
  const values = await Promise.all(t.providers.map((p) => new Contract(address, SS.abi, p).get({ blockTag: top })));
  values.forEach((v, i) => assert.equal(v, values[0], `get() at block ${top} on ${t.participantId(i)}`));
  const recvBalances = await Promise.all(t.providers.map(async (p) => (await Promise.all(recipients.map((r) => p.getBalance(r, top)))).reduce((a, b) => a + b, 0n)));
  recvBalances.forEach((b, i) => assert.equal(b, expectedTransferred, `sum of recipient balances on ${t.participantId(i)}`));
  for (const w of wallets) {
    const counts = await Promise.all(t.providers.map((p) => p.getTransactionCount(w.address, top)));
    counts.forEach((c, i) => assert.equal(c, counts[0], `nonce of ${w.address} at ${top} on ${t.participantId(i)}`));
  }
});

test('a reverting transaction is mined with status 0 and a revertReason', { timeout: T }, async () => {
  const t = h.t;
  const r = compileReverter(); // setPositive(uint v): require(v > 0, "value must be positive"); value = v
  const R = { abi: r.abi as InterfaceAbi, bytecode: r.bytecode };
  const REASON = 'value must be positive';
  const wallet = t.testWallet(0, 0);
  const factory = new ContractFactory(R.abi, R.bytecode, wallet);
  const contract = await withDeadline(factory.deploy(), 60_000, 'deploy Reverter via p1');
  const deployReceipt = await contract.deploymentTransaction()!.wait(1, 60_000);
  assert.equal(deployReceipt?.status, 1, 'Reverter deployment');
  const address = await contract.getAddress();
  await t.receiptsEverywhere(deployReceipt!.hash); // p3 must have the code before we call it there

  const failData = new Interface(R.abi).encodeFunctionData('setPositive', [0]);
  // eth_call reports the revert and its reason (geth: error code 3, "execution reverted: <reason>", data = Error(string))
  const call = await t.rpc(2, 'eth_call', [{ from: wallet.address, to: address, data: failData }, 'latest']).then(
    (result) => ({ result }),
    (error) => ({ error }),
  );
  assert.ok('error' in call, `eth_call of setPositive(0) on p3 should fail, it returned ${describeValue(call)}`);
  assert.match(`${call.error.message} ${describeValue(call.error.data)}`, /must be positive|08c379a0/i, `eth_call of setPositive(0): ${describeValue(call.error)}`);
  await assert.rejects(
    new Contract(address, R.abi, t.providers[2]).setPositive.staticCall(0),
    (err: any) => {
      const text = `${err?.reason ?? ''} ${err?.message ?? ''}`;
      assert.ok(text.includes(REASON), `ethers staticCall of setPositive(0) should revert with "${REASON}"; got ${describeValue(err)}`);
      return true;
    },
    'ethers staticCall of setPositive(0) did not throw',
  );
  // eth_estimateGas also refuses
  await assert.rejects(
    t.rpc(2, 'eth_estimateGas', [{ from: wallet.address, to: address, data: failData }]),
    (err: any) => err instanceof RpcError,
    'eth_estimateGas of setPositive(0) returned a value instead of an error',
  );

  // sent anyway with an explicit gas limit, it is mined and fails
  const nonce = await t.providers[0].getTransactionCount(wallet.address, 'pending');
  const raw = await signLegacy(wallet, t.chainId, { nonce, to: address, data: failData, gasLimit: 200_000 });
  const hash = await t.rpc<string>(0, 'eth_sendRawTransaction', [raw]);
  const receipts = await t.receiptsEverywhere(hash);
  assertSameReceipts(receipts, hash);
  receipts.forEach((r, i) => {
    const where = t.participantId(i);
    assertReceiptShape(r, hash, where);
    assert.equal(r.status, '0x0', `${where}: a reverted tx has status 0x0`);
    assert.equal(r.logs.length, 0, `${where}: a reverted tx has no logs`);
    assert.ok(typeof r.revertReason === 'string' && r.revertReason.length > 0, `${where}: receipt has no revertReason: ${describeValue(r)}`);
    assert.equal(decodeRevertReason(r.revertReason), REASON, `${where}: revertReason ${r.revertReason}`);
  });
  // its state change was rolled back, and the sender's nonce still advanced
  for (let i = 0; i < t.size; i++) {
    assert.equal(await new Contract(address, R.abi, t.providers[i]).value(), 0n, `value() on ${t.participantId(i)} after the reverted setPositive(0)`);
    assert.equal(await t.providers[i].getTransactionCount(wallet.address, 'latest'), nonce + 1, `nonce after the reverted tx on ${t.participantId(i)}`);
  }
  // ethers sees the failure as a CALL_EXCEPTION with the receipt
  const receipt = await t.providers[0].getTransactionReceipt(hash);
  assert.equal(receipt?.status, 0);
});

/** GoQuorum reports the ABI-encoded Error(string) (0x08c379a0…); accept that or the plain string. */
function decodeRevertReason(reason: string): string {
  if (/^0x08c379a0/i.test(reason)) return abi.decode(['string'], '0x' + reason.slice(10))[0] as string;
  return reason.replace(/^execution reverted:\s*/, '');
}

test('a sender that overspends: the tx that fails at execution is dropped, and the account is not wedged', { timeout: T }, async () => {
  const t = h.t;
  const funder = t.testWallet(1, 1);
  const spender = Wallet.createRandom();
  const sink = Wallet.createRandom().address;
  // fund the spender with exactly 100 wei
  const fundRaw = await signLegacy(funder, t.chainId, { nonce: await t.providers[1].getTransactionCount(funder.address, 'pending'), to: spender.address, value: 100n, gasLimit: 21_000 });
  await t.receiptsEverywhere(await t.rpc<string>(1, 'eth_sendRawTransaction', [fundRaw]));

  // two transfers of 60 sent together: each is fundable at admission, only the first at execution
  const first = await signLegacy(spender, t.chainId, { nonce: 0, to: sink, value: 60n, gasLimit: 21_000 });
  const second = await signLegacy(spender, t.chainId, { nonce: 1, to: sink, value: 60n, gasLimit: 21_000 });
  const [h1, h2] = await Promise.all([t.rpc<string>(1, 'eth_sendRawTransaction', [first]), t.rpc<string>(1, 'eth_sendRawTransaction', [second])]);
  await t.receiptsEverywhere(h1);
  // the second never lands; the next block passes without it
  const later = await signLegacy(funder, t.chainId, { nonce: await t.providers[1].getTransactionCount(funder.address, 'pending'), to: sink, value: 1n, gasLimit: 21_000 });
  await t.receiptsEverywhere(await t.rpc<string>(1, 'eth_sendRawTransaction', [later]));
  for (let i = 0; i < t.size; i++) {
    assert.equal(await t.rpc(i, 'eth_getTransactionReceipt', [h2]), null, `the overspending tx has no receipt on ${t.participantId(i)}`);
    assert.equal(await t.providers[i].getTransactionCount(spender.address, 'latest'), 1, `spender nonce on ${t.participantId(i)}`);
  }

  // the wallet asks for the pending nonce and gets 1 back, not 2: a new tx with it lands
  await waitFor(
    async () => ((await t.providers[1].getTransactionCount(spender.address, 'pending')) === 1 ? true : undefined),
    30_000,
    'the pending nonce of the spender to come back to 1',
    200,
  );
  const retry = await signLegacy(spender, t.chainId, { nonce: 1, to: sink, value: 40n, gasLimit: 21_000 });
  const receipts = await t.receiptsEverywhere(await t.rpc<string>(1, 'eth_sendRawTransaction', [retry]));
  receipts.forEach((r, i) => assert.equal(r.status, '0x1', `retry on ${t.participantId(i)}`));
  for (let i = 0; i < t.size; i++) assert.equal(await t.providers[i].getBalance(sink), 100n + 1n, `sink balance on ${t.participantId(i)}`);
});

// ---- web3.js v4 (the other client library dapps use), on the same network ----------------------------------

const WEB3_SS = { abi: compiled.abi as any[], bytecode: compiled.bytecode };

function makeWeb3(url: string): Web3 {
  const web3 = new Web3(url);
  web3.transactionPollingInterval = 200;
  web3.transactionPollingTimeout = 60_000;
  web3.transactionSendTimeout = 60_000;
  web3.transactionConfirmationBlocks = 1;
  web3.transactionBlockTimeout = 1_000; // Raft mints only when there is work: do not count empty blocks
  return web3;
}

test('web3.js v4: deploy SimpleStorage through p2 and call get(); set() from a node-managed account', { timeout: 180_000 }, async () => {
  const t = h.t;
  const web3 = makeWeb3(t.urls[1]);
  assert.equal(await web3.eth.getChainId(), BigInt(t.chainId));
  assert.equal(await web3.eth.getGasPrice(), 0n);

  const account = web3.eth.accounts.privateKeyToAccount(t.testKeys[t.testKeys.length - 1]);
  web3.eth.accounts.wallet.add(account);
  const factory = new web3.eth.Contract(WEB3_SS.abi);
  const deployed = await withDeadline(
    factory.deploy({ data: WEB3_SS.bytecode, arguments: [42] }).send({ from: account.address, gas: '1000000', gasPrice: '0' }),
    90_000,
    'web3 deploy().send() via p2',
  );
  const address = deployed.options.address;
  assert.ok(address && /^0x[0-9a-fA-F]{40}$/.test(address), `deployed address: ${describeValue(address)}`);
  assert.equal(await deployed.methods.get().call(), 42n, 'get() via web3 on p2');

  // the same contract read through every gateway with web3
  for (let i = 0; i < t.size; i++) {
    const w = makeWeb3(t.urls[i]);
    await t.waitForHeight(i, Number(await web3.eth.getBlockNumber()));
    const ci: any = new w.eth.Contract(WEB3_SS.abi, address);
    assert.equal(await ci.methods.get().call(), 42n, `get() via web3 on ${t.participantId(i)}`);
  }

  // set() from a node-managed account: web3 sends eth_sendTransaction (the key is not in its wallet)
  const accounts = await web3.eth.getAccounts();
  assert.ok(accounts.length > 0, 'eth_accounts on p2 is empty');
  const c = new web3.eth.Contract(WEB3_SS.abi, address);
  const receipt = await withDeadline(
    c.methods.set(5).send({ from: accounts[0], gas: '200000', gasPrice: '0' }),
    90_000,
    'web3 set(5).send() from a node-managed account via p2',
  );
  assert.equal(receipt.status, 1n, `set(5) receipt: ${describeValue(receipt)}`);
  assert.equal(Object.keys(receipt.events ?? {}).includes('Changed'), true, 'web3 decoded the Changed event');
  assert.equal(await c.methods.get().call(), 5n);
});
