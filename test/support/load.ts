/**
 * A load of pre-signed transfers from clients that resend what the network refuses, and the check that follows a
 * fault under it: every acknowledged transaction is in exactly one block, the same one on every participant, and
 * the participants agree on head and state root. Shared by the fault tests (test/e2e/faults.test.ts,
 * broker-faults.test.ts).
 */
import assert from 'node:assert/strict';
import { keccak256, type Wallet } from 'ethers';
import { RpcError, describeValue, q, signLegacy, sleep, waitFor, withDeadline, type TestNetwork } from './network.js';

export interface Head {
  number: number;
  hash: string;
  stateRoot: string;
}

export async function heads(t: TestNetwork): Promise<Head[]> {
  return Promise.all(
    t.urls.map(async (_, i) => {
      const b = await t.rpc(i, 'eth_getBlockByNumber', ['latest', false]);
      return { number: Number(q(b.number)), hash: b.hash as string, stateRoot: b.stateRoot as string };
    }),
  );
}

/** Waits until all gateways report the same head (number, hash and state root); returns it. */
export async function agreedHead(t: TestNetwork, deadlineMs = 60_000): Promise<Head> {
  return waitFor(
    async () => {
      const hs = await heads(t);
      return hs.every((x) => x.number === hs[0].number && x.hash === hs[0].hash && x.stateRoot === hs[0].stateRoot) ? hs[0] : undefined;
    },
    deadlineMs,
    'all gateways to report the same head and state root',
    200,
  );
}

export async function blockTxs(t: TestNetwork, i: number, n: number): Promise<{ hash: string; txs: string[] }> {
  const b = await t.rpc(i, 'eth_getBlockByNumber', ['0x' + n.toString(16), false]);
  assert.ok(b, `block ${n} missing on ${t.participantId(i)}`);
  return { hash: b.hash, txs: b.transactions as string[] };
}

export interface Planned {
  j: number;
  /** Wallet index; wallet k always goes through gateway k % size. */
  k: number;
  nonce: number;
  raw: string;
  hash: string;
}

export interface Sent {
  hash: string;
  wallet: number;
  nonce: number;
  gateway: number;
  /** How the send was acknowledged: the gateway returned the hash, or a retry said it already had it. */
  ack: 'hash' | 'already-known';
  /** Date.now() of the acknowledgement. */
  ackAt: number;
}

/** `total` transfers, tx j from wallet j % wallets.length (each wallet's nonces in order), to `recipients` in turn. */
export async function planTransfers(t: TestNetwork, wallets: Wallet[], total: number, recipients: string[]): Promise<Planned[]> {
  const nonces = await Promise.all(wallets.map((w) => w.provider!.getTransactionCount(w.address, 'pending')));
  const plan: Planned[] = [];
  for (let j = 0; j < total; j++) {
    const k = j % wallets.length;
    const nonce = nonces[k]++;
    const raw = await signLegacy(wallets[k], t.chainId, { nonce, to: recipients[j % recipients.length], value: BigInt(j + 1), gasLimit: 21_000 });
    plan.push({ j, k, nonce, raw, hash: keccak256(raw) });
  }
  return plan;
}

export interface LoadOptions {
  /** Tx j is due at start + j * spacingMs. */
  spacingMs: number;
  /** How long one tx is resent before the load counts it as never accepted. */
  perTxDeadlineMs: number;
  /** One send's HTTP timeout (default 10 s): a gateway that does not answer in time is asked again. */
  sendTimeoutMs?: number;
}

export interface Load {
  t0: number;
  sent: Sent[];
  failures: string[];
  /** Every error a send met (and then retried), counted by kind. */
  errorsSeen: Map<string, number>;
  errorsText(): string;
  /** Resolves when every wallet has sent all its txs (or given up after a failure). */
  done: Promise<void>;
}

/**
 * Each wallet sends its own txs in nonce order, each at its scheduled time; wallets run concurrently. A refused
 * send (a JSON-RPC error, a gateway that does not answer) is resent, the very same bytes, until accepted or until
 * the tx's deadline; a retry that finds the tx known counts as acknowledged.
 */
export function startResendingLoad(t: TestNetwork, plan: Planned[], o: LoadOptions): Load {
  const sent: Sent[] = [];
  const failures: string[] = [];
  const errorsSeen = new Map<string, number>();
  const note = (e: unknown) => {
    const key = e instanceof RpcError ? `rpc ${e.code}: ${e.message.replace(/^.*→ /, '')}` : `transport: ${(e as Error).message}`;
    errorsSeen.set(key, (errorsSeen.get(key) ?? 0) + 1);
  };
  const t0 = Date.now();

  async function send(p: Planned): Promise<void> {
    const gw = p.k % t.size;
    const deadline = Date.now() + o.perTxDeadlineMs;
    let tried = false;
    for (;;) {
      try {
        const hash = await t.rpc<string>(gw, 'eth_sendRawTransaction', [p.raw], o.sendTimeoutMs ?? 10_000);
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

  const wallets = [...new Set(plan.map((p) => p.k))];
  const done = Promise.all(
    wallets.map(async (k) => {
      for (const p of plan.filter((x) => x.k === k)) {
        const due = t0 + p.j * o.spacingMs;
        if (Date.now() < due) await sleep(due - Date.now());
        await send(p);
        if (failures.length > 0) return; // this wallet's later nonces could not land anyway
      }
    }),
  ).then(() => {});
  return { t0, sent, failures, errorsSeen, errorsText: () => [...errorsSeen].map(([k, v]) => `${v}× ${k}`).join('; ') || 'none', done };
}

/** Waits for the load to finish and asserts that every planned tx was acknowledged. */
export async function loadFinished(load: Load, plan: Planned[], o: LoadOptions, diagnostic?: (msg: string) => void): Promise<void> {
  await withDeadline(load.done, plan.length * o.spacingMs + o.perTxDeadlineMs * 2, 'the sender loops to finish');
  diagnostic?.(`send errors retried: ${load.errorsText()}`);
  assert.deepEqual(load.failures, [], `some transactions were never accepted (errors seen: ${load.errorsText()})`);
  assert.equal(load.sent.length, plan.length, `sent ${load.sent.length} of ${plan.length} (errors seen: ${load.errorsText()})`);
}

export interface ExactlyOnceOptions {
  /** The agreed head before the load: the blocks after it must hold exactly the acknowledged txs. */
  start: Head;
  receiptDeadlineMs?: number;
  /** Adds context to the error of an acknowledged tx that did not land (what the fault was, when). */
  explain?: (s: Sent, err: Error) => Promise<string>;
  diagnostic?: (msg: string) => void;
}

/**
 * No acknowledged transaction lost, none included twice: every acknowledged tx has the same successful receipt
 * (block hash and number) on every gateway; on every gateway no tx is in two blocks, and the blocks after
 * `start` hold exactly the acknowledged txs. Returns the head all gateways agree on (hash and state root).
 */
export async function assertExactlyOnce(t: TestNetwork, sent: Sent[], o: ExactlyOnceOptions): Promise<Head> {
  const blockOf = new Map<string, number>();
  for (const s of sent) {
    const receipts = await t.receiptsEverywhere(s.hash, o.receiptDeadlineMs ?? 120_000).catch(async (err: Error) => {
      throw new Error(`acknowledged tx ${s.hash} (wallet ${s.wallet} nonce ${s.nonce}, sent via ${t.participantId(s.gateway)}, ack ${s.ack}) did not land: ${err.message}${o.explain ? `\n  ${await o.explain(s, err)}` : ''}`);
    });
    receipts.forEach((r, i) => {
      assert.equal(r.status, '0x1', `tx ${s.hash} on ${t.participantId(i)}: status`);
      assert.equal(r.blockHash, receipts[0].blockHash, `tx ${s.hash}: blockHash on ${t.participantId(i)} differs from ${t.participantId(0)}`);
      assert.equal(r.blockNumber, receipts[0].blockNumber, `tx ${s.hash}: blockNumber on ${t.participantId(i)} differs from ${t.participantId(0)}`);
    });
    blockOf.set(s.hash, Number(q(receipts[0].blockNumber)));
  }

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
        if (n > o.start.number) {
          countAfterStart++;
          assert.ok(ours.has(hash), `${where}: block ${n} holds ${hash}, which the sender loop never sent`);
        }
      }
    }
    if (i === 0) o.diagnostic?.(`${ours.size} txs in blocks ${o.start.number + 1}..${end.number}; ${sent.filter((s) => s.ack === 'already-known').length} acknowledged only on retry`);
    assert.equal(countAfterStart, ours.size, `${where}: ${countAfterStart} txs in blocks ${o.start.number + 1}..${end.number}, ${ours.size} acknowledged`);
    for (const s of sent) assert.equal(seen.get(s.hash), blockOf.get(s.hash), `${where}: tx ${s.hash} block`);
  }
  return end;
}

/** Every gateway reports the same balance for each of `addresses` at block `n`. */
export async function assertSameBalances(t: TestNetwork, addresses: string[], n: number): Promise<void> {
  for (const a of addresses) {
    const bs = await Promise.all(t.providers.map((p) => p.getBalance(a, n)));
    bs.forEach((b, i) => assert.equal(b, bs[0], `balance of ${a} at ${n} on ${t.participantId(i)}`));
  }
}

/** Waits until gateway i accepts `raw` (or says it already has it); returns its hash. */
export async function sendUntilAccepted(t: TestNetwork, i: number, raw: string, deadlineMs: number, what: string): Promise<string> {
  return waitFor(
    () =>
      t.rpc<string>(i, 'eth_sendRawTransaction', [raw]).catch((e) => {
        if (e instanceof RpcError && /known|nonce too low/i.test(e.message)) return keccak256(raw);
        throw e;
      }),
    deadlineMs,
    what,
    500,
  );
}
