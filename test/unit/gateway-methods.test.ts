import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLegacyTxFromRLP } from '@ethereumjs/tx';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { fromHex, toHex } from '../../lib/hex.js';
import { ADDRESS, CHAIN_ID, FakeBackend, OTHER, block, common, rpcWith, sign1559, signLegacy } from './gateway-fakes.js';

describe('gateway methods: chain facts', () => {
  it('chain id, net_version, gas price, client version, modules', async () => {
    const rpc = rpcWith(new FakeBackend());
    assert.equal((await rpc.call('eth_chainId')).result, '0x539');
    assert.equal((await rpc.call('net_version')).result, String(CHAIN_ID));
    assert.equal((await rpc.call('eth_gasPrice')).result, '0x0');
    assert.equal((await rpc.call('eth_maxPriorityFeePerGas')).result, '0x0');
    assert.equal((await rpc.call('eth_syncing')).result, false);
    assert.equal((await rpc.call('net_listening')).result, true);
    assert.match(String((await rpc.call('web3_clientVersion')).result), /^quorum-actors\/v0\.1\.0\//);
    assert.deepEqual((await rpc.call('rpc_modules')).result, { eth: '1.0', net: '1.0', web3: '1.0', raft: '1.0', rpc: '1.0', quorum: '1.0' });
    assert.equal((await rpc.call('eth_blockNumber')).result, '0x10');
    assert.deepEqual((await rpc.call('eth_accounts')).result, [ADDRESS]);
    assert.equal((await rpc.call('eth_chainId', [1])).error?.code, -32602);
  });

  it('raft methods and peer count from the consensus status', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWith(backend);
    assert.equal((await rpc.call('raft_leader')).result, 'p1');
    assert.equal((await rpc.call('raft_role')).result, 'minter');
    assert.equal((await rpc.call('net_peerCount')).result, '0x2');
    assert.equal(((await rpc.call('raft_cluster')).result as unknown[]).length, 3);
    backend.statusValue = { ...backend.statusValue, role: 'follower', leader: null };
    assert.equal((await rpc.call('raft_role')).result, 'verifier');
    assert.deepEqual((await rpc.call('raft_leader')).error, { code: -32000, message: 'no leader' });
  });

  it('istanbul_* reach the consensus core on a QBFT network only, with checked params', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWith(backend);
    assert.equal((await rpc.call('istanbul_getValidators')).error?.code, -32601, 'not on a raft network');
    assert.equal((await rpc.call('raft_addPeer', ['p5'])).error, undefined);
    assert.deepEqual(backend.commands.pop(), { method: 'raft_addPeer', params: ['p5'] });
    backend.statusValue = { ...backend.statusValue, algorithm: 'qbft' };
    assert.equal((await rpc.call('raft_leader')).error?.code, -32601, 'no raft on a qbft network');
    assert.equal((await rpc.call('rpc_modules')).result && 'istanbul' in ((await rpc.call('rpc_modules')).result as object), true);
    backend.commandResult = ['0xabc'];
    assert.deepEqual((await rpc.call('istanbul_getValidators', ['0x10'])).result, ['0xabc']);
    assert.deepEqual(backend.commands.pop(), { method: 'istanbul_getValidators', params: [16] });
    await rpc.call('istanbul_getValidators', ['latest']);
    assert.deepEqual(backend.commands.pop(), { method: 'istanbul_getValidators', params: [null] });
    await rpc.call('istanbul_propose', ['0x' + 'AB'.repeat(20), true]);
    assert.deepEqual(backend.commands.pop(), { method: 'istanbul_propose', params: ['0x' + 'ab'.repeat(20), true] });
    const bad = await rpc.call('istanbul_propose', ['0x12', true]);
    assert.equal(bad.error?.code, -32602);
    assert.equal((await rpc.call('istanbul_propose', ['0x' + 'ab'.repeat(20)])).error?.message, 'missing value for required argument 1');
    assert.equal(backend.commands.length, 0, 'bad params never reach consensus');
    backend.commandError = new CodedError(ErrorCode.InvalidInput, 'not a validator');
    assert.deepEqual((await rpc.call('istanbul_discard', ['0x' + 'ab'.repeat(20)])).error, { code: -32602, message: 'not a validator' });
  });

  it('an unavailable dependency is -32000 temporarily unavailable, retry', async () => {
    const backend = new FakeBackend();
    backend.unavailable = true;
    const rpc = rpcWith(backend);
    assert.deepEqual((await rpc.call('eth_blockNumber')).error, { code: -32000, message: 'temporarily unavailable, retry' });
  });
});

describe('gateway methods: state reads', () => {
  it('resolves tags to numbers for the state store', async () => {
    const backend = new FakeBackend();
    backend.setAccount(OTHER, 4n, 1000n);
    const rpc = rpcWith(backend);
    assert.equal((await rpc.call('eth_getBalance', [OTHER, 'latest'])).result, '0x3e8');
    assert.equal((await rpc.call('eth_getBalance', [OTHER, 'earliest'])).result, '0x3e8');
    assert.equal((await rpc.call('eth_getBalance', [OTHER, '0x5'])).result, '0x3e8');
    assert.equal((await rpc.call('eth_getBalance', [ADDRESS])).result, '0x0');
    assert.deepEqual(
      backend.reads.map((r) => r.block),
      [16n, 0n, 5n, 16n],
    );
  });

  it('a number above head is header not found, after one fresh look at the head', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWith(backend);
    assert.deepEqual((await rpc.call('eth_getBalance', [OTHER, '0x11'])).error, { code: -32000, message: 'header not found' });
    backend.freshHead = { ...backend.headValue, number: '0x11' };
    assert.equal((await rpc.call('eth_getBalance', [OTHER, '0x11'])).result, '0x0');
  });

  it('EIP-1898 block hash resolves through the ledger', async () => {
    const backend = new FakeBackend();
    backend.blocks.set(7, block(7));
    const rpc = rpcWith(backend);
    await rpc.call('eth_getCode', [OTHER, { blockHash: block(7).hash }]);
    assert.equal(backend.reads.at(-1)?.block, 7n);
    assert.deepEqual((await rpc.call('eth_getCode', [OTHER, { blockHash: '0x' + 'ee'.repeat(32) }])).error, { code: -32000, message: 'header for hash not found' });
  });

  it('storage slots are normalised to 32 bytes', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWith(backend);
    assert.equal((await rpc.call('eth_getStorageAt', [OTHER, '0x2', 'latest'])).result, '0x' + '00'.repeat(32));
    assert.equal(backend.reads.at(-1)?.slot, '0x' + '0'.repeat(63) + '2');
  });

  it('pending nonce is the max of state and pool', async () => {
    const backend = new FakeBackend();
    backend.setAccount(OTHER, 4n, 0n);
    const rpc = rpcWith(backend);
    assert.equal((await rpc.call('eth_getTransactionCount', [OTHER, 'pending'])).result, '0x4');
    assert.equal((await rpc.call('eth_getTransactionCount', [OTHER, 'latest'])).result, '0x4');
    backend.pool.set(OTHER, 9n);
    assert.equal((await rpc.call('eth_getTransactionCount', [OTHER, 'pending'])).result, '0x9');
    assert.equal((await rpc.call('eth_getTransactionCount', [OTHER, 'latest'])).result, '0x4');
  });
});

describe('gateway methods: calls', () => {
  it('eth_call returns data; a revert becomes code 3 with the revert data', async () => {
    const backend = new FakeBackend();
    const rpc = rpcWith(backend);
    backend.callResult = '0x2a';
    assert.equal((await rpc.call('eth_call', [{ to: OTHER, data: '0x' }, 'latest'])).result, '0x2a');
    backend.callResult = new CodedError(ErrorCode.ExecutionReverted, 'execution reverted', '0xdeadbeef');
    assert.deepEqual((await rpc.call('eth_call', [{ to: OTHER }])).error, { code: 3, message: 'execution reverted', data: '0xdeadbeef' });
    assert.equal((await rpc.call('eth_call', [{ to: OTHER, data: '0x01', input: '0x02' }])).error?.code, -32602);
  });

  it('block queries pass through; unknown blocks are null', async () => {
    const backend = new FakeBackend();
    backend.blocks.set(16, block(16, { transactions: ['0x' + 'aa'.repeat(32)] }));
    const rpc = rpcWith(backend);
    assert.equal(((await rpc.call('eth_getBlockByNumber', ['latest', false])).result as { number: string }).number, '0x10');
    assert.equal((await rpc.call('eth_getBlockByNumber', ['0x99', false])).result, null);
    assert.equal((await rpc.call('eth_getBlockTransactionCountByNumber', ['0x10'])).result, '0x1');
    assert.equal((await rpc.call('eth_getBlockTransactionCountByNumber', ['0x11'])).result, null);
    assert.equal((await rpc.call('eth_getTransactionReceipt', ['0x' + 'aa'.repeat(32)])).result, null);
  });

  it('eth_feeHistory: zero base fees, gas used ratios, zero rewards', async () => {
    const backend = new FakeBackend();
    for (let n = 14; n <= 16; n++) backend.blocks.set(n, block(n, { gasUsed: n === 16 ? '0xe4e1c0' : '0x0' }));
    const rpc = rpcWith(backend);
    const r = (await rpc.call('eth_feeHistory', ['0x3', 'latest', [25, 75]])).result;
    assert.deepEqual(r, {
      oldestBlock: '0xe',
      baseFeePerGas: ['0x0', '0x0', '0x0', '0x0'],
      gasUsedRatio: [0, 0, 0.5],
      reward: [
        ['0x0', '0x0'],
        ['0x0', '0x0'],
        ['0x0', '0x0'],
      ],
    });
    const noRewards = (await rpc.call('eth_feeHistory', [2, '0x1'])).result as Record<string, unknown>;
    assert.equal(noRewards.oldestBlock, '0x0');
    assert.equal('reward' in noRewards, false);
    assert.equal((await rpc.call('eth_feeHistory', [2, 'latest', [50, 10]])).error?.code, -32602);
  });
});

describe('gateway methods: sending', () => {
  it('eth_sendRawTransaction admits, submits {raw, hash, from, nonce, gasLimit, accountNonce} and returns the hash', async () => {
    const backend = new FakeBackend();
    backend.setAccount(ADDRESS, 2n, 0n);
    const rpc = rpcWith(backend);
    const raw = toHex(signLegacy({ nonce: 2n }));
    const r = await rpc.call('eth_sendRawTransaction', [raw]);
    assert.equal(backend.submitted.length, 1);
    const sent = backend.submitted[0];
    assert.equal(r.result, sent.hash);
    assert.deepEqual(sent, { raw, hash: sent.hash, from: ADDRESS, nonce: '0x2', gasLimit: '0x5208', accountNonce: '0x2' });
  });

  it('rejections are -32000 with the reason', async () => {
    const backend = new FakeBackend();
    backend.setAccount(ADDRESS, 5n, 0n);
    const rpc = rpcWith(backend);
    const low = await rpc.call('eth_sendRawTransaction', [toHex(signLegacy({ nonce: 1n }))]);
    assert.equal(low.error?.code, -32000);
    assert.match(low.error!.message, /^nonce too low/);
    const price = await rpc.call('eth_sendRawTransaction', [toHex(sign1559({ nonce: 5n, maxFeePerGas: 7n }))]);
    assert.deepEqual(price.error, { code: -32000, message: 'gas price must be 0' });
    assert.equal((await rpc.call('eth_sendRawTransaction', ['0xzz'])).error?.code, -32602);
    backend.submitError = new CodedError(ErrorCode.Rejected, 'already known');
    assert.deepEqual((await rpc.call('eth_sendRawTransaction', [toHex(signLegacy({ nonce: 5n }))])).error, { code: -32000, message: 'already known' });
    assert.equal(backend.submitted.length, 0);
  });

  it('eth_sendTransaction fills nonce (pending), gas (estimate + margin), gas price 0, chain id; concurrent calls get distinct nonces', async () => {
    const backend = new FakeBackend();
    backend.setAccount(ADDRESS, 3n, 10n ** 18n);
    backend.pool.set(ADDRESS, 4n);
    const rpc = rpcWith(backend);
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, value: '0x' + (i + 1).toString(16) }])));
    assert.deepEqual(results.map((r) => r.error), [undefined, undefined, undefined, undefined, undefined]);
    const txs = backend.submitted.map((s) => createLegacyTxFromRLP(fromHex(s.raw), { common }));
    assert.deepEqual(txs.map((t) => t.nonce).sort(), [4n, 5n, 6n, 7n, 8n]);
    for (const t of txs) {
      assert.equal(t.gasPrice, 0n);
      assert.equal(t.gasLimit, 25200n); // 21000 + 20%
      assert.equal(t.common.chainId(), BigInt(CHAIN_ID));
      assert.equal(t.getSenderAddress().toString(), ADDRESS);
    }
    assert.deepEqual(results.map((r) => r.result).sort(), backend.submitted.map((s) => s.hash).sort());
    // the next call after all settled asks the pool again
    backend.pool.set(ADDRESS, 20n);
    await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, gas: '0x5208' }]);
    const last = createLegacyTxFromRLP(fromHex(backend.submitted.at(-1)!.raw), { common });
    assert.equal(last.nonce, 20n);
    assert.equal(last.gasLimit, 21000n);
  });

  it('eth_sendTransaction refuses unknown accounts, non-zero gas prices and private transactions', async () => {
    const rpc = rpcWith(new FakeBackend());
    assert.deepEqual((await rpc.call('eth_sendTransaction', [{ from: OTHER, to: OTHER }])).error, { code: -32000, message: `unknown account ${OTHER}` });
    assert.deepEqual((await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, gasPrice: '0x1' }])).error, { code: -32000, message: 'gas price must be 0' });
    assert.match((await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER, privateFor: ['abc'] }])).error!.message, /private transactions/);
    assert.match((await rpc.call('eth_sendTransaction', [{ to: OTHER }])).error!.message, /from: required/);
  });

  it('a failed submission resets the account nonce counter', async () => {
    const backend = new FakeBackend();
    backend.setAccount(ADDRESS, 0n, 0n);
    const rpc = rpcWith(backend);
    backend.submitError = new CodedError(ErrorCode.Unavailable, 'timed out');
    assert.equal((await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER }])).error?.message, 'temporarily unavailable, retry');
    backend.submitError = null;
    await rpc.call('eth_sendTransaction', [{ from: ADDRESS, to: OTHER }]);
    assert.equal(createLegacyTxFromRLP(fromHex(backend.submitted[0].raw), { common }).nonce, 0n);
  });

  it('eth_sign / personal_sign produce recoverable EIP-191 signatures', async () => {
    const rpc = rpcWith(new FakeBackend());
    const { hashPersonalMessage, ecrecover, publicToAddress } = await import('@ethereumjs/util');
    const sig = String((await rpc.call('personal_sign', ['0x68656c6c6f', ADDRESS])).result);
    assert.equal(sig, (await rpc.call('eth_sign', [ADDRESS, '0x68656c6c6f'])).result);
    const bytes = fromHex(sig);
    const pub = ecrecover(hashPersonalMessage(fromHex('0x68656c6c6f')), BigInt(bytes[64]), bytes.subarray(0, 32), bytes.subarray(32, 64));
    assert.equal(toHex(publicToAddress(pub)), ADDRESS);
  });
});
