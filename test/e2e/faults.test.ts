/**
 * Faults: the Raft leader's consensus actor is killed in the middle of a load; one participant's executor and
 * state store are killed together; then the whole network is stopped and resumed from its directory and databases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract, ContractFactory, Interface, Wallet, type InterfaceAbi } from 'ethers';
import { compileSimpleStorage } from '../support/contracts.js';
import { describeValue, q, signLegacy, sleep, useNetwork, waitFor, withDeadline } from '../support/network.js';
import { membershipRaftTests } from './membership-raft.js';
import { agreedHead, assertExactlyOnce, assertSameBalances, blockTxs, loadFinished, planTransfers, sendUntilAccepted, startResendingLoad } from '../support/load.js';

const WALLETS = 8;
// Key WALLETS is the contract's; key WALLETS + 1 is the membership scenario's (run last, on the same network).
const h = useNetwork('faults', { testKeys: WALLETS + 2 });
const compiled = compileSimpleStorage();
const SS = { abi: compiled.abi as InterfaceAbi, bytecode: compiled.bytecode };
const ssIface = new Interface(SS.abi);

let ssAddress: string | undefined;
let ssValue = 0n;
const recipients: string[] = Array.from({ length: 8 }, () => Wallet.createRandom().address);

test('setup: SimpleStorage deployed and set', { timeout: 120_000 }, async () => {
  const t = h.t;
  const w = t.testWallet(WALLETS, 0); // the last test key is reserved for contract calls
  const c = await withDeadline(new ContractFactory(SS.abi, SS.bytecode, w).deploy(7), 60_000, 'deploy SimpleStorage via p1');
  const r = await c.deploymentTransaction()!.wait(1, 60_000);
  assert.equal(r?.status, 1);
  ssAddress = await c.getAddress();
  const tx = await withDeadline<any>((c as Contract).set(77), 60_000, 'set(77)');
  assert.equal((await tx.wait(1, 60_000))?.status, 1);
  await t.receiptsEverywhere(tx.hash);
  ssValue = 77n;
});

test('killing the leader’s consensus under load: a new leader, every accepted tx in exactly one block', { timeout: 300_000 }, async (tt) => {
  const t = h.t;
  const TOTAL = 200;
  const load = { spacingMs: 50, perTxDeadlineMs: 60_000 }; // ~10 s of load

  const start = await agreedHead(t);
  const leader = await waitFor(() => t.rpc<string>(0, 'raft_leader'), 30_000, 'raft_leader on p1');
  assert.ok(t.net.network.participants.some((p) => p.id === leader), `raft_leader returned ${describeValue(leader)}, not a participant id`);

  // pre-signed: tx j is from wallet j % WALLETS; wallet k always goes through gateway k % 4
  const wallets = Array.from({ length: WALLETS }, (_, k) => t.testWallet(k, k % t.size));
  const plan = await planTransfers(t, wallets, TOTAL, recipients);
  const running = startResendingLoad(t, plan, load);

  // a third of the way in (a third of the load acknowledged), kill the leader's consensus actor
  await waitFor(() => running.sent.length >= TOTAL / 3, 60_000, `a third of ${TOTAL} transactions acknowledged`, 20);
  const killedAt = Date.now();
  await t.net.kill(leader, 'consensus', 'SIGKILL');
  const others = t.urls.map((_, i) => i).filter((i) => t.participantId(i) !== leader);
  const newLeader = await waitFor(
    async () => {
      const ls = await Promise.all(others.map((i) => t.rpc<string>(i, 'raft_leader')));
      return ls.every((l) => l === ls[0]) && ls[0] && ls[0] !== leader ? ls[0] : undefined;
    },
    60_000,
    `a new leader (not ${leader}) named by ${others.map((i) => t.participantId(i)).join(', ')}`,
    200,
  );
  assert.notEqual(newLeader, leader);
  tt.diagnostic(`killed ${leader}/consensus ${Date.now() - running.t0} ms into the load; ${newLeader} leads ${Date.now() - killedAt} ms after the kill`);

  await loadFinished(running, plan, load, (m) => tt.diagnostic(m));

  // every acknowledged tx has the same receipt on all four gateways (the killed one is restarted and catches up),
  // and the blocks after `start` hold exactly those txs, each once
  const end = await assertExactlyOnce(t, running.sent, {
    start,
    diagnostic: (m) => tt.diagnostic(m),
    explain: async (s) => {
      const addr = wallets[s.wallet].address;
      const view = await Promise.all(
        t.urls.map(async (_, i) => {
          const [known, latest, pending] = await Promise.all([
            t.rpc(i, 'eth_getTransactionByHash', [s.hash]).then((x) => (x ? `known (block ${x.blockNumber})` : 'unknown'), (e) => `error ${(e as Error).message}`),
            t.rpc(i, 'eth_getTransactionCount', [addr, 'latest']).then(Number, () => NaN),
            t.rpc(i, 'eth_getTransactionCount', [addr, 'pending']).then(Number, () => NaN),
          ]);
          return `${t.participantId(i)}: tx ${known}, sender nonce latest ${latest} pending ${pending}`;
        }),
      );
      const leaders = await Promise.all(t.urls.map((_, i) => t.rpc(i, 'raft_leader').catch((e) => `error ${(e as Error).message}`)));
      return `acknowledged ${s.ackAt - running.t0} ms into the load; ${leader}/consensus was killed ${killedAt - running.t0} ms in\n  ${view.join('\n  ')}\n  raft_leader: ${leaders.join(', ')}`;
    },
  });
  // and the killed participant agrees on balances
  await assertSameBalances(t, recipients, end.number);
  // the network still takes transactions
  const w = t.testWallet(0, t.indexOf(leader));
  const raw = await signLegacy(w, t.chainId, { nonce: await w.provider!.getTransactionCount(w.address, 'pending'), to: recipients[0], value: 1n, gasLimit: 21_000 });
  const hash = await sendUntilAccepted(t, t.indexOf(leader), raw, 60_000, `the old leader ${leader}'s gateway to accept a tx again`);
  await t.receiptsEverywhere(hash, 60_000);
});

test('killing one participant\'s executor and state store mid-load: they come back, catch up and agree', { timeout: 300_000 }, async () => {
  const t = h.t;
  assert.ok(ssAddress, 'SimpleStorage was not deployed (setup failed)');
  const victim = t.participantId(2);
  const hashes: string[] = [];
  const cw = t.testWallet(WALLETS, 3);
  let nonce = await cw.provider!.getTransactionCount(cw.address, 'pending');
  for (let k = 0; k < 12; k++) {
    if (k === 4) {
      // both at once: the executor must re-fetch trie nodes from a state store that reloads from Postgres
      await Promise.all([t.net.kill(victim, 'executor', 'SIGKILL'), t.net.kill(victim, 'state', 'SIGKILL')]);
    }
    const raw = await signLegacy(cw, t.chainId, { nonce: nonce++, to: ssAddress, data: ssIface.encodeFunctionData('set', [100 + k]), gasLimit: 100_000 });
    hashes.push(await waitFor(() => t.rpc<string>(k % 2, 'eth_sendRawTransaction', [raw]), 30_000, `set(${100 + k}) accepted`, 200));
    await sleep(100);
  }
  ssValue = 111n;
  for (const hash of hashes) {
    const rs = await t.receiptsEverywhere(hash, 90_000);
    rs.forEach((r, i) => assert.equal(r.status, '0x1', `${hash} on ${t.participantId(i)}`));
  }
  const head = await agreedHead(t, 90_000);
  const roots = await Promise.all(t.urls.map((_, i) => t.rpc(i, 'eth_getBlockByNumber', ['0x' + head.number.toString(16), false])));
  roots.forEach((b, i) => assert.equal(b.stateRoot, roots[0].stateRoot, `state root on ${t.participantId(i)}`));
  for (let i = 0; i < t.size; i++) {
    assert.equal(await new Contract(ssAddress, SS.abi, t.providers[i]).get(), 111n, `get() on ${t.participantId(i)} after ${victim}'s ledger restarted`);
  }
});

test('stop and resume from the same dir: the chain is back and takes new transactions', { timeout: 300_000 }, async () => {
  const t = h.t;
  assert.ok(ssAddress, 'SimpleStorage was not deployed (setup failed)');
  const before = await agreedHead(t);
  const watched = [...recipients, ...t.testKeys.map((k) => new Wallet(k).address)];
  const balances = await Promise.all(watched.map((a) => t.providers[0].getBalance(a, before.number)));
  const nonces = await Promise.all(watched.map((a) => t.providers[0].getTransactionCount(a, before.number)));
  assert.equal(await new Contract(ssAddress, SS.abi, t.providers[0]).get(), ssValue);

  await withDeadline(t.restart(), 240_000, 'net.stop() and startNetwork({ dir }) again');

  for (let i = 0; i < t.size; i++) {
    const where = t.participantId(i);
    await t.waitForHeight(i, before.number, 60_000);
    const head = await t.rpc(i, 'eth_getBlockByNumber', ['latest', false]);
    if (Number(q(head.number)) !== before.number) {
      const extra: string[] = [];
      for (let n = before.number + 1; n <= Number(q(head.number)); n++) extra.push(`block ${n}: ${(await blockTxs(t, i, n)).txs.join(', ')}`);
      assert.fail(`${where}: head is ${Number(q(head.number))} after resume, was ${before.number}, though nothing was sent (transactions left in a pool from before the stop?) ${extra.join('; ')}`);
    }
    assert.equal(head.hash, before.hash, `${where}: head hash after resume`);
    const got = await Promise.all(watched.map((a) => t.providers[i].getBalance(a)));
    got.forEach((b, j) => assert.equal(b, balances[j], `${where}: balance of ${watched[j]} after resume`));
    const gotNonces = await Promise.all(watched.map((a) => t.providers[i].getTransactionCount(a, 'latest')));
    gotNonces.forEach((n, j) => assert.equal(n, nonces[j], `${where}: nonce of ${watched[j]} after resume`));
    assert.equal(await new Contract(ssAddress, SS.abi, t.providers[i]).get(), ssValue, `${where}: SimpleStorage value after resume`);
  }
  await waitFor(async () => {
    const ls = await Promise.all(t.urls.map((_, i) => t.rpc<string>(i, 'raft_leader')));
    return ls.every((l) => l && l === ls[0]) ? ls[0] : undefined;
  }, 60_000, 'a leader after resume, named by all');

  // new transactions work: a transfer via p3 and set(78) via p2
  const w = t.testWallet(1, 2);
  const raw = await signLegacy(w, t.chainId, { nonce: await w.provider!.getTransactionCount(w.address, 'pending'), to: recipients[1], value: 5n, gasLimit: 21_000 });
  const transferHash = await waitFor(() => t.rpc<string>(2, 'eth_sendRawTransaction', [raw]), 60_000, 'p3 to accept a transfer after resume', 500);
  const cw = t.testWallet(WALLETS, 1);
  const setRaw = await signLegacy(cw, t.chainId, { nonce: await cw.provider!.getTransactionCount(cw.address, 'pending'), to: ssAddress, data: ssIface.encodeFunctionData('set', [78]), gasLimit: 100_000 });
  const setHash = await t.rpc<string>(1, 'eth_sendRawTransaction', [setRaw]);
  for (const hash of [transferHash, setHash]) {
    const rs = await t.receiptsEverywhere(hash, 60_000);
    rs.forEach((r, i) => assert.equal(r.status, '0x1', `${hash} on ${t.participantId(i)}`));
    assert.ok(Number(q(rs[0].blockNumber)) > before.number, 'new blocks extend the old chain');
  }
  ssValue = 78n;
  const after = await agreedHead(t);
  const next = await t.rpc(0, 'eth_getBlockByNumber', ['0x' + (before.number + 1).toString(16), false]);
  assert.equal(next.parentHash, before.hash, 'the first new block links to the head from before the restart');
  for (let i = 0; i < t.size; i++) {
    assert.equal(await new Contract(ssAddress, SS.abi, t.providers[i]).get(), 78n, `get() on ${t.participantId(i)} after resume + set(78)`);
    assert.equal(await t.providers[i].getBalance(recipients[1], after.number), balances[1] + 5n, `recipient balance on ${t.participantId(i)}`);
  }
});

// Then Raft membership on the same network (one network start less for the suite).
membershipRaftTests(h, WALLETS + 1);
