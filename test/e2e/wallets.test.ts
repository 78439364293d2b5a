/**
 * Wallets the way dapps drive a node: 50 concurrent clients, each its own key (funded in genesis), each sending
 * its transactions one per HTTP request (eth_sendRawTransaction, signed locally with an ethers Wallet, EIP-155),
 * in nonce order, over the four gateways (client c → gateway c % 4), then polling for its receipts. Checks that
 * every transaction landed with the same receipt on every participant, that the four agree on the head, its
 * hash and its state root, that balances and contract storage are what the transactions made them, and that no
 * read during the whole run answered an error (a busy ledger delays a read; it does not fail it). The state
 * stores run with a tiny memory bound, so their reads go through Postgres.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interface, Transaction, Wallet, getAddress } from 'ethers';
import { compileSolidity } from '../support/contracts.js';
import { RpcError, addressOf, deriveKeys, describeValue, q, rpc, signLegacy, sleep, useNetwork, waitFor } from '../support/network.js';

const CLIENTS = 50;
const GATEWAYS = 4;
const SET_GAS = 200_000n;

/** SimpleStorage, one value per sender, plus a count of every write (a slot every client's set touches). */
const KEYED_STORAGE_SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.0;

contract KeyedStorage {
    mapping(address => uint) public stored;
    uint public writes;

    event Changed(address indexed who, uint value);

    function set(uint x) public {
        stored[msg.sender] = x;
        writes += 1;
        emit Changed(msg.sender, x);
    }
}
`;

// The state stores keep 64 trie entries in memory (of thousands): every account read at admission and every
// trie node the executors ask for is also read back from the store's key-indexed table in Postgres.
process.env.QUORUM_STATE_CACHE_ENTRIES = '64';
const h = useNetwork('wallets', { testKeys: CLIENTS + 1 });
const compiled = compileSolidity({ 'KeyedStorage.sol': KEYED_STORAGE_SOURCE }).KeyedStorage;
const iface = new Interface(compiled.abi as never);

/** Every read that answered an error (JSON-RPC error or no answer at all), with where and what. */
const readErrors: string[] = [];

async function read<T = any>(url: string, method: string, params: unknown[]): Promise<T> {
  try {
    return await rpc<T>(url, method, params, 30_000);
  } catch (err) {
    readErrors.push(`${method}(${describeValue(params)}) at ${url}: ${err instanceof RpcError ? `${err.code} ${err.message}` : (err as Error).message}`);
    throw err;
  }
}

/** Polls eth_getTransactionReceipt at `url` until it is there (null means not yet; an error is recorded and fails). */
async function receiptAt(url: string, hash: string, deadlineMs = 60_000): Promise<any> {
  const start = Date.now();
  for (;;) {
    const r = await read(url, 'eth_getTransactionReceipt', [hash]);
    if (r) return r;
    if (Date.now() - start > deadlineMs) throw new Error(`no receipt of ${hash} at ${url} after ${deadlineMs} ms`);
    await sleep(100);
  }
}

interface Sent {
  client: number;
  kind: 'set' | 'transfer';
  hash: string;
  gateway: number;
  receipt?: any;
}

test('50 wallets send over four gateways in nonce order; every participant agrees on every receipt, the head and the state', { timeout: 240_000 }, async () => {
  const t = h.t;
  const urls = t.urls;
  assert.equal(urls.length, GATEWAYS);
  const chainId = t.chainId;
  const started = Date.now();

  // ---- a KeyedStorage contract, deployed by the last test key through p1
  const deployer = new Wallet(t.testKeys[CLIENTS]);
  const deployRaw = await signLegacy(deployer, chainId, { nonce: 0, to: null, data: compiled.bytecode, gasLimit: 1_000_000 });
  const deployHash = await rpc<string>(urls[0], 'eth_sendRawTransaction', [deployRaw]);
  const deployReceipt = await receiptAt(urls[0], deployHash);
  assert.equal(deployReceipt.status, '0x1', `deployment failed: ${describeValue(deployReceipt)}`);
  const contract = getAddress(deployReceipt.contractAddress);

  // ---- 50 clients at once, each: set(100 + c), a transfer of 1000 + c wei to its own recipient, set(200 + c)
  const recipients = deriveKeys('wallets-recipient', CLIENTS).map(addressOf);
  const sent: Sent[] = [];
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    const wallet = new Wallet(t.testKeys[c]);
    const gateway = c % GATEWAYS;
    const plan = [
      { kind: 'set' as const, to: contract, data: iface.encodeFunctionData('set', [100 + c]), value: 0n, gasLimit: SET_GAS },
      { kind: 'transfer' as const, to: recipients[c], data: '0x', value: 1000n + BigInt(c), gasLimit: 21_000n },
      { kind: 'set' as const, to: contract, data: iface.encodeFunctionData('set', [200 + c]), value: 0n, gasLimit: SET_GAS },
    ];
    const mine: Sent[] = [];
    for (const [nonce, tx] of plan.entries()) {
      const raw = await signLegacy(wallet, chainId, { nonce, to: tx.to, value: tx.value, data: tx.data, gasLimit: tx.gasLimit });
      const parsed = Transaction.from(raw);
      assert.equal(parsed.chainId, BigInt(chainId), 'EIP-155: the chain id is signed');
      const hash = await rpc<string>(urls[gateway], 'eth_sendRawTransaction', [raw]);
      assert.equal(hash, parsed.hash, `client ${c} nonce ${nonce}: the gateway answered another hash`);
      mine.push({ client: c, kind: tx.kind, hash, gateway });
    }
    for (const s of mine) s.receipt = await receiptAt(urls[gateway], s.hash);
    sent.push(...mine);
  });
  await Promise.all(clients);
  const sentMs = Date.now() - started;
  assert.equal(sent.length, CLIENTS * 3);

  // ---- every transaction succeeded, with the same receipt (block hash and number) on every participant
  await Promise.all(
    sent.map(async (s) => {
      assert.equal(s.receipt.status, '0x1', `client ${s.client} ${s.kind} ${s.hash} failed: ${describeValue(s.receipt)}`);
      for (let i = 0; i < GATEWAYS; i++) {
        const r = i === s.gateway ? s.receipt : await receiptAt(urls[i], s.hash);
        assert.equal(r.status, '0x1', `${t.participantId(i)}: status of ${s.hash}`);
        assert.equal(r.blockHash, s.receipt.blockHash, `${t.participantId(i)}: block hash of ${s.hash}`);
        assert.equal(r.blockNumber, s.receipt.blockNumber, `${t.participantId(i)}: block number of ${s.hash}`);
        assert.equal(r.transactionIndex, s.receipt.transactionIndex, `${t.participantId(i)}: index of ${s.hash}`);
      }
    }),
  );
  // nonce order held within each client's transactions
  for (let c = 0; c < CLIENTS; c++) {
    const at = sent.filter((s) => s.client === c).map((s) => [q(s.receipt.blockNumber), q(s.receipt.transactionIndex)] as const);
    for (let k = 1; k < at.length; k++) {
      assert.ok(at[k][0] > at[k - 1][0] || (at[k][0] === at[k - 1][0] && at[k][1] > at[k - 1][1]), `client ${c}: transactions landed out of nonce order`);
    }
  }

  // ---- the four agree on the head, its hash and its state root (no more transactions: the heads settle)
  const heads = await waitFor(
    async () => {
      const hs = await Promise.all(urls.map((u) => read<string>(u, 'eth_blockNumber', [])));
      return hs.every((x) => x === hs[0]) ? hs : undefined;
    },
    15_000,
    'the four gateways to report the same head',
  );
  const lastTxBlock = sent.reduce((m, s) => (q(s.receipt.blockNumber) > m ? q(s.receipt.blockNumber) : m), 0n);
  assert.ok(q(heads[0]) >= lastTxBlock, `head ${heads[0]} is below the last transaction's block ${lastTxBlock}`);
  const blocks = await Promise.all(urls.map((u) => read(u, 'eth_getBlockByNumber', [heads[0], false])));
  for (let i = 1; i < GATEWAYS; i++) {
    assert.equal(blocks[i].hash, blocks[0].hash, `${t.participantId(i)}: hash of block ${heads[0]}`);
    assert.equal(blocks[i].stateRoot, blocks[0].stateRoot, `${t.participantId(i)}: state root at block ${heads[0]}`);
  }
  const latest = await Promise.all(urls.map((u) => read(u, 'eth_getBlockByNumber', ['latest', false])));
  latest.forEach((b, i) => assert.equal(b.hash, blocks[0].hash, `${t.participantId(i)}: "latest" is the head`));

  // ---- balances, nonces and storage, on every participant
  const alloc = t.net.network.genesis.alloc;
  const writes = iface.encodeFunctionData('writes', []);
  for (let i = 0; i < GATEWAYS; i++) {
    const where = t.participantId(i);
    assert.equal(BigInt(iface.decodeFunctionResult('writes', await read(urls[i], 'eth_call', [{ to: contract, data: writes }, 'latest']))[0]), BigInt(2 * CLIENTS), `${where}: writes()`);
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const sender = addressOf(t.testKeys[c]);
        const funded = BigInt(alloc[sender.toLowerCase()].balance);
        assert.equal(q(await read(urls[i], 'eth_getBalance', [recipients[c], 'latest'])), 1000n + BigInt(c), `${where}: balance of client ${c}'s recipient`);
        assert.equal(q(await read(urls[i], 'eth_getBalance', [sender, 'latest'])), funded - 1000n - BigInt(c), `${where}: balance of client ${c} (gas is free)`);
        assert.equal(q(await read(urls[i], 'eth_getTransactionCount', [sender, 'latest'])), 3n, `${where}: nonce of client ${c}`);
        const stored = await read(urls[i], 'eth_call', [{ to: contract, data: iface.encodeFunctionData('stored', [sender]) }, 'latest']);
        assert.equal(BigInt(iface.decodeFunctionResult('stored', stored)[0]), BigInt(200 + c), `${where}: stored(client ${c})`);
      }),
    );
  }

  assert.deepEqual(readErrors, [], 'no read answered an error');
  const blocksUsed = new Set(sent.map((s) => s.receipt.blockNumber)).size;
  process.stderr.write(`wallets: ${sent.length} txs from ${CLIENTS} clients in ${sentMs} ms over ${blocksUsed} blocks; whole test ${Date.now() - started} ms\n`);
});
