import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ZodType } from 'zod';
import { createBusBackend } from '../../actors/gateway/backend.js';
import { createDispatcher } from '../../actors/gateway/rpc/dispatch.js';
import { createMethods } from '../../actors/gateway/rpc/methods.js';
import { createAccounts } from '../../actors/gateway/accounts.js';
import { NoResponderError, type Bus, type HandlerContext } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { subjects } from '../../lib/subjects.js';
import { ZERO_HASH, block, common, silentLog } from './gateway-fakes.js';

const scope = { net: 'devnet', participant: 'p1' };
const quantityOf = (n: number) => '0x' + n.toString(16);

/** A Bus double: requests go to `answer(subject, payload)`; subscriptions are kept so tests can publish. */
function fakeBus(answer: (subject: string, payload: any) => unknown) {
  const requests: { subject: string; payload: any }[] = [];
  const subs = new Map<string, (msg: any) => void>();
  const bus: Bus = {
    scope,
    connection: null as never,
    async request<T>(subject: string, payload: unknown, reply: ZodType<T>) {
      requests.push({ subject, payload });
      const value = await answer(subject, payload);
      return reply.parse(value);
    },
    publish: () => undefined,
    published: async () => true,
    serve: () => undefined,
    subscribe<T>(subject: string, schema: ZodType<T>, handler: (msg: T, ctx: HandlerContext) => Promise<void> | void) {
      subs.set(subject, (msg) => void handler(schema.parse(msg), { subject, traceparent: null }));
    },
    close: async () => undefined,
  };
  return { bus, requests, emit: (subject: string, msg: unknown) => subs.get(subject)?.(msg) };
}

/** Retries that fit a unit test: ~200 ms in all. */
const quickRetry = { budgetMs: 200, attemptTimeoutMs: 100, minAttemptMs: 10, firstDelayMs: 5, maxDelayMs: 20 };
const HASH = '0x' + 'ab'.repeat(32);
const receipt = {
  transactionHash: HASH,
  transactionIndex: '0x0',
  blockHash: HASH,
  blockNumber: '0x1',
  from: '0x' + '11'.repeat(20),
  to: null,
  cumulativeGasUsed: '0x5208',
  gasUsed: '0x5208',
  effectiveGasPrice: '0x0',
  contractAddress: null,
  logs: [],
  logsBloom: '0x' + '00'.repeat(256),
  type: '0x0',
  status: '0x1',
};

const head = (n: number) => ({ number: '0x' + n.toString(16), hash: '0x' + n.toString(16).padStart(64, '0'), stateRoot: ZERO_HASH, timestamp: '0x1', gasLimit: '0x1c9c380' });

describe('gateway bus backend', () => {
  it('loads the head at start, follows blockExecuted, never goes backwards', async () => {
    const f = fakeBus((subject, q) => (subject === subjects.ledgerQuery(scope) && q.kind === 'head' ? head(5) : null));
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 60_000 });
    await b.start();
    assert.equal((await b.head()).number, '0x5');
    f.emit(subjects.blockExecuted(scope), { ...head(7), gasUsed: '0x0', transactions: [], dropped: [] });
    assert.equal((await b.head()).number, '0x7');
    assert.equal(f.requests.length, 1, 'the cached head served without a query');
    assert.equal((await b.head({ fresh: true })).number, '0x7', 'a stale query answer does not move the head back');
  });

  it('survives a ledger that is not up at start', async () => {
    let up = false;
    const f = fakeBus(() => {
      if (!up) throw new CodedError(ErrorCode.Unavailable, 'no responder');
      return head(2);
    });
    const b = createBusBackend(f.bus, { log: silentLog, retry: quickRetry });
    await b.start();
    await assert.rejects(b.head(), { code: ErrorCode.Unavailable });
    up = true;
    assert.equal((await b.head()).number, '0x2');
  });

  it('account reads arriving together at one block become one request; each caller gets its own account', async () => {
    const f = fakeBus((subject, p) =>
      subject === subjects.stateRead(scope) && p.kind === 'accounts'
        ? p.addresses.map((a: string, i: number) => ({ nonce: '0x' + (i + 1).toString(16), balance: '0x0', codeHash: ZERO_HASH, storageRoot: ZERO_HASH }))
        : null,
    );
    const b = createBusBackend(f.bus, { log: silentLog });
    const addrs = ['0x' + '11'.repeat(20), '0x' + '22'.repeat(20), '0x' + '33'.repeat(20)];
    const got = await Promise.all([...addrs, addrs[0]].map((a) => b.account(a, 5n)));
    assert.deepEqual(got.map((a) => a?.nonce), ['0x1', '0x2', '0x3', '0x1']);
    assert.deepEqual(f.requests.map((r) => r.payload), [{ kind: 'accounts', addresses: addrs, block: '0x5' }]);
  });

  it('request shapes: ledger queries, state reads with block numbers, pool nonce, status', async () => {
    const f = fakeBus((subject, p) => {
      if (subject === subjects.stateRead(scope)) return p.kind === 'accounts' ? p.addresses.map(() => null) : p.kind === 'code' ? '0x6000' : ZERO_HASH;
      if (subject === subjects.poolNonce(scope)) return { nextNonce: '0x9' };
      if (subject === subjects.ledgerQuery(scope)) return p.kind === 'estimateGas' ? '0x5208' : p.kind === 'logs' ? [] : null;
      return null;
    });
    const b = createBusBackend(f.bus, { log: silentLog });
    const addr = '0x' + '11'.repeat(20);
    assert.equal(await b.account(addr, 16n), null);
    assert.equal(await b.code(addr, 16n), '0x6000');
    assert.equal(await b.storage(addr, ZERO_HASH, 3n), ZERO_HASH);
    assert.equal(await b.poolNonce(addr), 9n);
    assert.equal(await b.estimateGas({ to: addr }, 'latest'), '0x5208');
    assert.equal(await b.blockByNumber('0x1', true), null);
    assert.deepEqual(await b.logs({ fromBlock: '0x1' }), []);
    assert.deepEqual(
      f.requests.map((r) => [r.subject, r.payload]),
      [
        [subjects.stateRead(scope), { kind: 'accounts', addresses: [addr], block: '0x10' }],
        [subjects.stateRead(scope), { kind: 'code', address: addr, block: '0x10' }],
        [subjects.stateRead(scope), { kind: 'storage', address: addr, slot: ZERO_HASH, block: '0x3' }],
        [subjects.poolNonce(scope), { address: addr }],
        [subjects.ledgerQuery(scope), { kind: 'estimateGas', call: { to: addr }, block: 'latest' }],
        [subjects.ledgerQuery(scope), { kind: 'blockByNumber', block: '0x1', fullTransactions: true }],
        [subjects.ledgerQuery(scope), { kind: 'logs', filter: { fromBlock: '0x1' } }],
      ],
    );
  });

  it('a reply of the wrong shape is an Internal error, not the client\'s invalid input', async () => {
    const f = fakeBus(() => ({ number: 'five' }));
    const b = createBusBackend(f.bus, { log: silentLog });
    await assert.rejects(b.head(), (e: CodedError) => e.code === ErrorCode.Internal && /unexpected reply to ledger head/.test(e.message));
  });

  it('submissions are batched into SubmitTransactions on the consensus subject', async () => {
    const f = fakeBus((subject, p) => {
      assert.equal(subject, subjects.submitTxs(scope));
      return { accepted: p.transactions.slice(0, 1).map((t: { hash: string }) => t.hash) };
    });
    const b = createBusBackend(f.bus, { log: silentLog, batching: { windowMs: 5 } });
    const tx = (i: number) => ({ raw: '0x01', hash: '0x' + String(i).padStart(64, '0'), from: '0x' + '11'.repeat(20), nonce: '0x' + i, gasLimit: '0x5208', accountNonce: '0x0' });
    const outcomes = await Promise.allSettled([b.submit(tx(1)), b.submit(tx(2))]);
    assert.equal(f.requests.length, 1);
    assert.deepEqual(f.requests[0].payload, { transactions: [tx(1), tx(2)] });
    assert.equal(outcomes[0].status, 'fulfilled');
    assert.equal(outcomes[1].status, 'rejected');
  });

  it('a read that meets Unavailable twice and then an answer is answered', async () => {
    let calls = 0;
    const f = fakeBus((subject, q) => {
      assert.equal(subject, subjects.ledgerQuery(scope));
      assert.equal(q.kind, 'receipt');
      if (++calls <= 2) throw calls === 1 ? new NoResponderError(subject) : new CodedError(ErrorCode.Unavailable, `timed out waiting for ${subject}`);
      return receipt;
    });
    const b = createBusBackend(f.bus, { log: silentLog, retry: quickRetry });
    assert.deepEqual(await b.receipt(HASH), receipt);
    assert.equal(calls, 3);
  });

  it('a read that stays unavailable is answered -32000 "temporarily unavailable, retry" after the budget, never -32603', async () => {
    const f = fakeBus((subject, q) => {
      if (subject === subjects.ledgerQuery(scope) && q.kind === 'head') return head(3);
      throw new CodedError(ErrorCode.Unavailable, `timed out waiting for ${subject}`);
    });
    const b = createBusBackend(f.bus, { log: silentLog, retry: quickRetry, headMaxAgeMs: 60_000 });
    await b.start();
    const t0 = performance.now();
    await assert.rejects(b.receipt(HASH), (e: CodedError) => e.code === ErrorCode.Unavailable && /^ledger receipt: timed out .* attempts in \d+ ms\)$/.test(e.message));
    const took = performance.now() - t0;
    assert.ok(took >= 150 && took < 1000, `gave up after ${took} ms (budget 200)`);
    assert.ok(f.requests.filter((r) => r.payload.kind === 'receipt').length >= 3, 'asked again');

    // The same through the JSON-RPC methods: every read method answers the coded error, with no detail.
    const methods = createMethods({ backend: b, accounts: createAccounts([], common), common, participant: 'p1' });
    const rpc = createDispatcher(methods, { log: silentLog });
    const addr = '0x' + '11'.repeat(20);
    for (const [method, params] of [
      ['eth_getTransactionReceipt', [HASH]],
      ['eth_getTransactionByHash', [HASH]],
      ['eth_getBlockByNumber', ['latest', false]],
      ['eth_getBlockByHash', [HASH, false]],
      ['eth_getBalance', [addr, 'latest']],
      ['eth_getTransactionCount', [addr, 'latest']],
      ['eth_getCode', [addr, 'latest']],
      ['eth_getStorageAt', [addr, '0x0', 'latest']],
      ['eth_call', [{ to: addr }, 'latest']],
      ['eth_getLogs', [{ fromBlock: '0x0' }]],
    ] as const) {
      const res = (await rpc.handle(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }))) as { error?: unknown };
      assert.deepEqual(res.error, { code: -32000, message: 'temporarily unavailable, retry' }, method);
    }
    assert.equal(await methods.eth_blockNumber([], { setAttribute: () => undefined }), '0x3', 'the head is still served from the gateway');
  });

  it('a submission that timed out is not sent again; one that reached no one is', async () => {
    const tx = { raw: '0x01', hash: HASH, from: '0x' + '11'.repeat(20), nonce: '0x0', gasLimit: '0x5208', accountNonce: '0x0' };
    const timedOut = fakeBus((subject) => {
      throw new CodedError(ErrorCode.Unavailable, `timed out waiting for ${subject}`);
    });
    const b1 = createBusBackend(timedOut.bus, { log: silentLog, retry: quickRetry, batching: { windowMs: 1 } });
    await assert.rejects(b1.submit(tx), { code: ErrorCode.Unavailable });
    assert.equal(timedOut.requests.length, 1, 'a submission that may have been received is sent once');

    let calls = 0;
    const away = fakeBus((subject) => {
      if (++calls === 1) throw new NoResponderError(subject);
      return { accepted: [HASH] };
    });
    const b2 = createBusBackend(away.bus, { log: silentLog, retry: quickRetry, batching: { windowMs: 1 } });
    await b2.submit(tx);
    assert.equal(away.requests.length, 2);
  });

  it('the head follows blockExecuted without the ledger, and "latest" resolves to it', async () => {
    const f = fakeBus((subject, q) => {
      if (q.kind === 'head') return head(5);
      if (q.kind === 'blockByNumber') return block(Number(BigInt(q.block)));
      return null;
    });
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 60_000 });
    await b.start();
    for (let n = 6; n <= 9; n++) f.emit(subjects.blockExecuted(scope), { ...head(n), gasUsed: '0x0', transactions: [], dropped: [] });
    assert.equal((await b.head()).number, '0x9');
    assert.equal((await b.blockByNumber('latest', false))?.number, '0x9');
    assert.deepEqual(
      f.requests.map((r) => r.payload),
      [{ kind: 'head' }, { kind: 'blockByNumber', block: '0x9', fullTransactions: false }],
      'one head query at start, then only the block',
    );
  });

  it('a stale head is answered from the cache when the ledger is slow to confirm it', async () => {
    let up = true;
    const f = fakeBus(async () => {
      if (up) return head(4);
      await new Promise((r) => setTimeout(r, 1_000));
      throw new CodedError(ErrorCode.Unavailable, 'timed out');
    });
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 0, staleHeadWaitMs: 20, retry: quickRetry });
    await b.start();
    up = false;
    const t0 = performance.now();
    assert.equal((await b.head()).number, '0x4');
    assert.ok(performance.now() - t0 < 500);
  });

  it('blocks are served from a bounded cache: one request per block, by number or hash, for every caller', async () => {
    const f = fakeBus((subject, q) => {
      if (q.kind === 'head') return head(9);
      if (q.kind === 'blockByNumber') return BigInt(q.block) > 9n ? null : block(Number(BigInt(q.block)));
      if (q.kind === 'blockByHash') return block(Number(BigInt(q.hash)));
      return null;
    });
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 60_000, blockCache: { maxEntries: 4 } });
    await b.start();
    const asked = () => f.requests.filter((r) => r.payload.kind !== 'head').length;

    const together = await Promise.all([b.blockByNumber('0x7', false), b.blockByNumber('0x7', false), b.blockByNumber('latest', false)]);
    assert.deepEqual(together.map((x) => x?.number), ['0x7', '0x7', '0x9']);
    assert.equal(asked(), 2, 'concurrent reads of one block are one request');
    assert.equal((await b.blockByHash(block(7).hash, false))?.number, '0x7');
    assert.equal((await b.blockByNumber('0x9', false))?.number, '0x9');
    assert.equal(asked(), 2, 'served from the cache, by hash and by number');
    assert.equal((await b.blockByNumber('0x7', true))?.number, '0x7');
    assert.equal(asked(), 3, 'full transactions are another entry');

    assert.equal(await b.blockByNumber('0xa', false), null);
    assert.equal(await b.blockByNumber('0xa', false), null);
    assert.equal(asked(), 5, 'a block not there yet is not cached');

    for (let n = 1; n <= 4; n++) await b.blockByNumber(quantityOf(n), false); // 4 blocks = 8 entries: 0x7 and 0x9 go
    const before = asked();
    await b.blockByNumber('0x7', false);
    assert.equal(asked(), before + 1, 'the cache is bounded');
  });

  it('a wallet polling its receipt: "not yet" comes from blockExecuted events, the receipt from the ledger once, then the cache', async () => {
    let landedIn: number | null = null;
    const f = fakeBus((subject, q) => {
      if (q.kind === 'head') return head(5);
      if (q.kind === 'receipt') return landedIn === null || q.hash.toLowerCase() !== HASH ? null : { ...receipt, blockNumber: quantityOf(landedIn) };
      return null;
    });
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 60_000 });
    await b.start();
    const asked = () => f.requests.filter((r) => r.payload.kind === 'receipt').length;
    const executed = (n: number, transactions: string[] = []) => f.emit(subjects.blockExecuted(scope), { ...head(n), gasUsed: '0x0', transactions, dropped: [] });

    assert.equal(await b.receipt(HASH), null);
    assert.equal(asked(), 1);
    for (let n = 6; n <= 8; n++) {
      executed(n, ['0x' + String(n).padStart(64, '0')]);
      assert.equal(await b.receipt(HASH), null);
      assert.equal(await b.receipt(HASH.toUpperCase().replace('0X', '0x')), null);
    }
    assert.equal(asked(), 1, 'blocks without the transaction: answered without the ledger');

    landedIn = 9;
    executed(9, [HASH]);
    const got = await Promise.all([b.receipt(HASH), b.receipt(HASH)]);
    assert.deepEqual(got.map((r) => r?.blockNumber), ['0x9', '0x9']);
    assert.equal(asked(), 2, 'it landed: one request for both callers');
    assert.equal((await b.receipt(HASH))?.blockNumber, '0x9');
    assert.equal(asked(), 2, 'a receipt is final: served from the cache');

    const other = '0x' + 'cd'.repeat(32);
    assert.equal(await b.receipt(other), null);
    executed(11, []); // block 10 was missed: the gateway cannot vouch for it
    assert.equal(await b.receipt(other), null);
    assert.equal(asked(), 4, 'after a gap in the events the ledger is asked again');
  });

  it('receipts sent with a block are served from the cache: the ledger is not asked per transaction', async () => {
    const f = fakeBus((subject, q) => (q.kind === 'head' ? head(5) : null));
    const b = createBusBackend(f.bus, { log: silentLog, headMaxAgeMs: 60_000 });
    await b.start();
    const asked = () => f.requests.filter((r) => r.payload.kind === 'receipt').length;
    assert.equal(await b.receipt(HASH), null);
    assert.equal(asked(), 1);
    f.emit(subjects.blockReceipts(scope), { number: '0x6', receipts: [{ ...receipt, blockNumber: '0x6' }] });
    f.emit(subjects.blockExecuted(scope), { ...head(6), gasUsed: '0x0', transactions: [HASH], dropped: [] });
    assert.equal((await b.receipt(HASH))?.blockNumber, '0x6');
    assert.equal(asked(), 1, 'the receipt came with the block');
  });
});
