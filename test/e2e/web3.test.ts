/** web3.js v4 against participant 2: deploy SimpleStorage, call get(), and set() through a node-managed account. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Web3 } from 'web3';
import { compileSimpleStorage } from '../support/contracts.js';
import { describeValue, useNetwork, withDeadline } from '../support/network.js';

const h = useNetwork('web3', { testKeys: 1 });
const compiled = compileSimpleStorage();
const SS = { abi: compiled.abi as any[], bytecode: compiled.bytecode };

function makeWeb3(url: string): Web3 {
  const web3 = new Web3(url);
  web3.transactionPollingInterval = 200;
  web3.transactionPollingTimeout = 60_000;
  web3.transactionSendTimeout = 60_000;
  web3.transactionConfirmationBlocks = 1;
  web3.transactionBlockTimeout = 1_000; // Raft mints only when there is work: do not count empty blocks
  return web3;
}

test('web3.js v4: deploy SimpleStorage through p2 and call get()', { timeout: 180_000 }, async () => {
  const t = h.t;
  const web3 = makeWeb3(t.urls[1]);
  assert.equal(await web3.eth.getChainId(), BigInt(t.chainId));
  assert.equal(await web3.eth.getGasPrice(), 0n);

  const account = web3.eth.accounts.privateKeyToAccount(t.testKeys[0]);
  web3.eth.accounts.wallet.add(account);
  const factory = new web3.eth.Contract(SS.abi);
  const deployed = await withDeadline(
    factory.deploy({ data: SS.bytecode, arguments: [42] }).send({ from: account.address, gas: '1000000', gasPrice: '0' }),
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
    const ci: any = new w.eth.Contract(SS.abi, address);
    assert.equal(await ci.methods.get().call(), 42n, `get() via web3 on ${t.participantId(i)}`);
  }

  // set() from a node-managed account: web3 sends eth_sendTransaction (the key is not in its wallet)
  const accounts = await web3.eth.getAccounts();
  assert.ok(accounts.length > 0, 'eth_accounts on p2 is empty');
  const c = new web3.eth.Contract(SS.abi, address);
  const receipt = await withDeadline(
    c.methods.set(5).send({ from: accounts[0], gas: '200000', gasPrice: '0' }),
    90_000,
    'web3 set(5).send() from a node-managed account via p2',
  );
  assert.equal(receipt.status, 1n, `set(5) receipt: ${describeValue(receipt)}`);
  assert.equal(Object.keys(receipt.events ?? {}).includes('Changed'), true, 'web3 decoded the Changed event');
  assert.equal(await c.methods.get().call(), 5n);
});
