import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ZodType } from 'zod';
import { createBusBackend } from '../../actors/gateway/backend.js';
import type { Bus, HandlerContext } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { subjects } from '../../lib/subjects.js';
import { ZERO_HASH, silentLog } from './gateway-fakes.js';

const scope = { net: 'devnet', participant: 'p1' };

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
    serve: () => undefined,
    subscribe<T>(subject: string, schema: ZodType<T>, handler: (msg: T, ctx: HandlerContext) => Promise<void> | void) {
      subs.set(subject, (msg) => void handler(schema.parse(msg), { subject, traceparent: null }));
    },
    close: async () => undefined,
  };
  return { bus, requests, emit: (subject: string, msg: unknown) => subs.get(subject)?.(msg) };
}

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
    const b = createBusBackend(f.bus, { log: silentLog });
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
});
