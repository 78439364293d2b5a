/**
 * Wallet-style clients: each client owns one sender account and one gateway, sends one transaction per HTTP
 * request (no JSON-RPC batches), in nonce order (the next request leaves only once the previous one was
 * answered), keeps at most `window` of its transactions waiting for a receipt, and polls
 * eth_getTransactionReceipt for the oldest of them. Latency is submit (start of the first request for that
 * transaction) → the poll that returned its receipt.
 *
 * Used by the wallet mode (bench/wallet-mode.ts: value transfers and SimpleStorage set from test-owned keys,
 * on our network and on hardhat's node) and the private part (bench/private.ts). Two ways to send:
 *   node  node-managed accounts, eth_sendTransaction (+ privateFor): the gateway signs, and for a private
 *         transaction seals the payload through its tm and pushes it to the recipients before submitting —
 *         how GoQuorum dapps send. One request per transaction.
 *   raw   test-owned keys signing locally: public transactions (a value transfer or a set call) EIP-155 and
 *         eth_sendRawTransaction, as wallets do; private ones as web3js-quorum does: POST <tm>/storeraw, sign
 *         (v = 37/38), then eth_sendRawPrivateTransaction with privateFor (two requests per transaction).
 */
import { call, RpcCallError, sleep } from './rpc.js';
import { cpuBetween, sampleCpu, type CpuUse } from './cpu.js';
import { bytesToHex, encodeSet, signLegacyTx, signPrivateLegacyTx, type Key } from './sign.js';
import { distribution, type Distribution } from './stats.js';

export interface Sender {
  /** gateway index (participant index) this client talks to */
  gateway: number;
  /** Called before each run: (re)learns whatever the sender keeps client-side (the raw signer's nonce). */
  prepare(): Promise<void>;
  /** Submits one transaction setting `value`; resolves to its hash, rejects with the refusal or transport error. */
  send(value: bigint): Promise<string>;
}

/** A refusal by the tm's HTTP API (not JSON-RPC). */
class HttpRefusal extends Error {}

/** A read a sender needed before it could submit (the account's nonce) failed: counted as a failed read, not a refusal. */
class ReadFailure extends Error {
  constructor(
    readonly what: string,
    cause: unknown,
  ) {
    super(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ReadFailure';
  }
}

const GAS_LIMIT = 100_000;
const TRANSFER_GAS = 21_000;
const gasHex = '0x' + GAS_LIMIT.toString(16);

/** eth_sendTransaction from a node-managed account; private when `privateFor` is given. */
export function nodeSender(url: string, gateway: number, from: string, to: string, privateFor?: string[]): Sender {
  return {
    gateway,
    prepare: async () => {},
    send: (value) =>
      call<string>(url, 'eth_sendTransaction', [{ from, to, data: bytesToHex(encodeSet(value)), gas: gasHex, ...(privateFor ? { privateFor } : {}) }], 30_000),
  };
}

/** What a raw sender sends for `send(value)`. */
export type RawPayload =
  /** SimpleStorage.set(value) on `to`, EIP-155, eth_sendRawTransaction */
  | { kind: 'set'; to: string }
  /** 1 wei to `to(value)`, EIP-155, eth_sendRawTransaction */
  | { kind: 'transfer'; to: (value: bigint) => string }
  /** SimpleStorage.set(value) on `to`, privately: /storeraw at `tmUrl`, v = 37/38, eth_sendRawPrivateTransaction */
  | { kind: 'private'; to: string; tmUrl: string; from: string; privateFor: string[] };

/** A test-owned key signing locally; the nonce is learnt from the pool (eth_getTransactionCount, pending) and then counted. */
export function rawSender(url: string, gateway: number, key: Key, chainId: number, payload: RawPayload): Sender {
  let nonce = -1;
  const resync = async () => {
    try {
      nonce = Number(BigInt(await call<string>(url, 'eth_getTransactionCount', [key.address, 'pending'], 10_000)));
    } catch (err) {
      throw new ReadFailure('eth_getTransactionCount', err);
    }
  };
  return {
    gateway,
    prepare: async () => {
      nonce = -1;
      await resync();
    },
    async send(value) {
      if (nonce < 0) await resync();
      try {
        let hash: string;
        if (payload.kind === 'transfer') {
          const tx = signLegacyTx(key, chainId, { nonce, gasLimit: TRANSFER_GAS, to: payload.to(value), value: 1n, data: new Uint8Array(0) });
          hash = await call<string>(url, 'eth_sendRawTransaction', [tx.raw], 30_000);
        } else if (payload.kind === 'set') {
          const tx = signLegacyTx(key, chainId, { nonce, gasLimit: GAS_LIMIT, to: payload.to, value: 0n, data: encodeSet(value) });
          hash = await call<string>(url, 'eth_sendRawTransaction', [tx.raw], 30_000);
        } else {
          const res = await fetch(`${payload.tmUrl}/storeraw`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ payload: Buffer.from(encodeSet(value)).toString('base64'), from: payload.from }),
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status !== 200) throw new HttpRefusal(`/storeraw: HTTP ${res.status}: ${text.slice(0, 200)}`);
          const payloadHash = Buffer.from((JSON.parse(text) as { key: string }).key, 'base64');
          if (payloadHash.length !== 64) throw new HttpRefusal(`/storeraw: a key of ${payloadHash.length} bytes`);
          const tx = signPrivateLegacyTx(key, { nonce, gasLimit: GAS_LIMIT, to: payload.to, data: new Uint8Array(payloadHash) });
          hash = await call<string>(url, 'eth_sendRawPrivateTransaction', [tx.raw, { privateFor: payload.privateFor }], 30_000);
        }
        nonce++;
        return hash;
      } catch (err) {
        // Whether it got in is unknown after a transport error; a refusal used no nonce. Ask the pool either way.
        nonce = -1;
        throw err;
      }
    },
  };
}

export interface ClientStats {
  /** transactions the clients were asked to send */
  planned: number;
  /** answered with a hash */
  sent: number;
  /** JSON-RPC errors (or tm HTTP errors) answering a submission */
  refused: number;
  /** submissions without an answer (transport error, timeout, non-JSON) */
  failedRequests: number;
  /** reads that failed (a JSON-RPC or transport error; "no receipt yet" is not one): eth_getTransactionReceipt,
   *  eth_getTransactionCount, and the head pollers' eth_blockNumber (added by runClients) */
  failedReads: number;
  /** receipt polls answered null (not there yet) */
  misses: number;
  /** receipts seen */
  included: number;
  /** receipts with status 0x0 */
  reverted: number;
  /** sent, but no receipt before the stall limit or the deadline */
  lost: number;
  /** never sent (deadline or the client gave up) */
  abandoned: number;
  /** error text (numbers elided) → count */
  errors: Map<string, number>;
  latenciesMs: number[];
  /** submit → the submission answered with a hash */
  ackLatenciesMs: number[];
  /** paced jobs: how late the submission started against its schedule (the client was busy with earlier ones) */
  lagsMs: number[];
  /** paced jobs: scheduled time → receipt (lateness included) */
  fromScheduleMs: number[];
  firstSubmitAt: number;
  /** when the last submission was answered with a hash */
  lastSentAt: number;
  lastReceiptAt: number;
}

function newClientStats(): ClientStats {
  return {
    planned: 0,
    sent: 0,
    refused: 0,
    failedRequests: 0,
    failedReads: 0,
    misses: 0,
    included: 0,
    reverted: 0,
    lost: 0,
    abandoned: 0,
    errors: new Map(),
    latenciesMs: [],
    ackLatenciesMs: [],
    lagsMs: [],
    fromScheduleMs: [],
    firstSubmitAt: Number.POSITIVE_INFINITY,
    lastSentAt: 0,
    lastReceiptAt: 0,
  };
}

function note(stats: ClientStats, what: string, err: unknown): void {
  const text = err instanceof RpcCallError ? `${what}: ${err.error.code}: ${err.error.message}` : `${what}: ${(err as Error).message}`;
  const k = text.replace(/0x[0-9a-f]+/gi, '0x…').replace(/[A-Za-z0-9+/]{43}=/g, '<key>').replace(/\d+/g, 'N').slice(0, 160);
  stats.errors.set(k, (stats.errors.get(k) ?? 0) + 1);
}

export interface ClientOptions {
  /** at most this many of the client's transactions wait for a receipt at a time */
  window: number;
  /** performance.now() after which nothing more is sent and waiting stops */
  deadline: number;
  /** a transaction without a receipt this long after its submission (or the client's last receipt) is lost */
  stallMs: number;
  /** without a new block for this long, the oldest pending receipt is asked for anyway */
  fallbackMs: number;
}

/** Waiters woken by notify() (single-threaded: checking a condition and waiting happen without interleaving). */
class Signal {
  private waiters: (() => void)[] = [];
  wait(timeoutMs?: number): Promise<void> {
    return new Promise((r) => {
      this.waiters.push(r);
      if (timeoutMs !== undefined) setTimeout(r, timeoutMs);
    });
  }
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

/**
 * The new-block poller a wallet library runs (ethers' polling provider, `tx.wait()`): eth_blockNumber every
 * `pollMs`; clients ask for receipts when the head has moved past their submission. One per gateway, shared by
 * that gateway's clients (as one provider serves the accounts of one dapp).
 */
class HeadPoller {
  head = -1;
  /** failed eth_blockNumber calls (JSON-RPC or transport errors) */
  errors = 0;
  lastError = '';
  readonly changed = new Signal();
  private running = false;
  private loop: Promise<void> | undefined;
  constructor(
    readonly url: string,
    readonly pollMs: number,
  ) {}
  async start(): Promise<void> {
    await this.poll();
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await sleep(this.pollMs);
        await this.poll();
      }
    })();
  }
  private async poll(): Promise<void> {
    try {
      const n = Number(BigInt(await call<string>(this.url, 'eth_blockNumber', [], 10_000)));
      if (n > this.head) {
        this.head = n;
        this.changed.notify();
      }
    } catch (err) {
      this.errors++;
      this.lastError = (err as Error).message;
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.changed.notify();
  }
}

/**
 * One client: sends job k no earlier than dueAt[k] (0: as soon as the window allows), values from `nextValue`.
 * Receipts: the oldest pending transaction's is asked for once the head has moved past its submission, and on
 * every new block until it comes (then the next one's at once). Resolves when every sent transaction has a
 * receipt or was given up on.
 */
async function runClient(heads: HeadPoller, sender: Sender, dueAt: number[], nextValue: () => bigint, opts: ClientOptions, stats: ClientStats): Promise<void> {
  const url = heads.url;
  stats.planned += dueAt.length;
  /** headAt: the head when the submission started (the receipt cannot be there before the head moves past it) */
  const outstanding: { hash: string; submitAt: number; dueAt: number; headAt: number }[] = [];
  const slotFreed = new Signal();
  const workArrived = new Signal();
  let sendingDone = false;
  let giveUp = false;
  let lastProgress = performance.now();

  const sending = (async () => {
    for (let k = 0; k < dueAt.length; k++) {
      const wait = dueAt[k] - performance.now();
      if (wait > 0) await sleep(wait);
      while (outstanding.length >= opts.window && !giveUp) await slotFreed.wait();
      if (giveUp || performance.now() > opts.deadline) {
        stats.abandoned += dueAt.length - k;
        break;
      }
      const submitAt = performance.now();
      if (dueAt[k] > 0) stats.lagsMs.push(Math.max(0, submitAt - dueAt[k]));
      const headAt = heads.head;
      if (submitAt < stats.firstSubmitAt) stats.firstSubmitAt = submitAt;
      try {
        const hash = await sender.send(nextValue());
        stats.sent++;
        const ackAt = performance.now();
        stats.ackLatenciesMs.push(ackAt - submitAt);
        stats.lastSentAt = Math.max(stats.lastSentAt, ackAt);
        if (outstanding.length === 0) lastProgress = performance.now();
        outstanding.push({ hash, submitAt, dueAt: dueAt[k], headAt });
        workArrived.notify();
      } catch (err) {
        if (err instanceof ReadFailure) {
          stats.failedReads++;
          note(stats, 'read', err.cause);
        } else {
          if (err instanceof RpcCallError || err instanceof HttpRefusal) stats.refused++;
          else stats.failedRequests++;
          note(stats, 'submit', err);
        }
      }
    }
    sendingDone = true;
    workArrived.notify();
  })();

  const polling = (async () => {
    /** the head at this client's last unsuccessful receipt request */
    let missedAt = -1;
    for (;;) {
      if (outstanding.length === 0) {
        if (sendingDone) return;
        await workArrived.wait();
        continue;
      }
      const first = outstanding[0];
      const since = Math.max(first.headAt, missedAt);
      if (heads.head <= since) {
        // nothing new since we last looked: wait for a block (or the fallback period)
        const before = heads.head;
        await heads.changed.wait(opts.fallbackMs);
        if (heads.head === before) missedAt = -1; // fallback: ask anyway
        if (performance.now() - lastProgress <= opts.stallMs && performance.now() <= opts.deadline) continue;
      }
      const head = heads.head;
      let receipt: any = null;
      try {
        receipt = await call<any>(url, 'eth_getTransactionReceipt', [first.hash], 10_000);
      } catch (err) {
        stats.failedReads++;
        note(stats, 'receipt poll', err);
      }
      const now = performance.now();
      if (receipt) {
        stats.included++;
        if (receipt.status !== '0x1') stats.reverted++;
        stats.latenciesMs.push(now - first.submitAt);
        if (first.dueAt > 0) stats.fromScheduleMs.push(now - first.dueAt);
        if (now > stats.lastReceiptAt) stats.lastReceiptAt = now;
        outstanding.shift();
        lastProgress = now;
        slotFreed.notify();
        continue; // the next one is often in the same block
      }
      missedAt = head;
      stats.misses++;
      if (now - lastProgress > opts.stallMs || now > opts.deadline) {
        stats.lost += outstanding.length;
        outstanding.length = 0;
        giveUp = true;
        slotFreed.notify();
        note(stats, 'receipt', new Error(`no receipt within ${Math.round(opts.stallMs / 1000)} s (client gave up)`));
      }
    }
  })();

  await Promise.all([sending, polling]);
}

export interface ClientsOptions {
  /** the URL of each gateway (index = Sender.gateway); one HeadPoller per gateway */
  urls: string[];
  window: number;
  pollMs: number;
  runTimeoutS: number;
  /** the network's database prefix, to count its Postgres backends in the CPU figures ('' when there is none) */
  dbPrefix: string;
}

/** Without a new block for this long, a client asks for its oldest pending receipt anyway. */
const RECEIPT_FALLBACK_MS = 250;
/** A client without a receipt for this long gives up on its pending transactions. */
const STALL_MS = 60_000;

let valueCounter = 1n;
/** Values for set calls (and recipients of transfers): distinct across every run of the process. */
const nextValue = () => valueCounter++;

/**
 * All clients at once, each with its own schedule (dueAt(c): client c's jobs; 0 = as soon as its window
 * allows), sharing one HeadPoller per gateway; resolves once every client is done. The head pollers' failed
 * eth_blockNumber calls are added to the failed reads.
 */
export async function runClients(senders: Sender[], dueAt: (c: number) => number[], o: ClientsOptions): Promise<ClientStats & { cpu: CpuUse | null }> {
  const stats = newClientStats();
  const cpu0 = sampleCpu(o.dbPrefix);
  await Promise.all(
    senders.map((s) =>
      s.prepare().catch((err) => {
        // the sender asks again before its first submission
        stats.failedReads++;
        note(stats, 'read', err instanceof ReadFailure ? err.cause : err);
      }),
    ),
  );
  // Only the gateways some client uses are polled: a wallet polls its own node, and an idle poller would only
  // take CPU from the network being measured (four of them at 10 ms are ~400 requests/s).
  const used = new Set(senders.map((s) => s.gateway));
  const pollers = new Map(o.urls.flatMap((u, g) => (used.has(g) ? [[g, new HeadPoller(u, o.pollMs)] as const] : [])));
  const heads = [...pollers.values()];
  await Promise.all(heads.map((h) => h.start()));
  try {
    const deadline = performance.now() + o.runTimeoutS * 1000;
    const opts = { window: o.window, deadline, stallMs: STALL_MS, fallbackMs: RECEIPT_FALLBACK_MS };
    await Promise.all(senders.map((s, c) => runClient(pollers.get(s.gateway)!, s, dueAt(c), nextValue, opts, stats)));
  } finally {
    await Promise.all(heads.map((h) => h.stop()));
  }
  for (const h of heads) {
    stats.failedReads += h.errors;
    if (h.errors) stats.errors.set(`eth_blockNumber: ${h.lastError.replace(/\d+/g, 'N').slice(0, 140)}`, h.errors);
  }
  return { ...stats, cpu: cpuBetween(cpu0, sampleCpu(o.dbPrefix)) };
}

/** What one run of wallet-style clients measured. */
export interface WalletRunSummary {
  /** transactions the clients were asked to send */
  txs: number;
  sent: number;
  included: number;
  /** submissions answered with an error */
  refused: number;
  /** submissions without an answer (transport error, timeout) */
  failedRequests: number;
  /** eth_blockNumber / eth_getTransactionReceipt / eth_getTransactionCount calls that failed */
  failedReads: number;
  /** receipt requests answered null, per included transaction */
  missesPerTx: number;
  reverted: number;
  lost: number;
  abandoned: number;
  /** first submission → last receipt */
  seconds: number;
  /** receipts ÷ seconds */
  tps: number;
  /** answered submissions ÷ (first submission → last answer) */
  submitRate: number;
  /** submit → receipt */
  latencyMs: Distribution;
  /** submit → the submission request(s) answered */
  submitMs: Distribution;
  /** paced runs: how late submissions started against the schedule */
  lagMs?: Distribution;
  /** paced runs: scheduled time → receipt */
  fromScheduleMs?: Distribution;
  errors: Record<string, number>;
  /** cores in use during the run: the benchmark's processes vs the rest of the machine */
  cpu: CpuUse | null;
}

export function summarizeClients(s: ClientStats & { cpu: CpuUse | null }): WalletRunSummary {
  const seconds = s.lastReceiptAt > s.firstSubmitAt ? (s.lastReceiptAt - s.firstSubmitAt) / 1000 : Number.NaN;
  return {
    txs: s.planned,
    sent: s.sent,
    included: s.included,
    refused: s.refused,
    failedRequests: s.failedRequests,
    failedReads: s.failedReads,
    missesPerTx: s.included ? s.misses / s.included : Number.NaN,
    reverted: s.reverted,
    lost: s.lost,
    abandoned: s.abandoned,
    seconds,
    tps: seconds > 0 ? s.included / seconds : Number.NaN,
    submitRate: s.lastSentAt > s.firstSubmitAt ? s.sent / ((s.lastSentAt - s.firstSubmitAt) / 1000) : Number.NaN,
    latencyMs: distribution(s.latenciesMs),
    submitMs: distribution(s.ackLatenciesMs),
    ...(s.lagsMs.length ? { lagMs: distribution(s.lagsMs), fromScheduleMs: distribution(s.fromScheduleMs) } : {}),
    errors: Object.fromEntries(s.errors),
    cpu: s.cpu,
  };
}

/** Splits `total` over `clients` as evenly as possible: client c's share. */
export const share = (total: number, clients: number, c: number) => Math.floor(total / clients) + (c < total % clients ? 1 : 0);

/** Job k goes to client k mod clients at start + k × 1000/tps: client c's schedule. */
export function pacedSchedule(total: number, tps: number, clients: number, c: number, start: number): number[] {
  const due: number[] = [];
  for (let k = c; k < total; k += clients) due.push(start + (k * 1000) / tps);
  return due;
}
