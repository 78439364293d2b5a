/**
 * Private transactions, the SimpleStorage walkthrough of Quorum's privacy talk, driven against a 4-participant
 * network (participants 1..4 are gateways 0..3) with ethers and raw JSON-RPC, as a dapp does:
 *   - 1 deploys SimpleStorage(42) privateFor [2]: 42 on 1 and 2, 0 on 3 and 4; storage roots; payloads;
 *   - 2 sets 10 privateFor [1]: 10 on 1 and 2, 0 on 3;
 *   - standard privacy lets parties diverge exactly as in GoQuorum; private state validation refuses it;
 *   - a private transaction signed outside the node, as web3js-quorum makes it (/storeraw, v = 37/38,
 *     eth_sendRawPrivateTransaction), is executed by its parties;
 *   - nothing of a payload reaches a non-party's database;
 *   - faults: a recipient's tm that is down stops the transaction before it exists; a tm that lost its store
 *     gets its payloads back by resend, and its ledger reaches the same private state as the other parties.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbiCoder, Interface, Transaction, Wallet, decodeRlp, encodeRlp, getBytes, hexlify, toBeHex, type InterfaceAbi } from 'ethers';
import postgres from 'postgres';
import { readFile } from 'node:fs/promises';
import { ACTORS } from '../../lib/network/description.js';
import { compileSimpleStorage } from '../support/contracts.js';
import { RpcError, describeValue, useNetwork, waitFor } from '../support/network.js';

const h = useNetwork('privacy', { testKeys: 4 });
const compiled = compileSimpleStorage();
const iface = new Interface(compiled.abi as InterfaceAbi);
const abi = AbiCoder.defaultAbiCoder();
const T = 180_000;
const EMPTY_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';

const keyOf = (i: number) => h.t.net.network.participants[i].privacyPublicKey;
const accountOf = (i: number) => h.t.net.network.participants[i].accounts[0];
const deployData = (n: number) => compiled.bytecode + abi.encode(['uint256'], [n]).slice(2);

/** SimpleStorage.get() through participant i: 0 where the contract does not exist (no code: empty return). */
async function get(i: number, address: string): Promise<bigint> {
  const out = await h.t.rpc<string>(i, 'eth_call', [{ to: address, data: iface.encodeFunctionData('get') }, 'latest']);
  return out === '0x' ? 0n : (iface.decodeFunctionResult('get', out)[0] as bigint);
}

/** eth_sendTransaction from participant i's node-managed account, private for the given participants. */
async function sendPrivate(i: number, tx: { to?: string; data: string }, privateFor: number[], privacyFlag?: 0 | 1 | 3): Promise<string> {
  return h.t.rpc<string>(i, 'eth_sendTransaction', [
    { from: accountOf(i), ...tx, privateFor: privateFor.map(keyOf), ...(privacyFlag === undefined ? {} : { privacyFlag }) },
  ]);
}

async function mined(hash: string, on: number[] = [0, 1, 2, 3]): Promise<any[]> {
  return Promise.all(on.map((i) => waitFor(() => h.t.rpc(i, 'eth_getTransactionReceipt', [hash]), 60_000, `receipt of ${hash} on p${i + 1}`)));
}

async function deployPrivate(from: number, value: number, privateFor: number[], privacyFlag?: 0 | 1 | 3): Promise<string> {
  const hash = await sendPrivate(from, { data: deployData(value) }, privateFor, privacyFlag);
  const [receipt] = await mined(hash, [from]);
  assert.equal(receipt.status, '0x1', `private deployment on p${from + 1}: ${describeValue(receipt)}`);
  assert.ok(receipt.contractAddress, 'private deployment has a contract address');
  await mined(hash); // every participant has the block
  return receipt.contractAddress as string;
}

async function setPrivate(from: number, address: string, value: number, privateFor: number[], privacyFlag?: 0 | 1 | 3): Promise<any> {
  const hash = await sendPrivate(from, { to: address, data: iface.encodeFunctionData('set', [value]) }, privateFor, privacyFlag);
  const receipts = await mined(hash);
  return receipts[from];
}

let first: string | undefined;

test('1 deploys SimpleStorage(42) privateFor [2]: only 1 and 2 hold it', { timeout: T }, async () => {
  const t = h.t;
  const hash = await sendPrivate(0, { data: deployData(42) }, [1]);
  const receipts = await mined(hash);
  first = receipts[0].contractAddress;
  assert.ok(first);
  // Every participant has a receipt (the transaction is on chain), with the same block and contract address.
  for (const r of receipts) {
    assert.equal(r.blockHash, receipts[0].blockHash);
    assert.equal(r.contractAddress, first);
  }
  assert.deepEqual(await Promise.all([0, 1, 2, 3].map((i) => get(i, first!))), [42n, 42n, 0n, 0n]);
  // On chain the transaction carries only the payload's hash, signed as private (v = 37/38).
  const tx = await t.rpc(2, 'eth_getTransactionByHash', [hash]);
  assert.match(tx.input, /^0x[0-9a-f]{128}$/);
  assert.ok(['0x25', '0x26'].includes(tx.v), `v of a private transaction: ${tx.v}`);
  // Storage roots: equal on the parties, different on a non-party.
  const roots = await Promise.all([0, 1, 2].map((i) => t.rpc<string>(i, 'eth_storageRoot', [first, 'latest'])));
  assert.equal(roots[0], roots[1]);
  assert.notEqual(roots[0], roots[2]);
  assert.equal(roots[2], EMPTY_ROOT);
  // The payload: readable by the parties, nothing for the others.
  const payloads = await Promise.all([0, 1, 2].map((i) => t.rpc<string>(i, 'eth_getQuorumPayload', [tx.input])));
  assert.equal(payloads[0], deployData(42));
  assert.equal(payloads[1], deployData(42));
  assert.equal(payloads[2], '0x');
  // Privacy metadata on the parties only.
  const meta = await t.rpc(1, 'eth_getContractPrivacyMetadata', [first]);
  assert.equal(meta.creationTxHash, hash);
  assert.equal(meta.privacyFlag, 0);
  assert.equal(await t.rpc(2, 'eth_getContractPrivacyMetadata', [first]), null);
  // Code is there for a party only.
  assert.notEqual(await t.rpc(1, 'eth_getCode', [first, 'latest']), '0x');
  assert.equal(await t.rpc(2, 'eth_getCode', [first, 'latest']), '0x');
});

test('then 2 calls set(10) privateFor [1]: 10 on 1 and 2, 0 on 3', { timeout: T }, async () => {
  assert.ok(first, 'the first test deployed the contract');
  const receipt = await setPrivate(1, first!, 10, [0]);
  assert.equal(receipt.status, '0x1');
  assert.equal(receipt.logs.length, 1, 'the party sees the private Changed event');
  assert.deepEqual(await Promise.all([0, 1, 2, 3].map((i) => get(i, first!))), [10n, 10n, 0n, 0n]);
  const nonParty = await h.t.rpc(2, 'eth_getTransactionReceipt', [receipt.transactionHash]);
  assert.equal(nonParty.logs.length, 0, 'a non-party sees no logs');
  const logs = await h.t.rpc<any[]>(0, 'eth_getLogs', [{ address: first, fromBlock: '0x0' }]);
  assert.equal(logs.length, 1, 'eth_getLogs of a party returns the private log');
  assert.equal((await h.t.rpc<any[]>(2, 'eth_getLogs', [{ address: first, fromBlock: '0x0' }])).length, 0);
});

test('standard privacy: parties of a contract can diverge (as in GoQuorum); private state validation refuses it', { timeout: T }, async () => {
  const standard = await deployPrivate(0, 42, [1, 2]);
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(i, standard))), [42n, 42n, 42n]);
  await setPrivate(1, standard, 10, [0]);
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(i, standard))), [10n, 10n, 42n], 'standard privacy: 3 was left out and diverges');

  const psv = await deployPrivate(0, 42, [1, 2], 3);
  assert.equal((await h.t.rpc(2, 'eth_getContractPrivacyMetadata', [psv])).privacyFlag, 3);
  await assert.rejects(setPrivate(1, psv, 10, [0], 3), (err: unknown) => {
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.code, -32000);
    assert.match(err.message, /private state validation: the transaction's participants differ/);
    return true;
  });
  await assert.rejects(setPrivate(1, psv, 10, [0, 2]), /privacy flag mismatch/);
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(i, psv))), [42n, 42n, 42n], 'no party changed');
  // With every party named, the same set goes through on all of them.
  const ok = await setPrivate(1, psv, 10, [0, 2], 3);
  assert.equal(ok.status, '0x1');
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(i, psv))), [10n, 10n, 10n]);
});

test('a private transaction signed outside the node, as web3js-quorum makes it, is executed by its parties', { timeout: T }, async () => {
  assert.ok(first);
  const t = h.t;
  const wallet = new Wallet(t.testKeys[0]);
  // 1. /storeraw: the tm seals the payload for the sender alone and answers its hash.
  const payload = iface.encodeFunctionData('set', [77]);
  const res = await fetch(`${t.net.tmUrls[0]}/storeraw`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload: Buffer.from(getBytes(payload)).toString('base64'), from: keyOf(0) }),
  });
  assert.equal(res.status, 200);
  const { key } = (await res.json()) as { key: string };
  const hashData = hexlify(Buffer.from(key, 'base64'));
  assert.equal(getBytes(hashData).length, 64);
  // 2. sign it as a legacy transaction without chain id, then mark it private: v = 27/28 + 10.
  const nonce = Number(BigInt(await t.rpc<string>(0, 'eth_getTransactionCount', [wallet.address, 'pending'])));
  const unsigned = Transaction.from({ type: 0, nonce, gasPrice: 0, gasLimit: 200_000, to: first, value: 0, data: hashData });
  unsigned.signature = wallet.signingKey.sign(unsigned.unsignedHash);
  const fields = decodeRlp(unsigned.serialized) as string[];
  fields[6] = toBeHex(BigInt(fields[6]) + 10n);
  const raw = encodeRlp(fields);
  // 3. eth_sendRawPrivateTransaction shares the payload with the recipients, then submits.
  const hash = await t.rpc<string>(0, 'eth_sendRawPrivateTransaction', [raw, { privateFor: [keyOf(1)] }]);
  const receipts = await mined(hash);
  assert.equal(receipts[0].from.toLowerCase(), wallet.address.toLowerCase());
  assert.equal(receipts[0].status, '0x1');
  assert.deepEqual(await Promise.all([0, 1, 2].map((i) => get(i, first!))), [77n, 77n, 0n]);
  // A raw private transaction is not accepted where its payload would not be shared.
  await assert.rejects(t.rpc(0, 'eth_sendRawTransaction', [raw]), /eth_sendRawPrivateTransaction/);
});

test("no plaintext payload appears in a non-party's database or logs", { timeout: T }, async () => {
  const t = h.t;
  const secret = iface.encodeFunctionData('set', [987_654_321]).slice(2);
  assert.ok(first);
  await setPrivate(0, first!, 987_654_321, [1]);
  const sql = postgres(t.net.databases[t.participantId(2)], { max: 1, onnotice: () => {} });
  try {
    const tables = await sql`select table_name from information_schema.tables where table_schema = 'public'`;
    assert.ok(tables.length > 5, 'the non-party has tables to search');
    for (const { table_name } of tables) {
      const rows = await sql`select count(*)::int as n from ${sql(table_name)} t where t::text ilike ${'%' + secret + '%'}`;
      assert.equal(rows[0].n, 0, `plaintext found in ${table_name} of p3`);
    }
  } finally {
    await sql.end();
  }
  for (const actor of ACTORS) {
    const log = await readFile(t.net.logFile('p3', actor), 'utf8').catch(() => '');
    assert.equal(log.toLowerCase().includes(secret), false, `plaintext found in the log of p3/${actor}`);
  }
});

test("a recipient's tm that is down: eth_sendTransaction fails clearly and no transaction exists", { timeout: T }, async () => {
  const t = h.t;
  assert.ok(first);
  await t.net.stopActor('p2', 'tm');
  try {
    const before = await t.rpc<string>(0, 'eth_getTransactionCount', [accountOf(0), 'pending']);
    await assert.rejects(setPrivate(0, first!, 5, [1]), (err: unknown) => {
      assert.ok(err instanceof RpcError, String(err));
      assert.match(err.message, /private transaction not sent: recipient p2's transaction manager did not acknowledge/);
      return true;
    });
    assert.equal(await t.rpc<string>(0, 'eth_getTransactionCount', [accountOf(0), 'pending']), before, 'no transaction was submitted');
  } finally {
    t.net.startActor('p2', 'tm');
  }
  assert.deepEqual(await Promise.all([0, 1].map((i) => get(i, first!))), [987_654_321n, 987_654_321n]);
});

test('a tm that lost its store recovers its payloads by resend; its ledger reaches the same private state', { timeout: T }, async () => {
  const t = h.t;
  assert.ok(first);
  await waitFor(async () => (await fetch(`${t.net.tmUrls[1]}/upcheck`)).ok, 30_000, "p2's tm back up");
  // p2's executor is away while private transactions for p2 are made.
  await t.net.stopActor('p2', 'executor');
  const a = await sendPrivate(0, { to: first!, data: iface.encodeFunctionData('set', [31]) }, [1]);
  const b = await sendPrivate(0, { to: first!, data: iface.encodeFunctionData('set', [32]) }, [1]);
  await mined(b, [0, 2, 3]);
  await mined(a, [0]);
  // p2's tm loses its store.
  await t.net.stopActor('p2', 'tm');
  const sql = postgres(t.net.databases['p2'], { max: 1, onnotice: () => {} });
  try {
    await sql`delete from tm_payloads`;
    await sql`delete from tm_recovery`;
  } finally {
    await sql.end();
  }
  t.net.startActor('p2', 'tm');
  t.net.startActor('p2', 'executor');
  const head = await t.blockNumber(0);
  await t.waitForHeight(1, head, 90_000);
  assert.equal(await get(1, first!), 32n);
  const roots = await Promise.all(['p1', 'p2'].map(async (p) => {
    const db = postgres(t.net.databases[p], { max: 1, onnotice: () => {} });
    try {
      const [r] = await db`select private_state_root from ledger_blocks where number = ${head}`;
      return r.private_state_root as string;
    } finally {
      await db.end();
    }
  }));
  assert.equal(roots[1], roots[0], 'p2 reached the private state root of p1');
  assert.equal(await t.rpc(1, 'eth_storageRoot', [first, 'latest']), await t.rpc(0, 'eth_storageRoot', [first, 'latest']));
});
