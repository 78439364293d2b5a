/**
 * Faults: the Raft leader's consensus actor is killed in the middle of a load; one participant's executor and
 * state store are killed together; then the whole network is stopped and resumed from its directory and databases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Contract, ContractFactory, Interface, Wallet, keccak256, type InterfaceAbi } from 'ethers';
import { compileSimpleStorage } from '../support/contracts.js';
import { RpcError, describeValue, q, signLegacy, sleep, useNetwork, waitFor, withDeadline, type TestNetwork } from '../support/network.js';

const WALLETS = 8;
const h = useNetwork('faults', { testKeys: WALLETS + 1 });
const compiled = compileSimpleStorage();
const SS = { abi: compiled.abi as InterfaceAbi, bytecode: compiled.bytecode };
const ssIface = new Interface(SS.abi);

let ssAddress: string | undefined;
let ssValue = 0n;
const recipients: string[] = Array.from({ length: 8 }, () => Wallet.createRandom().address);

async function heads(t: TestNetwork): Promise<{ number: number; hash: string }[]> {
  return Promise.all(
    t.urls.map(async (_, i) => {
      const b = await t.rpc(i, 'eth_getBlockByNumber', ['latest', false]);
      return { number: Number(q(b.number)), hash: b.hash as string };
    }),
  );
}

/** Waits until all gateways report the same head (number and hash); returns it. */
async function agreedHead(t: TestNetwork, deadlineMs = 60_000): Promise<{ number: number; hash: string }> {
  return waitFor(
    async () => {
      const hs = await heads(t);
      return hs.every((x) => x.number === hs[0].number && x.hash === hs[0].hash) ? hs[0] : undefined;
    },
    deadlineMs,
    'all gateways to report the same head',
    200,
  );
}

async function blockTxs(t: TestNetwork, i: number, n: number): Promise<{ hash: string; txs: string[] }> {
  const b = await t.rpc(i, 'eth_getBlockByNumber', ['0x' + n.toString(16), false]);
  assert.ok(b, `block ${n} missing on ${t.participantId(i)}`);
  return { hash: b.hash, txs: b.transactions as string[] };
}

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

interface Sent {
  hash: string;
  wallet: number;
  nonce: number;
  gateway: number;
  /** How the send was acknowledged: the gateway returned the hash, or a retry said it already had it. */
  ack: 'hash' | 'already-known';
  /** Date.now() of the acknowledgement. */
  ackAt: number;
}

test('killing the leader’s consensus under load: a new leader, every accepted tx in exactly one block', { timeout: 300_000 }, async (tt) => {
  const t = h.t;
  const TOTAL = 200;
  const SPACING_MS = 50; // ~10 s of load
  const PER_TX_DEADLINE_MS = 60_000;

  const start = await agreedHead(t);
  const leader = await waitFor(() => t.rpc<string>(0, 'raft_leader'), 30_000, 'raft_leader on p1');
  assert.ok(t.net.network.participants.some((p) => p.id === leader), `raft_leader returned ${describeValue(leader)}, not a participant id`);

  // pre-sign: tx j is from wallet j % WALLETS; wallet k always goes through gateway k % 4
  const wallets = Array.from({ length: WALLETS }, (_, k) => t.testWallet(k, k % t.size));
  const nonces = await Promise.all(wallets.map((w) => w.provider!.getTransactionCount(w.address, 'pending')));
  const plan: { j: number; k: number; nonce: number; raw: string; hash: string }[] = [];
  for (let j = 0; j < TOTAL; j++) {
    const k = j % WALLETS;
    const nonce = nonces[k]++;
    const raw = await signLegacy(wallets[k], t.chainId, { nonce, to: recipients[j % recipients.length], value: BigInt(j + 1), gasLimit: 21_000 });
    plan.push({ j, k, nonce, raw, hash: keccak256(raw) });
  }

  const sent: Sent[] = [];
  const failures: string[] = [];
  const errorsSeen = new Map<string, number>();
  const note = (e: unknown) => {
    const key = e instanceof RpcError ? `rpc ${e.code}: ${e.message.replace(/^.*→ /, '')}` : `transport: ${(e as Error).message}`;
    errorsSeen.set(key, (errorsSeen.get(key) ?? 0) + 1);
  };
  const t0 = Date.now();

  async function send(p: (typeof plan)[number]): Promise<void> {
    const gw = p.k % t.size;
    const deadline = Date.now() + PER_TX_DEADLINE_MS;
    let tried = false;
    for (;;) {
      try {
        const hash = await t.rpc<string>(gw, 'eth_sendRawTransaction', [p.raw], 10_000);
        assert.equal(hash, p.hash, `eth_sendRawTransaction on ${t.participantId(gw)} returned a hash that is not keccak256(raw)`);
        sent.push({ hash, wallet: p.k, nonce: p.nonce, gateway: gw, ack: 'hash', ackAt: Date.now() });
        return;
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        note(err);
        // a retry of the very same bytes may find that an earlier attempt got in
        if (tried && err instanceof RpcError && /already known|known transaction|nonce too low/i.test(err.message)) {
          sent.push({ hash: p.hash, wallet: p.k, nonce: p.nonce, gateway: gw, ack: 'already-known', ackAt: Date.now() });
          return;
        }
        tried = true;
        if (Date.now() > deadline) {
          failures.push(`tx ${p.j} (wallet ${p.k} nonce ${p.nonce}) via ${t.participantId(gw)}: ${describeValue(err)}`);
          return;
        }
        await sleep(250);
      }
    }
  }

  // each wallet sends its own txs in nonce order, each at its scheduled time; wallets run concurrently
  const loops = wallets.map(async (_, k) => {
    for (const p of plan.filter((x) => x.k === k)) {
      const due = t0 + p.j * SPACING_MS;
      if (Date.now() < due) await sleep(due - Date.now());
      await send(p);
      if (failures.length > 0) return; // this wallet's later nonces could not land anyway
    }
  });

  // a third of the way in, kill the leader's consensus actor
  await sleep((TOTAL / 3) * SPACING_MS);
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
  tt.diagnostic(`killed ${leader}/consensus ${Date.now() - t0} ms into the load; ${newLeader} leads ${Date.now() - killedAt} ms after the kill`);

  await withDeadline(Promise.all(loops), TOTAL * SPACING_MS + PER_TX_DEADLINE_MS * 2, 'the sender loops to finish');
  const errorsText = [...errorsSeen].map(([k, v]) => `${v}× ${k}`).join('; ') || 'none';
  tt.diagnostic(`send errors retried: ${errorsText}`);
  assert.deepEqual(failures, [], `some transactions were never accepted (errors seen: ${errorsText})`);
  assert.equal(sent.length, TOTAL, `sent ${sent.length} of ${TOTAL} (errors seen: ${errorsText})`);

  // every acknowledged tx has the same receipt on all four gateways (the killed one is restarted and catches up)
  const blockOf = new Map<string, number>();
  for (const s of sent) {
    const receipts = await t.receiptsEverywhere(s.hash, 120_000).catch(async (err) => {
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
      throw new Error(
        `acknowledged tx ${s.hash} (wallet ${s.wallet} nonce ${s.nonce}, sent via ${t.participantId(s.gateway)} ${s.ackAt - t0} ms into the load, ` +
          `ack ${s.ack}; ${leader}/consensus was killed ${killedAt - t0} ms in) did not land: ${(err as Error).message}\n  ${view.join('\n  ')}\n  raft_leader: ${leaders.join(', ')}`,
      );
    });
    receipts.forEach((r, i) => {
      assert.equal(r.status, '0x1', `tx ${s.hash} on ${t.participantId(i)}: status`);
      assert.equal(r.blockHash, receipts[0].blockHash, `tx ${s.hash}: blockHash on ${t.participantId(i)} differs from p1`);
      assert.equal(r.blockNumber, receipts[0].blockNumber, `tx ${s.hash}: blockNumber on ${t.participantId(i)} differs from p1`);
    });
    blockOf.set(s.hash, Number(q(receipts[0].blockNumber)));
  }

  // scan the whole chain on every gateway: no tx twice, and the blocks after `start` hold exactly our txs
  const end = await agreedHead(t);
  const ours = new Set(sent.map((s) => s.hash));
  for (let i = 0; i < t.size; i++) {
    const where = t.participantId(i);
    const seen = new Map<string, number>();
    let countAfterStart = 0;
    for (let n = 1; n <= end.number; n++) {
      const b = await blockTxs(t, i, n);
      for (const hash of b.txs) {
        assert.ok(!seen.has(hash), `${where}: tx ${hash} is in block ${seen.get(hash)} and again in block ${n}`);
        seen.set(hash, n);
        if (n > start.number) {
          countAfterStart++;
          assert.ok(ours.has(hash), `${where}: block ${n} holds ${hash}, which the sender loop never sent`);
        }
      }
    }
    if (i === 0) tt.diagnostic(`${ours.size} txs in blocks ${start.number + 1}..${end.number}; ${sent.filter((s) => s.ack === 'already-known').length} acknowledged only on retry`);
    assert.equal(countAfterStart, ours.size, `${where}: ${countAfterStart} txs in blocks ${start.number + 1}..${end.number}, ${ours.size} acknowledged`);
    for (const s of sent) assert.equal(seen.get(s.hash), blockOf.get(s.hash), `${where}: tx ${s.hash} block`);
  }
  // and the killed participant agrees on balances
  for (const r of recipients) {
    const bs = await Promise.all(t.providers.map((p) => p.getBalance(r, end.number)));
    bs.forEach((b, i) => assert.equal(b, bs[0], `balance of ${r} at ${end.number} on ${t.participantId(i)}`));
  }
  // the network still takes transactions
  const w = t.testWallet(0, t.indexOf(leader));
  const raw = await signLegacy(w, t.chainId, { nonce: await w.provider!.getTransactionCount(w.address, 'pending'), to: recipients[0], value: 1n, gasLimit: 21_000 });
  const hash = await waitFor(() => t.rpc<string>(t.indexOf(leader), 'eth_sendRawTransaction', [raw]).catch((e) => {
    if (e instanceof RpcError && /known|nonce too low/i.test(e.message)) return keccak256(raw);
    throw e;
  }), 60_000, `the old leader ${leader}'s gateway to accept a tx again`, 500);
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
