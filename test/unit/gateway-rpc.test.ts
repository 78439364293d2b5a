import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { RpcCode, revertReason, toRpcError } from '../../actors/gateway/rpc/errors.js';
import { BlockCount, BlockParam, StorageSlot, positional } from '../../actors/gateway/rpc/params.js';
import type { Method } from '../../actors/gateway/rpc/methods.js';
import { Address } from '../../lib/hex.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { silentLog } from './gateway-fakes.js';

const calls: string[] = [];
const methods: Record<string, Method> = {
  echo: async (params) => params,
  slow: async (params) => {
    await new Promise((r) => setTimeout(r, 20));
    return params;
  },
  record: async (params) => {
    calls.push(JSON.stringify(params));
    return true;
  },
  nothing: async () => undefined,
  boom: async () => {
    throw new Error('secret stack detail');
  },
  reject: async () => {
    throw new CodedError(ErrorCode.Rejected, 'nonce too low');
  },
};
const dispatcher = createDispatcher(methods, { log: silentLog, maxBatch: 5 });
const handle = (body: unknown) => dispatcher.handle(typeof body === 'string' ? body : JSON.stringify(body));

describe('gateway JSON-RPC framing', () => {
  it('answers a call with its id', async () => {
    assert.deepEqual(await handle({ jsonrpc: '2.0', id: 7, method: 'echo', params: [1] }), { jsonrpc: '2.0', id: 7, result: [1] });
    assert.deepEqual(await handle({ jsonrpc: '2.0', id: 'a', method: 'nothing' }), { jsonrpc: '2.0', id: 'a', result: null });
  });

  it('-32700 on malformed JSON', async () => {
    assert.deepEqual(await handle('{"jsonrpc": "2.0", "method": '), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    assert.deepEqual(await handle('[{"jsonrpc": "2.0", "method": "echo"},'), { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
  });

  it('-32600 on invalid request objects', async () => {
    for (const bad of [1, 'x', null, { id: 1, method: 'echo' }, { jsonrpc: '1.0', id: 1, method: 'echo' }, { jsonrpc: '2.0', id: 1, method: 5 }, { jsonrpc: '2.0', id: 1, method: 'echo', params: 3 }, { jsonrpc: '2.0', id: {}, method: 'echo' }]) {
      const r = (await dispatcher.handle(JSON.stringify(bad))) as { error: { code: number } };
      assert.equal(r.error.code, -32600, JSON.stringify(bad));
    }
    const withId = (await handle({ jsonrpc: '1.0', id: 9, method: 'echo' })) as { id: unknown };
    assert.equal(withId.id, 9);
  });

  it('-32601 on unknown methods (including Object.prototype names)', async () => {
    const r = (await handle({ jsonrpc: '2.0', id: 1, method: 'eth_nope' })) as { error: { code: number; message: string } };
    assert.equal(r.error.code, -32601);
    assert.match(r.error.message, /eth_nope/);
    const proto = (await handle({ jsonrpc: '2.0', id: 1, method: 'toString' })) as { error: { code: number } };
    assert.equal(proto.error.code, -32601);
  });

  it('notifications get no response', async () => {
    assert.equal(await handle({ jsonrpc: '2.0', method: 'record', params: ['n1'] }), undefined);
    assert.ok(calls.includes('["n1"]'));
    assert.equal(await handle({ jsonrpc: '2.0', method: 'eth_nope' }), undefined);
    assert.equal(await handle([{ jsonrpc: '2.0', method: 'record', params: ['n2'] }, { jsonrpc: '2.0', method: 'record', params: ['n3'] }]), undefined);
  });

  it('batches are answered in order, without notifications, with per-call errors', async () => {
    const r = await handle([
      { jsonrpc: '2.0', id: 1, method: 'slow', params: ['first'] },
      { jsonrpc: '2.0', method: 'record', params: ['n4'] },
      { jsonrpc: '2.0', id: 2, method: 'echo', params: ['second'] },
      { jsonrpc: '2.0', id: 3, method: 'eth_nope' },
      42,
    ]);
    assert.deepEqual(r, [
      { jsonrpc: '2.0', id: 1, result: ['first'] },
      { jsonrpc: '2.0', id: 2, result: ['second'] },
      { jsonrpc: '2.0', id: 3, error: { code: -32601, message: 'the method eth_nope does not exist/is not available' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'invalid request' } },
    ]);
  });

  it('an empty batch is one -32600 error; an oversized batch too', async () => {
    assert.deepEqual(await handle([]), { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } });
    const big = Array.from({ length: 6 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'echo' }));
    const r = (await handle(big)) as { error: { code: number; message: string } };
    assert.equal(r.error.code, -32600);
    assert.match(r.error.message, /batch too large/);
  });

  it('internal errors never leak details; coded errors keep their message', async () => {
    assert.deepEqual(await handle({ jsonrpc: '2.0', id: 1, method: 'boom' }), { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'internal error' } });
    assert.deepEqual(await handle({ jsonrpc: '2.0', id: 1, method: 'reject' }), { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'nonce too low' } });
  });
});

describe('gateway error mapping', () => {
  const map = (err: unknown) => toRpcError(err).error;

  it('maps each CodedError code once', () => {
    assert.deepEqual(map(new CodedError(ErrorCode.InvalidInput, 'bad filter')), { code: -32602, message: 'bad filter' });
    assert.deepEqual(map(new CodedError(ErrorCode.Rejected, 'nonce too low')), { code: -32000, message: 'nonce too low' });
    assert.deepEqual(map(new CodedError(ErrorCode.NotFound, 'header not found')), { code: -32000, message: 'header not found' });
    assert.deepEqual(map(new CodedError(ErrorCode.Unavailable, 'no responder on net.p1.executor.query')), { code: -32000, message: 'temporarily unavailable, retry' });
    assert.deepEqual(map(new CodedError(ErrorCode.Internal, 'db exploded at /srv/x')), { code: -32603, message: 'internal error' });
    assert.deepEqual(map(new TypeError('x is undefined')), { code: -32603, message: 'internal error' });
    assert.equal(toRpcError(new CodedError(ErrorCode.Unavailable, 'x')).internal, true);
    assert.equal(toRpcError(new CodedError(ErrorCode.Rejected, 'x')).internal, false);
  });

  it('execution reverted: code 3, decoded Error(string) reason, revert data as data', () => {
    // Error("not owner")
    const data =
      '0x08c379a0' +
      '0000000000000000000000000000000000000000000000000000000000000020' +
      '0000000000000000000000000000000000000000000000000000000000000009' +
      '6e6f74206f776e65720000000000000000000000000000000000000000000000';
    assert.equal(revertReason(data), 'not owner');
    assert.deepEqual(map(new CodedError(ErrorCode.ExecutionReverted, 'execution reverted', data)), { code: 3, message: 'execution reverted: not owner', data });
  });

  it('execution reverted without reason / with a custom error / with a panic', () => {
    assert.deepEqual(map(new CodedError(ErrorCode.ExecutionReverted, 'reverted', '0x')), { code: RpcCode.ExecutionReverted, message: 'execution reverted' });
    assert.deepEqual(map(new CodedError(ErrorCode.ExecutionReverted, 'reverted')), { code: 3, message: 'execution reverted' });
    assert.deepEqual(map(new CodedError(ErrorCode.ExecutionReverted, 'reverted', '0xdeadbeef')), { code: 3, message: 'execution reverted', data: '0xdeadbeef' });
    const panic = '0x4e487b71' + '11'.padStart(64, '0');
    assert.deepEqual(map(new CodedError(ErrorCode.ExecutionReverted, 'reverted', panic)), { code: 3, message: 'execution reverted: panic: 0x11', data: panic });
  });
});

describe('gateway params', () => {
  const addr = '0x' + '12'.repeat(20);

  it('readable messages for wrong, missing and extra arguments', () => {
    assert.throws(() => positional(['0x12'], [Address]), { code: -32602, message: 'invalid argument 0: expected a 20-byte 0x-prefixed address' });
    assert.throws(() => positional([], [Address]), { code: -32602, message: 'missing value for required argument 0' });
    assert.throws(() => positional([addr, 'latest', 1], [Address, BlockParam.optional()]), { code: -32602, message: 'too many arguments, want at most 2' });
    assert.throws(() => positional({ address: addr }, [Address]), { code: -32602, message: 'non-array args' });
    assert.throws(() => positional([addr, 'newest'], [Address, BlockParam]), (e: Error) => /invalid argument 1: expected a block number/.test(e.message));
    assert.throws(() => positional([42], [Address]), { message: 'invalid argument 0: expected string, got number' });
  });

  it('optional arguments may be absent or null', () => {
    assert.deepEqual(positional([addr], [Address, BlockParam.optional()]), [addr, undefined]);
    assert.deepEqual(positional([addr, null], [Address, BlockParam.optional()]), [addr, undefined]);
    assert.deepEqual(positional(undefined, []), []);
  });

  it('block params: tags, numbers, EIP-1898 objects; no leading zeros', () => {
    for (const ok of ['latest', 'earliest', 'pending', 'safe', 'finalized', '0x0', '0x1f', { blockNumber: '0x2' }, { blockHash: '0x' + 'ab'.repeat(32) }]) {
      assert.doesNotThrow(() => positional([ok], [BlockParam]), JSON.stringify(ok));
    }
    for (const bad of ['0x01', '12', 'head', { blockNumber: '0x2', extra: 1 }, 5]) {
      assert.throws(() => positional([bad], [BlockParam]), { code: -32602 }, JSON.stringify(bad));
    }
  });

  it('storage slots are padded to 32 bytes; fee history counts accept hex, decimal and numbers', () => {
    assert.deepEqual(positional(['0x1'], [StorageSlot]), ['0x' + '0'.repeat(63) + '1']);
    assert.throws(() => positional(['0x' + '1'.repeat(65)], [StorageSlot]), { code: -32602 });
    assert.deepEqual(positional(['0x10'], [BlockCount]), [16]);
    assert.deepEqual(positional(['16'], [BlockCount]), [16]);
    assert.deepEqual(positional([16], [BlockCount]), [16]);
  });
});
