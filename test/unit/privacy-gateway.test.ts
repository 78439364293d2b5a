/**
 * The gateway's private methods (actors/gateway/rpc/private-methods.ts) through the real dispatcher and methods,
 * over the in-memory FakeBackend (its tm records what it was asked to send and answers a fake payload hash).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keccak_256 } from '@noble/hashes/sha3';
import secp256k1 from 'secp256k1';
import { createAccounts } from '../../actors/gateway/accounts.js';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { createMethods } from '../../actors/gateway/rpc/methods.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { decodeRawTransaction, signPrivateTransaction, type DecodedTx } from '../../lib/ethereum/transaction.js';
import { fromHex, quantity, toHex } from '../../lib/hex.js';
import { ADDRESS, FakeBackend, KEY, KEY_BYTES, OTHER, common, silentLog, signLegacy } from './gateway-fakes.js';

// Privacy keys: ours (A, the gateway's participant) and two others.
const A = Buffer.alloc(32, 0x0a).toString('base64');
const B = Buffer.alloc(32, 0x0b).toString('base64');
const C = Buffer.alloc(32, 0x0c).toString('base64');
/** The ledger's PrivacyMetadata, as the fake backend holds it (no import of the ledger's message module). */
type PrivacyMetadata = FakeBackend['privacy'] extends Map<string, infer M> ? M : never;
const EMPTY_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421';
/** What the FakeBackend's tm answers for the n-th send. */
const fakeHash = (n: number) => '0x' + n.toString(16).padStart(2, '0').repeat(64);
const DEPLOY = '0x6080604052348015600e575f80fd5b50';
const SET10 = '0x60fe47b1' + '000000000000000000000000000000000000000000000000000000000000000a';

type Rpc = ReturnType<typeof rpcWithPrivacy>;
/** privacyKey null: a gateway without private transactions. */
function rpcWithPrivacy(backend: FakeBackend, privacyKey: string | null = A) {
  const accounts = createAccounts([KEY], common);
  const methods = createMethods({ backend, accounts, common, participant: 'p1', privacyKey: privacyKey ?? undefined, clientVersion: 'quorum-actors/v0.1.0/test' });
  const dispatcher = createDispatcher(methods, { log: silentLog });
  let id = 0;
  return {
    async call(method: string, params?: unknown): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> {
      return (await dispatcher.handle(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }))) as never;
    },
  };
}

function decodeSubmitted(raw: string): DecodedTx {
  const r = decodeRawTransaction(fromHex(raw), common);
  if (!r.ok) assert.fail(`submitted tx does not decode: ${r.error.message}`);
  return r.value;
}

async function sendErr(rpc: Rpc, tx: Record<string, unknown>) {
  const r = await rpc.call('eth_sendTransaction', [{ from: ADDRESS, ...tx }]);
  assert.equal(r.result, undefined, `expected an error, got ${JSON.stringify(r.result)}`);
  return r.error!;
}

/** A private raw transaction signed with the gateway account's key (as web3js-quorum would). */
function privateRaw(f: { nonce?: bigint; to?: string | null; hash?: string; gasLimit?: bigint } = {}): Uint8Array {
  return signPrivateTransaction(
    { nonce: f.nonce ?? 0n, gasLimit: f.gasLimit ?? 200_000n, to: f.to === null ? null : fromHex(f.to ?? OTHER), data: fromHex(f.hash ?? fakeHash(0x77)) },
    (h) => secp256k1.ecdsaSign(h, KEY_BYTES),
  );
}

const meta = (privacyFlag: 0 | 1 | 3, parties: string[]): PrivacyMetadata => ({ creationTxHash: '0x' + '0c'.repeat(32), privacyFlag, parties: [...parties].sort() });

describe('eth_sendTransaction with privateFor', () => {
  it('the plaintext goes to the tm with the recipients; a private tx carrying its hash is submitted', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWithPrivacy(backend);
    const r = await rpc.call('eth_sendTransaction', [{ from: ADDRESS, data: DEPLOY, privateFor: [B] }]);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(backend.tmSent, [{ payload: DEPLOY, from: undefined, to: [B], privacyFlag: 0 }]);
    assert.equal(backend.submitted.length, 1);
    const sub = backend.submitted[0];
    assert.equal(r.result, sub.hash);
    const tx = decodeSubmitted(sub.raw);
    assert.equal(tx.isPrivate, true);
    assert.equal(toHex(tx.data), fakeHash(1), 'on chain: the payload hash, never the plaintext');
    assert.equal(tx.hash, toHex(keccak_256(fromHex(sub.raw))));
    assert.equal(tx.from, ADDRESS);
    assert.equal(tx.to, null);
    assert.equal(tx.value, 0n);
    assert.equal(tx.feeCap, 0n);
    assert.equal(tx.nonce, 0n);
    assert.ok(tx.tx.v === 37n || tx.tx.v === 38n);
    assert.equal(sub.from, ADDRESS);
    assert.equal(sub.nonce, '0x0');
    // The gas limit never goes below the intrinsic gas of the public part (a creation with 64 bytes of data).
    assert.ok(tx.gasLimit >= tx.intrinsicGas, `gas ${tx.gasLimit} < intrinsic ${tx.intrinsicGas}`);
    assert.equal(tx.gasLimit, 21_000n + 32_000n + 4n + 16n * 64n, 'the estimate (21000 + 20%) is below the minimum, which wins');
    // The estimate ran for the real (plaintext) call.
    assert.deepEqual(backend.estimateCalls, [{ from: ADDRESS, input: DEPLOY }]);
  });

  it('privateFrom, privacyFlag, an explicit gas and nonce, and a call pass through', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWithPrivacy(backend);
    const r = await rpc.call('eth_sendTransaction', [
      { from: ADDRESS, to: OTHER, data: SET10, gas: '0x30d40', nonce: '0x3', privateFor: [B, C], privateFrom: A, privacyFlag: 0, gasPrice: '0x0', value: '0x0' },
    ]);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(backend.tmSent, [{ payload: SET10, from: A, to: [B, C], privacyFlag: 0 }]);
    const tx = decodeSubmitted(backend.submitted[0].raw);
    assert.equal(tx.isPrivate, true);
    assert.equal(tx.to, OTHER);
    assert.equal(tx.gasLimit, 200_000n);
    assert.equal(tx.nonce, 3n);
    assert.deepEqual(backend.estimateCalls, [], 'no estimate when gas is given');
  });

  it('a larger estimate is padded by 20%', async () => {
    const backend = new FakeBackend();
    backend.estimate = quantity(100_000n);
    const rpc = rpcWithPrivacy(backend);
    assert.equal((await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, data: SET10, privateFor: [B] }])).error, undefined);
    assert.equal(decodeSubmitted(backend.submitted[0].raw).gasLimit, 120_000n);
  });

  it('consecutive private sends take consecutive nonces', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWithPrivacy(backend);
    for (let i = 0; i < 3; i++) assert.equal((await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, data: SET10, privateFor: [B] }])).error, undefined);
    assert.deepEqual(backend.submitted.map((s) => s.nonce), ['0x0', '0x1', '0x2']);
    assert.deepEqual(backend.submitted.map((s) => toHex(decodeSubmitted(s.raw).data)), [fakeHash(1), fakeHash(2), fakeHash(3)]);
  });

  const refusals: { when: string; tx: Record<string, unknown>; code: number; message: RegExp }[] = [
    { when: 'value > 0', tx: { to: OTHER, data: SET10, value: '0x1', privateFor: [B] }, code: -32000, message: /^ether value is not supported for private transactions$/ },
    { when: 'gasPrice > 0', tx: { to: OTHER, data: SET10, gasPrice: '0x1', privateFor: [B] }, code: -32000, message: /^gas price must be 0$/ },
    { when: 'maxFeePerGas > 0', tx: { to: OTHER, data: SET10, maxFeePerGas: '0x2', privateFor: [B] }, code: -32000, message: /^gas price must be 0$/ },
    { when: 'an unknown account', tx: { from: OTHER, to: OTHER, data: SET10, privateFor: [B] }, code: -32000, message: /^unknown account/ },
    { when: 'a creation without data', tx: { privateFor: [B] }, code: -32000, message: /^contract creation without any data provided$/ },
    { when: 'a privateFor key that is not a key', tx: { to: OTHER, data: SET10, privateFor: ['abc'] }, code: -32602, message: /^invalid private transaction arguments: privateFor\.0: / },
    { when: 'a privateFor key of 31 bytes', tx: { to: OTHER, data: SET10, privateFor: [Buffer.alloc(31, 1).toString('base64')] }, code: -32602, message: /privateFor\.0/ },
    { when: 'a bad privateFrom', tx: { to: OTHER, data: SET10, privateFor: [B], privateFrom: 'nope' }, code: -32602, message: /privateFrom/ },
    { when: 'privacy flag 2', tx: { to: OTHER, data: SET10, privateFor: [B], privacyFlag: 2 }, code: -32602, message: /privacyFlag/ },
    { when: 'privacyFlag without privateFor', tx: { to: OTHER, data: SET10, privacyFlag: 3 }, code: -32602, message: /^privateFrom and privacyFlag need privateFor$/ },
    { when: 'privateFrom without privateFor', tx: { to: OTHER, data: SET10, privateFrom: A }, code: -32602, message: /^privateFrom and privacyFlag need privateFor$/ },
    {
      when: 'flag 3 to an address with no private contract',
      tx: { to: OTHER, data: SET10, privateFor: [B], privacyFlag: 3 },
      code: -32000,
      message: /^privacy flag 3 sent to an address that holds no contract created with that flag$/,
    },
  ];
  for (const c of refusals) {
    it(`${c.when} → ${c.code}, nothing sent to the tm, nothing submitted`, async () => {
      const backend = new FakeBackend();
      const rpc = rpcWithPrivacy(backend);
      const err = await sendErr(rpc, c.tx);
      assert.equal(err.code, c.code, err.message);
      assert.match(err.message, c.message);
      assert.deepEqual(backend.tmSent, []);
      assert.deepEqual(backend.submitted, []);
    });
  }

  it('a gateway without a privacy key refuses privateFor', async () => {
    const backend = new FakeBackend();
    const err = await sendErr(rpcWithPrivacy(backend, null), { to: OTHER, data: SET10, privateFor: [B] });
    assert.equal(err.code, -32000);
    assert.match(err.message, /private transactions are not enabled/);
    assert.deepEqual(backend.tmSent, []);
  });

  it(
    'a private send that admission refuses (gas above the block gas limit, nonce too low) shares nothing with the tm',
    async () => {
      const backend = new FakeBackend();
      const rpc = rpcWithPrivacy(backend);
      const tooMuchGas = await sendErr(rpc, { to: OTHER, data: SET10, gas: '0x2000000', privateFor: [B] });
      assert.match(tooMuchGas.message, /^exceeds block gas limit/);
      backend.setAccount(ADDRESS, 5n, 0n);
      const stale = await sendErr(rpc, { to: OTHER, data: SET10, gas: '0x30000', nonce: '0x1', privateFor: [B] });
      assert.match(stale.message, /^nonce too low/);
      assert.equal(backend.submitted.length, 0);
      assert.equal(backend.tmSent.length, 0, 'the payload was pushed to the recipients of a refused transaction');
    },
  );
});

describe('eth_sendTransaction with privateFor: privacy rules against the contract metadata', () => {
  it('PSV: participants other than the contract parties → -32000 private state validation; the exact set in any order passes', async () => {
    const backend = new FakeBackend();
    backend.privacy.set(OTHER, meta(3, [A, B, C]));
    const rpc = rpcWithPrivacy(backend);
    const err = await sendErr(rpc, { to: OTHER, data: SET10, privateFor: [B], privacyFlag: 3 });
    assert.equal(err.code, -32000);
    assert.match(err.message, /^private state validation: the transaction's participants differ/);
    // (length checks: deepEqual(x, []) would narrow the arrays' type to never[] for the rest of the test)
    assert.equal(backend.tmSent.length, 0);
    assert.equal(backend.submitted.length, 0);

    for (const privateFor of [[B, C], [C, B], [A, C, B], [C, B, C]]) {
      const r = await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, data: SET10, privateFor, privacyFlag: 3 }]);
      assert.equal(r.error, undefined, `${JSON.stringify(privateFor)}: ${JSON.stringify(r.error)}`);
    }
    assert.equal(backend.submitted.length, 4);
    assert.ok(backend.tmSent.every((s) => s.privacyFlag === 3));
  });

  it('a flag that differs from the contract one → privacy flag mismatch', async () => {
    const backend = new FakeBackend();
    backend.privacy.set(OTHER, meta(3, [A, B]));
    const err = await sendErr(rpcWithPrivacy(backend), { to: OTHER, data: SET10, privateFor: [B] });
    assert.equal(err.code, -32000);
    assert.match(err.message, /^privacy flag mismatch: contract 0x1{40} was created with flag 3, the transaction has flag 0$/);
  });

  it('party protection: our key not a party → refused; privateFrom a party key → sent', async () => {
    const backend = new FakeBackend();
    backend.privacy.set(OTHER, meta(1, [B, C]));
    const rpc = rpcWithPrivacy(backend);
    const err = await sendErr(rpc, { to: OTHER, data: SET10, privateFor: [B, C], privacyFlag: 1 });
    assert.equal(err.code, -32000);
    assert.match(err.message, /^party protection: the sender is not a party/);
    const r = await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, data: SET10, privateFor: [C], privateFrom: B, privacyFlag: 1 }]);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(backend.tmSent, [{ payload: SET10, from: B, to: [C], privacyFlag: 1 }]);
  });

  it('metadata is looked up whatever the case of the address', async () => {
    const backend = new FakeBackend();
    const target = '0x' + 'aB'.repeat(20);
    backend.privacy.set(target.toLowerCase(), meta(3, [A, B]));
    const err = await sendErr(rpcWithPrivacy(backend), { to: target, data: SET10, privateFor: [B, C], privacyFlag: 3 });
    assert.match(err.message, /^private state validation/);
  });
});

describe('eth_sendTransaction with privateFor: the tm fails', () => {
  it("a recipient's tm did not acknowledge → -32000 with the tm's words, nothing submitted", async () => {
    const backend = new FakeBackend();
    backend.tmSendError = new CodedError(ErrorCode.Unavailable, "recipient p2's transaction manager did not acknowledge the payload within 15000 ms");
    const err = await sendErr(rpcWithPrivacy(backend), { to: OTHER, data: SET10, privateFor: [B] });
    assert.deepEqual(err, { code: -32000, message: "private transaction not sent: recipient p2's transaction manager did not acknowledge the payload within 15000 ms" });
    assert.deepEqual(backend.submitted, []);
  });

  it('our own tm unavailable → -32000 without internal details', async () => {
    const backend = new FakeBackend();
    backend.tmSendError = new CodedError(ErrorCode.Unavailable, 'no responder on net.p1.tm.send');
    const err = await sendErr(rpcWithPrivacy(backend), { to: OTHER, data: SET10, privateFor: [B] });
    assert.deepEqual(err, { code: -32000, message: "private transaction not sent: this participant's transaction manager is not available" });
    assert.deepEqual(backend.submitted, []);
  });

  it('any other tm error is internal', async () => {
    const backend = new FakeBackend();
    backend.tmSendError = new CodedError(ErrorCode.Internal, 'enclave exploded at /secret/path');
    const err = await sendErr(rpcWithPrivacy(backend), { to: OTHER, data: SET10, privateFor: [B] });
    assert.deepEqual(err, { code: -32603, message: 'internal error' });
    assert.deepEqual(backend.submitted, []);
  });
});

describe('eth_getQuorumPayload', () => {
  it('found → the plaintext; not a party → 0x; not a 64-byte hash → invalid params', async () => {
    const backend = new FakeBackend();
    const hash = fakeHash(0x5e);
    backend.payloads.set(hash, { hash, found: true, payload: SET10, senderKey: A, recipientKeys: [A, B], privacyFlag: 0 });
    const rpc = rpcWithPrivacy(backend);
    assert.equal((await rpc.call('eth_getQuorumPayload', [hash])).result, SET10);
    assert.equal((await rpc.call('eth_getQuorumPayload', [hash.toUpperCase().replace('0X', '0x')])).result, SET10);
    assert.equal((await rpc.call('eth_getQuorumPayload', [fakeHash(0x5f)])).result, '0x');
    assert.equal((await rpc.call('eth_getQuorumPayload', ['0x' + '5e'.repeat(32)])).error?.code, -32602);
    assert.equal((await rpc.call('eth_getQuorumPayload', [])).error?.code, -32602);
  });
});

describe('eth_storageRoot', () => {
  const state = (storageRoot: string) => ({ nonce: '0x1', balance: '0x0', codeHash: '0x' + '11'.repeat(32), storageRoot });

  it('private root when this participant holds the contract privately, else the public one, else the empty root', async () => {
    const backend = new FakeBackend();
    const priv = '0x' + 'a1'.repeat(32);
    const pub = '0x' + 'b2'.repeat(32);
    const both = '0x' + '01'.repeat(20);
    const onlyPublic = '0x' + '02'.repeat(20);
    const privateEmpty = '0x' + '03'.repeat(20);
    backend.privateAccounts.set(both, state(priv));
    backend.accountsState.set(both, state(pub));
    backend.accountsState.set(onlyPublic, state(pub));
    backend.privateAccounts.set(privateEmpty, state(EMPTY_ROOT));
    backend.accountsState.set(privateEmpty, state(pub));
    const rpc = rpcWithPrivacy(backend);
    assert.equal((await rpc.call('eth_storageRoot', [both])).result, priv);
    assert.equal((await rpc.call('eth_storageRoot', [both, 'latest'])).result, priv);
    assert.equal((await rpc.call('eth_storageRoot', [onlyPublic])).result, pub);
    assert.equal((await rpc.call('eth_storageRoot', [privateEmpty])).result, pub, 'an empty private storage falls back to the public account');
    assert.equal((await rpc.call('eth_storageRoot', ['0x' + '04'.repeat(20)])).result, EMPTY_ROOT);
    assert.equal((await rpc.call('eth_storageRoot', ['0x1234'])).error?.code, -32602);
    assert.deepEqual((await rpc.call('eth_storageRoot', [both, '0x99'])).error, { code: -32000, message: 'header not found' });
  });
});

describe('eth_getContractPrivacyMetadata', () => {
  it("GoQuorum's shape for a contract held privately, null otherwise", async () => {
    const backend = new FakeBackend();
    backend.privacy.set(OTHER, meta(3, [B, A]));
    const rpc = rpcWithPrivacy(backend);
    assert.deepEqual((await rpc.call('eth_getContractPrivacyMetadata', [OTHER])).result, {
      creationTxHash: '0x' + '0c'.repeat(32),
      privacyFlag: 3,
      mandatoryFor: [],
      parties: [A, B].sort(),
    });
    assert.equal((await rpc.call('eth_getContractPrivacyMetadata', ['0x' + '22'.repeat(20)])).result, null);
    assert.equal((await rpc.call('eth_getContractPrivacyMetadata', ['0xnope'])).error?.code, -32602);
  });
});

describe('raw private transactions', () => {
  it('eth_sendRawPrivateTransaction: a private raw tx is admitted and submitted as is', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWithPrivacy(backend);
    const raw = privateRaw();
    const r = await rpc.call('eth_sendRawPrivateTransaction', [toHex(raw), { privateFor: [B] }]);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.result, toHex(keccak_256(raw)));
    assert.equal(backend.submitted.length, 1);
    assert.equal(backend.submitted[0].raw, toHex(raw));
    assert.equal(backend.submitted[0].from, ADDRESS);
  });

  it('eth_sendRawPrivateTransaction with a non-private raw tx is refused, nothing submitted', async () => {
    const backend = new FakeBackend();
    const r = await rpcWithPrivacy(backend).call('eth_sendRawPrivateTransaction', [toHex(signLegacy({ data: fakeHash(0x77) })), { privateFor: [B] }]);
    assert.equal(r.error?.code, -32000);
    assert.match(r.error!.message, /takes a private transaction \(signed with v = 37 or 38\)/);
    assert.deepEqual(backend.submitted, []);
  });

  it('eth_sendRawPrivateTransaction applies the privacy rules and checks its arguments', async () => {
    const backend = new FakeBackend();
    backend.privacy.set(OTHER, meta(3, [A, B, C]));
    const rpc = rpcWithPrivacy(backend);
    const psv = await rpc.call('eth_sendRawPrivateTransaction', [toHex(privateRaw()), { privateFor: [B], privacyFlag: 3 }]);
    assert.equal(psv.error?.code, -32000);
    assert.match(psv.error!.message, /^private state validation/);
    assert.equal((await rpc.call('eth_sendRawPrivateTransaction', [toHex(privateRaw()), { privateFor: ['abc'] }])).error?.code, -32602);
    assert.equal((await rpc.call('eth_sendRawPrivateTransaction', [toHex(privateRaw())])).error?.code, -32602);
    assert.deepEqual(backend.submitted, []);
  });

  it('eth_sendRawTransaction with a private raw tx is refused, nothing submitted', async () => {
    const backend = new FakeBackend();
    const r = await rpcWithPrivacy(backend).call('eth_sendRawTransaction', [toHex(privateRaw())]);
    assert.equal(r.error?.code, -32000);
    assert.match(r.error!.message, /eth_sendRawPrivateTransaction/);
    assert.deepEqual(backend.submitted, []);
  });
});
