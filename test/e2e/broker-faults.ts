/**
 * The broker and the consensus quorum fail under load from clients that resend what is refused (issue #6):
 *  - kill -9 of the nats-server: the launcher starts it again on the same port, every actor's connection comes
 *    back on its own (no actor restarts), and nothing acknowledged before the crash is lost;
 *  - 2 of 4 consensus actors stopped: no block is made and nothing forks, a gateway without its consensus answers
 *    a clear JSON-RPC error, and blocks resume when one of the two comes back.
 * After each: every acknowledged tx in exactly one block, the same on every participant, and one head and state
 * root everywhere. Registered by infrastructure-faults.test.ts on its network (one network start for all of them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wallet } from 'ethers';
import { RpcError, describeValue, waitFor, type TestNetwork } from '../support/network.js';
import { agreedHead, assertExactlyOnce, assertSameBalances, heads, loadFinished, planTransfers, startResendingLoad } from '../support/load.js';

/** Test keys these scenarios use (the network must hold at least as many). */
export const BROKER_FAULT_WALLETS = 8;
const WALLETS = BROKER_FAULT_WALLETS;
const recipients: string[] = Array.from({ length: 8 }, () => Wallet.createRandom().address);

export function brokerFaultTests(h: { readonly t: TestNetwork }): void {

  test('kill -9 of the nats-server under load: restarted, every actor reconnects, no acknowledged tx lost or doubled', { timeout: 300_000 }, async (tt) => {
    const t = h.t;
    const load = { spacingMs: 40, perTxDeadlineMs: 60_000 };
    const start = await agreedHead(t);
    const wallets = Array.from({ length: WALLETS }, (_, k) => t.testWallet(k, k % t.size));
    const plan = await planTransfers(t, wallets, 120, recipients);
    const before = t.net.broker();
    const restartsBefore = new Map(t.net.processes().map((p) => [`${p.participant}/${p.actor}`, p.restarts]));

    const running = startResendingLoad(t, plan, load);
    await waitFor(() => running.sent.length >= plan.length / 4, 60_000, 'a quarter of the load acknowledged', 20);
    const ackedBeforeKill = running.sent.length;
    await t.net.killBroker('SIGKILL');
    const killedAt = Date.now();
    const after = await waitFor(() => {
      const b = t.net.broker();
      return b.running && b.pid !== before.pid ? b : undefined;
    }, 30_000, 'the launcher to start the nats-server again', 20);
    assert.equal(after.restarts, before.restarts + 1);
    tt.diagnostic(`nats-server killed ${killedAt - running.t0} ms into the load (${ackedBeforeKill} acknowledged), back as pid ${after.pid} ${Date.now() - killedAt} ms later`);

    await loadFinished(running, plan, load, (m) => tt.diagnostic(m));
    const end = await assertExactlyOnce(t, running.sent, { start, diagnostic: (m) => tt.diagnostic(m) });
    await assertSameBalances(t, recipients, end.number);
    // The actors rode it out on their connections: none of them had to be restarted (since the kill: an earlier
    // scenario on this network may have restarted some).
    const restarted = t.net.processes().filter((p) => p.restarts > (restartsBefore.get(`${p.participant}/${p.actor}`) ?? 0));
    assert.deepEqual(restarted.map((p) => `${p.participant}/${p.actor}`), [], 'actors restarted after the broker was killed');
  });

  test('2 of 4 consensus actors stopped under load: no block, no fork, clear refusals; blocks resume when one is back', { timeout: 300_000 }, async (tt) => {
    const t = h.t;
    const load = { spacingMs: 40, perTxDeadlineMs: 150_000 };
    const start = await agreedHead(t);
    const wallets = Array.from({ length: WALLETS }, (_, k) => t.testWallet(k, k % t.size));
    const plan = await planTransfers(t, wallets, 80, recipients);

    // The Raft leader and one follower: the two left can neither commit nor elect.
    const leader = await t.rpc<string>(0, 'raft_leader').catch(() => t.participantId(0));
    const follower = t.net.network.participants.map((p) => p.id).find((id) => id !== leader)!;
    const down = [leader, follower];
    const downIdx = down.map((id) => t.indexOf(id));
    const upIdx = t.urls.map((_, i) => i).filter((i) => !downIdx.includes(i));

    const running = startResendingLoad(t, plan, load);
    await waitFor(() => running.sent.length >= 10, 60_000, 'the load to be acknowledged', 20);
    await Promise.all(down.map((id) => t.net.stopActor(id, 'consensus')));
    const stoppedAt = Date.now();

    // The participants that keep their consensus take their clients' transactions (stored in the pool); a
    // gateway without its consensus refuses with a JSON-RPC error its client can act on.
    const viaUp = plan.filter((p) => upIdx.includes(p.k % t.size));
    await waitFor(() => viaUp.every((p) => running.sent.some((s) => s.hash === p.hash)), 60_000, `the ${viaUp.length} txs sent through ${upIdx.map((i) => t.participantId(i)).join(', ')} to be acknowledged`, 50);
    // Where the heads stand now (seconds after the stop: a block final just before has been executed). They need
    // not be equal: a follower learns that a block is final from the leader, and the leader is gone.
    const frozen = await heads(t);
    const top = Math.max(...frozen.map((x) => x.number));
    tt.diagnostic(`stopped consensus of ${down.join(' and ')} ${stoppedAt - running.t0} ms into the load; heads ${frozen.map((x) => x.number).join(', ')}`);
    const stuck = plan.find((p) => downIdx.includes(p.k % t.size) && !running.sent.some((s) => s.hash === p.hash))!;
    assert.ok(stuck, 'every tx through a gateway without its consensus was acknowledged');
    const askedAt = Date.now();
    const refusal = await t.rpc(stuck.k % t.size, 'eth_sendRawTransaction', [stuck.raw], 60_000).then(
      (r) => assert.fail(`${t.participantId(stuck.k % t.size)} accepted ${describeValue(r)} without its consensus`),
      (e) => e,
    );
    assert.ok(refusal instanceof RpcError, `refusal is a JSON-RPC error: ${describeValue(refusal)}`);
    assert.equal(refusal.code, -32000, `refusal: ${refusal.message}`);
    assert.match(refusal.message, /unavailable/i);
    tt.diagnostic(`${t.participantId(stuck.k % t.size)} refused in ${Date.now() - askedAt} ms: ${refusal.message.replace(/^.*→ /, '')}`);

    // No block was made meanwhile, and nobody forked: every head is still where it was, all on one chain.
    const still = await heads(t);
    still.forEach((x, i) => assert.deepEqual(x, frozen[i], `${t.participantId(i)}'s head while 2 of 4 consensus actors were down`));
    const highest = still.findIndex((x) => x.number === top);
    for (const [i, x] of still.entries()) {
      const there = await t.rpc(highest, 'eth_getBlockByNumber', ['0x' + x.number.toString(16), false]);
      assert.equal(there?.hash, x.hash, `${t.participantId(i)}'s head ${x.number} is not on ${t.participantId(highest)}'s chain`);
    }

    // One comes back: three of four make blocks again (the pooled transactions first).
    const backAt = Date.now();
    t.net.startActor(follower, 'consensus');
    await Promise.all(upIdx.map((i) => t.waitForHeight(i, top + 1, 90_000)));
    tt.diagnostic(`${follower}/consensus back: blocks resumed ${Date.now() - backAt} ms later`);
    t.net.startActor(leader, 'consensus');

    await loadFinished(running, plan, load, (m) => tt.diagnostic(m));
    const end = await assertExactlyOnce(t, running.sent, { start, diagnostic: (m) => tt.diagnostic(m) });
    await assertSameBalances(t, recipients, end.number);
    // Nothing was proposed during the outage either: a block above the heads of the outage was proposed before the
    // stop (the old leader's last, committed by the new one) or after one consensus actor came back.
    const [stopSec, backSec] = [Math.floor(stoppedAt / 1000), Math.floor(backAt / 1000)];
    for (let n = top + 1; n <= end.number; n++) {
      const ts = Number((await t.rpc(0, 'eth_getBlockByNumber', ['0x' + n.toString(16), false])).timestamp);
      assert.ok(ts <= stopSec || ts >= backSec, `block ${n} has timestamp ${ts}, between the stop (${stopSec}) and the return (${backSec})`);
    }
  });
}
