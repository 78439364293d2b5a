/**
 * Bad input against one running network, with raw HTTP: malformed JSON-RPC, bad params, batches, and
 * transactions the ledger must refuse. Afterwards nothing of it is stored and every gateway still answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Transaction, Wallet, decodeRlp, encodeRlp, keccak256, toBeHex, type RlpStructuredData } from 'ethers';
import { RpcError, describeValue, postHttp, postRaw, q, signLegacy, useNetwork, type RawResponse } from '../support/network.js';

const h = useNetwork('badinput', { testKeys: 3 });
const T = 120_000;

/** An error response: jsonrpc 2.0, the expected id, a numeric code among `codes`, a non-empty message. */
function assertErrorObject(body: any, codes: number[], id: unknown, what: string): void {
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `${what}: expected one JSON-RPC response object, got ${describeValue(body)}`);
  assert.equal(body.jsonrpc, '2.0', `${what}: jsonrpc field`);
  assert.ok(body.error && typeof body.error === 'object', `${what}: expected an error, got ${describeValue(body)}`);
  assert.equal(typeof body.error.code, 'number', `${what}: error.code`);
  assert.ok(codes.includes(body.error.code), `${what}: error code ${body.error.code} (${body.error.message}), expected ${codes.join(' or ')}`);
  assert.equal(typeof body.error.message, 'string', `${what}: error.message`);
  assert.ok(body.error.message.length > 0, `${what}: empty error.message`);
  assert.ok(!('result' in body), `${what}: an error response must not carry a result`);
  assert.deepEqual(body.id, id, `${what}: id`);
}

function assertJsonReply(res: RawResponse, what: string): any {
  assert.ok(res.json !== undefined, `${what}: HTTP ${res.status}, reply is not JSON: ${res.text.slice(0, 300)}`);
  return res.json;
}

async function call(body: unknown, what: string, i = 0): Promise<any> {
  return assertJsonReply(await postRaw(h.t.urls[i], body), what);
}

/** eth_sendRawTransaction that must be refused; returns the error. */
async function expectRejected(raw: string, codes: number[], messagePattern: RegExp | undefined, what: string, i = 0): Promise<RpcError> {
  try {
    const hash = await h.t.rpc(i, 'eth_sendRawTransaction', [raw]);
    assert.fail(`${what}: eth_sendRawTransaction on ${h.t.participantId(i)} accepted it and returned ${describeValue(hash)}`);
  } catch (err) {
    if (!(err instanceof RpcError)) throw err;
    assert.ok(codes.includes(err.code), `${what}: error code ${err.code} (${err.message}), expected ${codes.join(' or ')}`);
    assert.ok(err.message.length > 0);
    if (messagePattern) assert.match(err.message, messagePattern, `${what}: error message`);
    return err;
  }
}

test('malformed JSON → -32700 with id null', { timeout: T }, async () => {
  for (const body of ['{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"', '{not json}', '', '[{"jsonrpc":"2.0","id":1,', '\u0000\u0001']) {
    assertErrorObject(await call(body, `body ${JSON.stringify(body)}`), [-32700], null, `malformed body ${JSON.stringify(body)}`);
  }
});

test('not a request object → -32600', { timeout: T }, async () => {
  assertErrorObject(await call('123', 'a number'), [-32600], null, 'body 123');
  assertErrorObject(await call('"eth_blockNumber"', 'a string'), [-32600], null, 'body "eth_blockNumber"');
  assertErrorObject(await call('null', 'null'), [-32600], null, 'body null');
  // missing / wrong jsonrpc
  assertErrorObject(await call({ id: 7, method: 'eth_blockNumber', params: [] }, 'no jsonrpc'), [-32600], 7, 'missing jsonrpc');
  assertErrorObject(await call({ jsonrpc: '1.0', id: 8, method: 'eth_blockNumber', params: [] }, 'jsonrpc 1.0'), [-32600], 8, 'jsonrpc 1.0');
  // method missing or not a string
  assertErrorObject(await call({ jsonrpc: '2.0', id: 9, params: [] }, 'no method'), [-32600], 9, 'missing method');
  assertErrorObject(await call({ jsonrpc: '2.0', id: 10, method: 42, params: [] }, 'method 42'), [-32600], 10, 'method is a number');
  // params neither array nor object
  const bad = await call({ jsonrpc: '2.0', id: 11, method: 'eth_blockNumber', params: 'x' }, 'params "x"');
  assertErrorObject(bad, [-32600], 11, 'params is a string');
});

test('unknown method → -32601, id echoed', { timeout: T }, async () => {
  assertErrorObject(await call({ jsonrpc: '2.0', id: 'abc', method: 'eth_noSuchMethod', params: [] }, 'unknown'), [-32601], 'abc', 'eth_noSuchMethod');
  assertErrorObject(await call({ jsonrpc: '2.0', id: 12, method: 'admin_addPeer', params: ['enode://x'] }, 'admin'), [-32601], 12, 'admin_addPeer');
  assertErrorObject(await call({ jsonrpc: '2.0', id: 13, method: '__proto__', params: [] }, '__proto__'), [-32601], 13, '__proto__');
  assertErrorObject(await call({ jsonrpc: '2.0', id: 14, method: 'constructor', params: [] }, 'constructor'), [-32601], 14, 'constructor');
});

test('wrong params → -32602', { timeout: T }, async () => {
  const addr = new Wallet(h.t.testKeys[0]).address;
  const cases: [string, unknown[], string][] = [
    ['eth_getBalance', [123, 'latest'], 'address as a number'],
    ['eth_getBalance', ['0x1234', 'latest'], 'short address'],
    ['eth_getBalance', ['0x' + 'zz'.repeat(20), 'latest'], 'non-hex address'],
    ['eth_getBalance', [], 'missing params'],
    ['eth_getBalance', [addr, 'soonish'], 'bad block tag'],
    ['eth_getBlockByNumber', ['0xnothex', false], 'bad block number'],
    ['eth_getTransactionReceipt', ['0x1234'], 'short hash'],
    ['eth_getTransactionByHash', [42], 'hash as number'],
    ['eth_getTransactionCount', [addr, 'latest', 'extra', 'more'], 'too many params'],
    ['eth_call', ['not an object', 'latest'], 'call object is a string'],
    ['eth_getLogs', [{ fromBlock: 'yesterday' }], 'bad fromBlock'],
    ['eth_sendRawTransaction', ['not hex'], 'raw tx not hex'],
    ['eth_sendRawTransaction', [], 'raw tx missing'],
  ];
  let id = 100;
  for (const [method, params, what] of cases) {
    const myId = id++;
    assertErrorObject(await call({ jsonrpc: '2.0', id: myId, method, params }, `${method} ${what}`), [-32602], myId, `${method} with ${what}`);
  }
});

test('a batch mixing good and bad requests answers each one', { timeout: T }, async () => {
  const addr = new Wallet(h.t.testKeys[0]).address;
  const batch = [
    { jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] },
    { jsonrpc: '2.0', id: 2, method: 'eth_noSuchMethod', params: [] },
    { jsonrpc: '2.0', id: 3, method: 'eth_getBalance', params: [123, 'latest'] },
    { jsonrpc: '2.0', id: 4, method: 'eth_getBalance', params: [addr, 'latest'] },
    { jsonrpc: '2.0', id: 5, method: 'eth_chainId', params: [] },
    { foo: 'bar' },
  ];
  const res = await call(batch, 'mixed batch');
  assert.ok(Array.isArray(res), `a batch gets an array back, got ${describeValue(res)}`);
  assert.equal(res.length, batch.length, `one response per request: ${describeValue(res)}`);
  const byId = new Map<unknown, any>(res.filter((r: any) => r.id !== null).map((r: any) => [r.id, r]));
  assert.match(byId.get(1)?.result ?? '', /^0x[0-9a-f]+$/, `eth_blockNumber in a batch: ${describeValue(byId.get(1))}`);
  assertErrorObject(byId.get(2), [-32601], 2, 'unknown method in a batch');
  assertErrorObject(byId.get(3), [-32602], 3, 'bad params in a batch');
  assert.ok(q(byId.get(4)?.result, 'eth_getBalance in a batch') > 0n, 'funded test key has a balance');
  assert.equal(q(byId.get(5)?.result, 'eth_chainId in a batch'), BigInt(h.t.chainId));
  const invalid = res.filter((r: any) => r.id === null);
  assert.equal(invalid.length, 1, `the invalid member gets one response with id null: ${describeValue(res)}`);
  assertErrorObject(invalid[0], [-32600], null, 'invalid member of a batch');

  // a batch of only invalid members
  const junk = await call([1, 2], 'batch [1,2]');
  assert.ok(Array.isArray(junk) && junk.length === 2, `batch [1,2]: ${describeValue(junk)}`);
  junk.forEach((r: any) => assertErrorObject(r, [-32600], null, 'batch member 1 or 2'));
});

test('an empty batch → a single -32600', { timeout: T }, async () => {
  assertErrorObject(await call('[]', 'empty batch'), [-32600], null, 'empty batch');
});

// --- transactions that must be refused ------------------------------------------------------------

const rejectedHashes: string[] = [];
let senderNonce = -1;
let headBefore = -1;

test('transactions the ledger must refuse', { timeout: T }, async (tt) => {
  const t = h.t;
  const sender = t.testWallet(0, 0);
  const recipient = Wallet.createRandom().address;

  // one good transaction first, so that there is a mined nonce to reuse
  const nonce0 = await t.providers[0].getTransactionCount(sender.address, 'pending');
  const good = await signLegacy(sender, t.chainId, { nonce: nonce0, to: recipient, value: 1n, gasLimit: 21_000 });
  const goodHash = await t.rpc<string>(0, 'eth_sendRawTransaction', [good]);
  assert.equal(goodHash, keccak256(good), 'eth_sendRawTransaction returns keccak256(raw)');
  const receipts = await t.receiptsEverywhere(goodHash);
  assert.equal(receipts[0].status, '0x1');
  senderNonce = nonce0 + 1;
  headBefore = Math.max(...(await Promise.all(t.urls.map((_, i) => t.blockNumber(i)))));

  const next = senderNonce;
  const reject = async (raw: string, codes: number[], pattern: RegExp | undefined, what: string, i = 0) => {
    rejectedHashes.push(keccak256(raw));
    return expectRejected(raw, codes, pattern, what, i);
  };

  await tt.test('bad signatures', async () => {
    const raw = await signLegacy(sender, t.chainId, { nonce: next, to: recipient, value: 5n, gasLimit: 21_000 });
    const fields = decodeRlp(raw) as string[]; // [nonce, gasPrice, gas, to, value, data, v, r, s]
    assert.equal(fields.length, 9);
    const rebuild = (patch: Partial<Record<6 | 7 | 8, string>>) => {
      const f: RlpStructuredData[] = [...fields];
      for (const [k, v] of Object.entries(patch)) f[Number(k)] = v;
      return encodeRlp(f);
    };
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(fields[8]);
    await reject(rebuild({ 7: '0x' }), [-32000], undefined, 'r = 0');
    await reject(rebuild({ 8: '0x' }), [-32000], undefined, 's = 0');
    await reject(rebuild({ 8: toBeHex(N - s) }), [-32000], undefined, 'high s (EIP-2 malleated signature)');
    await reject(rebuild({ 7: toBeHex(N + 1n) }), [-32000], undefined, 'r ≥ n');
    await reject(rebuild({ 6: toBeHex(99) }), [-32000], undefined, 'v that is neither 27/28 nor EIP-155 for this chain');
    // flipped bytes inside the RLP: the length prefix, and a truncated tail
    const bytes = Buffer.from(raw.slice(2), 'hex');
    const flipped = Buffer.from(bytes);
    flipped[0] ^= 0xff;
    await reject('0x' + flipped.toString('hex'), [-32000], undefined, 'flipped first byte');
    await reject('0x' + bytes.subarray(0, bytes.length - 3).toString('hex'), [-32000], undefined, 'truncated raw tx');
    await reject('0xdeadbeef', [-32000], undefined, 'garbage bytes');
  });

  await tt.test('wrong chain id', async () => {
    const raw = await sender.signTransaction({ type: 0, chainId: 999, nonce: next, gasPrice: 0, gasLimit: 21_000, to: recipient, value: 6n });
    await reject(raw, [-32000], /chain/i, 'signed for chain 999');
    const raw1559 = await sender.signTransaction({ type: 2, chainId: 999, nonce: next, maxFeePerGas: 0, maxPriorityFeePerGas: 0, gasLimit: 21_000, to: recipient, value: 6n });
    await reject(raw1559, [-32000], /chain/i, 'EIP-1559 tx signed for chain 999', 1);
  });

  await tt.test('nonce too low', async () => {
    const raw = await signLegacy(sender, t.chainId, { nonce: nonce0, to: recipient, value: 2n, gasLimit: 21_000 });
    await reject(raw, [-32000], /nonce/i, `reused mined nonce ${nonce0} with other data`);
    await reject(raw, [-32000], /nonce/i, `reused mined nonce ${nonce0} with other data, via another gateway`, 2);
  });

  await tt.test('gas price above 0', async () => {
    const raw = await signLegacy(sender, t.chainId, { nonce: next, to: recipient, value: 3n, gasLimit: 21_000, gasPrice: 1n });
    await reject(raw, [-32000], /gas|fee|price/i, 'gasPrice 1');
    const raw1559 = await sender.signTransaction({ type: 2, chainId: t.chainId, nonce: next, maxFeePerGas: 1, maxPriorityFeePerGas: 0, gasLimit: 21_000, to: recipient, value: 3n });
    await reject(raw1559, [-32000], /gas|fee|price/i, 'maxFeePerGas 1', 3);
  });

  await tt.test('intrinsic gas too low', async () => {
    const raw = await signLegacy(sender, t.chainId, { nonce: next, to: recipient, value: 4n, gasLimit: 20_000 });
    await reject(raw, [-32000], undefined, 'gasLimit 20000 for a transfer');
  });

  await tt.test('balance too low for the value', async () => {
    const poor = Wallet.createRandom();
    const raw = await signLegacy(poor, t.chainId, { nonce: 0, to: recipient, value: 10n ** 18n, gasLimit: 21_000 });
    await reject(raw, [-32000], undefined, 'value above the balance');
  });

  // sanity: our signatures are what ethers would decode
  assert.equal(Transaction.from(good).from, sender.address);
});

test('an oversized request is refused and the server answers the next request', { timeout: T }, async () => {
  const t = h.t;
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_sendRawTransaction', params: ['0x' + '00'.repeat(3 * 1024 * 1024)] }); // ~6 MB
  for (let attempt = 1; attempt <= 3; attempt++) {
    let res;
    try {
      res = await postHttp(t.urls[0], big, 60_000);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      assert.fail(
        `6 MB request (attempt ${attempt}): the client got ${code ?? (err as Error).message} instead of an answer — the gateway closed ` +
          'the connection while the body was still being uploaded, so a Node client never reads the 413. Drain (read and discard) ' +
          'the rest of the body, or linger before closing, so that the 413 reaches the client.',
      );
    }
    if (res.status !== 413) {
      const body = res.json;
      assert.ok(body && body.error, `6 MB request: expected HTTP 413 or a JSON-RPC error, got HTTP ${res.status}: ${res.text.slice(0, 300)}`);
      assert.equal(typeof body.error.code, 'number');
      assert.ok(typeof body.error.message === 'string' && body.error.message.length > 0);
    }
    assert.equal(q(await t.rpc(0, 'eth_chainId')), BigInt(t.chainId), `eth_chainId after oversized request #${attempt}`);
  }
  // a huge batch (under the body limit) is bounded too: an answer, not a hang or a crash
  const hugeBatch = JSON.stringify(Array.from({ length: 50_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'eth_chainId', params: [] })));
  const res2 = await postHttp(t.urls[0], hugeBatch, 60_000);
  assert.ok(res2.status === 413 || res2.json !== undefined, `50k-member batch: HTTP ${res2.status}: ${res2.text.slice(0, 200)}`);
  // and every gateway still works
  for (let i = 0; i < t.size; i++) assert.equal(q(await t.rpc(i, 'eth_chainId')), BigInt(t.chainId), `eth_chainId on ${t.participantId(i)} afterwards`);
});

test('nothing of the refused input was stored, and every gateway still answers', { timeout: T }, async () => {
  const t = h.t;
  assert.ok(senderNonce >= 0 && headBefore >= 0, 'the rejected-transactions test did not get far enough');
  const sender = new Wallet(t.testKeys[0]);

  // a marker transaction from another key: once it is mined, anything that had entered a pool before it
  // would have been mined too (in its block or earlier).
  const marker = t.testWallet(1, 3);
  const nonce = await marker.provider!.getTransactionCount(marker.address, 'pending');
  const raw = await signLegacy(marker, t.chainId, { nonce, to: marker.address, value: 0n, gasLimit: 21_000 });
  const markerHash = await t.rpc<string>(3, 'eth_sendRawTransaction', [raw]);
  const receipts = await t.receiptsEverywhere(markerHash);
  const markerBlock = Number(q(receipts[0].blockNumber));

  for (let i = 0; i < t.size; i++) {
    const where = t.participantId(i);
    assert.equal(await t.providers[i].getTransactionCount(sender.address, 'latest'), senderNonce, `sender nonce (latest) on ${where}`);
    assert.equal(await t.providers[i].getTransactionCount(sender.address, 'pending'), senderNonce, `sender nonce (pending) on ${where}`);
    for (const hash of rejectedHashes) {
      assert.equal(await t.rpc(i, 'eth_getTransactionByHash', [hash]), null, `refused tx ${hash} is known to ${where}`);
      assert.equal(await t.rpc(i, 'eth_getTransactionReceipt', [hash]), null, `refused tx ${hash} has a receipt on ${where}`);
    }
    // blocks after the good tx hold only the marker
    for (let n = headBefore + 1; n <= markerBlock; n++) {
      const b = await t.rpc(i, 'eth_getBlockByNumber', ['0x' + n.toString(16), false]);
      const expected = n === markerBlock ? [markerHash] : [];
      assert.deepEqual(b.transactions, expected, `block ${n} on ${where} holds ${describeValue(b.transactions)}`);
    }
    assert.equal(q(await t.rpc(i, 'eth_chainId')), BigInt(t.chainId), `${where} still answers`);
  }
});
