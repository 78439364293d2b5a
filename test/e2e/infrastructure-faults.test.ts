/**
 * The infrastructure fails under load from clients that resend what is refused (issue #6), on one network whose
 * participants' Postgres is a private cluster: first the database, then the broker and the consensus quorum
 * (broker-faults.ts).
 *
 * A database outage is a short, clear pause: the participants' Postgres (a private cluster, never the
 * shared server) is stopped with `pg_ctl stop -m immediate` under a load whose clients resend refused
 * transactions, kept away for a few seconds and started again. While it is away the gateways answer -32000
 * 'temporarily unavailable, retry', never -32603; after it every actor is back, no acknowledged transaction is
 * lost or included twice, and all participants agree on head and state root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { agreedHead, assertExactlyOnce, assertSameBalances, loadFinished, planTransfers, sendUntilAccepted, startResendingLoad, type LoadOptions, type Sent } from '../support/load.js';
import { RpcError, signLegacy, sleep, waitFor, TestNetwork } from '../support/network.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { BROKER_FAULT_WALLETS, brokerFaultTests } from './broker-faults.js';

const WALLETS = 6;
const TOTAL = 240;
const SPACING_MS = 40; // ~25 tx/s for ~10 s
/** The database goes away once this many transactions of the load are acknowledged (about 2.5 s in). */
const OUTAGE_AFTER_TXS = 60;
const OUTAGE_MS = 6_000;
const LOAD: LoadOptions = { spacingMs: SPACING_MS, perTxDeadlineMs: 120_000, sendTimeoutMs: 30_000 };

let pg: PrivatePostgres | undefined;
let net: TestNetwork | undefined;

before(async () => {
  pg = await startPrivatePostgres('db-outage');
  net = await TestNetwork.start('infrafaults', { testKeys: Math.max(WALLETS + 1, BROKER_FAULT_WALLETS), postgresUrl: pg.url });
}, { timeout: 240_000 });

after(async () => {
  // The launcher drops the databases on destroy: the server must be up for that, even after a failed test.
  if (pg && !pg.running()) await pg.start().catch(() => undefined);
  if (net) await net.destroy().catch((err) => process.stderr.write(`database-outage: network destroy failed: ${(err as Error).message}\n`));
  if (pg) await pg.destroy();
}, { timeout: 180_000 });

/**
 * Polls every actor of every participant through the API that reaches it (as the launcher's readiness check does,
 * but every 100 ms with 2 s per call) until each has answered; returns, per participant, how long its slowest
 * actor took and which one it was.
 */
async function untilEveryActorAnswers(t: TestNetwork, deadlineMs: number): Promise<string[]> {
  const since = Date.now();
  const zero = '0x' + '00'.repeat(20);
  const unknownTx = '0x' + 'ee'.repeat(32);
  return Promise.all(
    t.urls.map(async (_, i) => {
      const ask = (method: string, params: unknown[]) => () => t.rpc(i, method, params, 2_000);
      const probes: [string, () => Promise<unknown>][] = [
        ['gateway', ask('eth_blockNumber', [])],
        ['executor', async () => (await ask('eth_getBlockByNumber', ['latest', false])()) && (await ask('eth_getTransactionReceipt', [unknownTx])()) === null],
        ['state', ask('eth_getBalance', [zero, 'latest'])],
        ['privateState', ask('eth_storageRoot', [zero, 'latest'])],
        ['consensus', async () => (await ask('eth_getTransactionCount', [zero, 'pending'])()) && (await ask('raft_leader', [])())],
        ['tm+enclave', async () => (await fetch(`${t.net.tmUrls[i]}/keys`, { signal: AbortSignal.timeout(2_000) })).ok],
      ];
      const times = await Promise.all(
        probes.map(async ([actor, probe]) => {
          await waitFor(probe, deadlineMs, `${t.participantId(i)}/${actor} to answer`, 100);
          return { actor, ms: Date.now() - since };
        }),
      );
      const slowest = times.reduce((x, y) => (y.ms > x.ms ? y : x));
      return `${t.participantId(i)} ${slowest.ms} ms (${slowest.actor} last)`;
    }),
  );
}

/** Errors the load met, by kind (`rpc <code>: <message>`), counted since `since` (a copy of an earlier count). */
const countSince = (seen: Map<string, number>, since: Map<string, number>, match: RegExp) =>
  [...seen].filter(([k]) => match.test(k)).reduce((n, [k, v]) => n + v - (since.get(k) ?? 0), 0);
const UNAVAILABLE = /^rpc -32000: .*temporarily unavailable, retry/;
const INTERNAL = /^rpc -32603/;

test('Postgres restarted under resending load: -32000 while away, every actor back, nothing lost or doubled, all agree', { timeout: 420_000 }, async (tt) => {
  const t = net!;
  const db = pg!;
  const recipients = Array.from({ length: 6 }, () => Wallet.createRandom().address);
  const start = await agreedHead(t);
  const wallets = Array.from({ length: WALLETS }, (_, k) => t.testWallet(k, k % t.size));
  const plan = await planTransfers(t, wallets, TOTAL, recipients);
  const load = startResendingLoad(t, plan, LOAD);
  load.done.catch(() => undefined); // awaited by loadFinished; a failure before that must not be an unhandled rejection

  // wallets polling the head and their receipts all along: reads must not fail as internal errors either
  const readErrors = new Map<string, number>();
  let loadDone = false;
  const readers = t.urls.map(async (_, i) => {
    while (!loadDone) {
      const last = load.sent.at(-1)?.hash;
      await Promise.all([
        t.rpc(i, 'eth_blockNumber', [], 30_000),
        t.rpc(i, 'eth_getBlockByNumber', ['latest', false], 30_000),
        last ? t.rpc(i, 'eth_getTransactionReceipt', [last], 30_000) : null,
      ]).catch((e) => {
        const key = e instanceof RpcError ? `rpc ${e.code}: ${e.message.replace(/^.*→ JSON-RPC error -?\d+: /, '')}` : `transport: ${(e as Error).message}`;
        readErrors.set(key, (readErrors.get(key) ?? 0) + 1);
      });
      await sleep(200);
    }
  });

  let probeSent: Sent | undefined;
  try {
    await waitFor(() => load.sent.length >= OUTAGE_AFTER_TXS, 60_000, `${OUTAGE_AFTER_TXS} transactions acknowledged before the outage`, 20);
    const stoppedAt = Date.now();
    await db.stop('immediate');
    const atStop = new Map(load.errorsSeen);
    tt.diagnostic(`postgres stopped (immediate) ${stoppedAt - load.t0} ms into the load`);
    // while it is away, submissions are refused as 'temporarily unavailable' (the resending clients see it)
    await waitFor(() => countSince(load.errorsSeen, atStop, UNAVAILABLE) > 0, OUTAGE_MS + 30_000, 'a submission refused with -32000 temporarily unavailable while the database is away');
    const awayFor = OUTAGE_MS - (Date.now() - stoppedAt);
    if (awayFor > 0) await sleep(awayFor);
    const whileAway = [...load.errorsSeen].map(([k, v]) => [k, v - (atStop.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    const frozen = Math.max(...(await Promise.all(t.urls.map((_, i) => t.blockNumber(i)))));
    await db.start();
    const backAt = Date.now();
    tt.diagnostic(`postgres back (queryable) after ${backAt - stoppedAt} ms away; heads were at most ${frozen}`);
    tt.diagnostic(`submission errors while the database was away: ${whileAway.map(([k, v]) => `${v}× ${k}`).join('; ')}`);

    // recovery: blocks are made and executed again on every participant, every actor answers again, and a new
    // transaction lands everywhere. The times are printed, not asserted (speed belongs in bench/).
    await waitFor(
      async () => (await Promise.all(t.urls.map((_, i) => t.rpc<string>(i, 'eth_blockNumber', [], 2_000)))).every((n) => Number(n) > frozen),
      60_000,
      `every participant to execute a block above ${frozen} after the database came back`,
      100,
    );
    const blocksMs = Date.now() - backAt;
    const answered = await untilEveryActorAnswers(t, 60_000);
    const probe = t.testWallet(WALLETS, 0);
    const probeNonce = await probe.provider!.getTransactionCount(probe.address, 'pending');
    const probeRaw = await signLegacy(probe, t.chainId, { nonce: probeNonce, to: recipients[0], value: 1n, gasLimit: 21_000 });
    const probeHash = await sendUntilAccepted(t, 0, probeRaw, 60_000, 'p1 to accept a transaction after the database came back');
    probeSent = { hash: probeHash, wallet: WALLETS, nonce: probeNonce, gateway: 0, ack: 'hash', ackAt: Date.now() };
    await t.receiptsEverywhere(probeHash, 60_000);
    const firstAcks = t.urls.map((_, gw) => load.sent.filter((x) => x.gateway === gw && x.ackAt >= backAt).reduce((m, x) => Math.min(m, x.ackAt - backAt), Infinity));
    tt.diagnostic(
      `recovery after the database is back: new blocks on every participant after ${blocksMs} ms; first acknowledged ` +
        `submission per gateway after ${firstAcks.map((ms) => (ms === Infinity ? '-' : `${ms} ms`)).join(', ')}; ` +
        `then every actor answered within: ${answered.join(', ')}; a new tx landed everywhere after ${Date.now() - backAt} ms`,
    );
    await loadFinished(load, plan, LOAD, (m) => tt.diagnostic(m));
  } finally {
    loadDone = true; // the readers stop, whatever failed
  }
  await Promise.all(readers);
  const readText = [...readErrors].map(([k, v]) => `${v}× ${k}`).join('; ') || 'none';
  tt.diagnostic(`read errors: ${readText}`);
  assert.equal(countSince(load.errorsSeen, new Map(), INTERNAL), 0, `submissions answered -32603: ${load.errorsText()}`);
  assert.equal(countSince(readErrors, new Map(), INTERNAL), 0, `reads answered -32603: ${readText}`);

  // no acknowledged transaction lost, none included twice; all agree on head, state root and balances
  const end = await assertExactlyOnce(t, [...load.sent, probeSent!], { start, diagnostic: (m) => tt.diagnostic(m) });
  await assertSameBalances(t, recipients, end.number);
});

brokerFaultTests({
  get t(): TestNetwork {
    if (!net) throw new Error('the network did not start');
    return net;
  },
});
