/**
 * The load generator: pre-signed transactions over eth_sendRawTransaction.
 *
 * Each sender is pinned to one gateway and has at most one request in flight, so its nonces reach the
 * pool in order. `submitBurst` sends as fast as the network accepts: per gateway, up to `inFlight`
 * JSON-RPC batches of up to `batchSize` senders' next transactions. `submitPaced` sends one
 * transaction at a time on a fixed schedule. A refused transaction is retried (same bytes) while the
 * error looks transient; a definitive refusal abandons the rest of that sender's lane.
 */
import type { SignedTx } from './sign.js';
import { batch, call, RpcCallError, sleep, type RpcErrorObject } from './rpc.js';

export interface Lane {
  gateway: number;
  txs: SignedTx[];
}

export interface Ack {
  hash: string;
  gateway: number;
  /** performance.now() of the first attempt to submit it. */
  submitAt: number;
  ackAt: number;
}

export interface SubmitStats {
  acked: number;
  failed: number;
  /** error text (numbers elided) → count */
  errors: Map<string, number>;
  firstSubmitAt: number;
  lastAckAt: number;
}

export interface BurstOptions {
  batchSize: number;
  /** JSON-RPC batches in flight per gateway. */
  inFlight: number;
  /** performance.now() after which unsent transactions are abandoned. */
  deadline: number;
  retryDelayMs?: number;
}

const FATAL = /nonce too low|invalid sender|invalid signature|signature|chain ?id|gas ?price|fee|intrinsic gas|insufficient funds|exceeds block gas limit|rlp|malformed|invalid transaction/i;
const ALREADY = /already known|known transaction|already imported|already in (the )?pool/i;

function errorKey(e: RpcErrorObject | Error): string {
  const text = e instanceof Error ? `transport: ${e.message}` : `${e.code}: ${e.message}`;
  return text.replace(/0x[0-9a-f]+/gi, '0x…').replace(/\d+/g, 'N').slice(0, 160);
}

type Verdict = 'ack' | 'retry' | 'fatal';

function judge(err: RpcErrorObject, attempts: number): Verdict {
  if (ALREADY.test(err.message)) return 'ack';
  // a retry of the same bytes that finds the nonce used: an earlier attempt got in
  if (attempts > 1 && /nonce too low/i.test(err.message)) return 'ack';
  if (FATAL.test(err.message)) return 'fatal';
  return 'retry';
}

function newStats(): SubmitStats {
  return { acked: 0, failed: 0, errors: new Map(), firstSubmitAt: Number.POSITIVE_INFINITY, lastAckAt: 0 };
}

function note(stats: SubmitStats, e: RpcErrorObject | Error): void {
  const k = errorKey(e);
  stats.errors.set(k, (stats.errors.get(k) ?? 0) + 1);
}

export async function submitBurst(urls: string[], lanes: Lane[], opts: BurstOptions, onAck: (a: Ack) => void): Promise<SubmitStats> {
  const stats = newStats();
  const retryDelay = opts.retryDelayMs ?? 50;
  const pos = lanes.map(() => 0);
  const attempts = lanes.map(() => 0);
  const firstAt = lanes.map(() => 0);
  const ready: number[][] = urls.map(() => []);
  const inflight = urls.map(() => 0);
  let open = 0;
  lanes.forEach((l, i) => {
    if (l.txs.length > 0) {
      ready[l.gateway].push(i);
      open++;
    }
  });

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  if (open === 0) resolveDone();

  const closeLane = (lane: number, failedTxs: number) => {
    stats.failed += failedTxs;
    open--;
    if (open === 0) resolveDone();
  };

  const advance = (lane: number, g: number) => {
    pos[lane]++;
    attempts[lane] = 0;
    if (pos[lane] < lanes[lane].txs.length) ready[g].push(lane);
    else closeLane(lane, 0);
  };

  const requeue = (lane: number, g: number) => {
    if (performance.now() > opts.deadline) {
      closeLane(lane, lanes[lane].txs.length - pos[lane]);
      return;
    }
    setTimeout(() => {
      ready[g].push(lane);
      pump(g);
    }, retryDelay);
  };

  const pump = (g: number) => {
    while (inflight[g] < opts.inFlight && ready[g].length > 0) {
      const members = ready[g].splice(0, opts.batchSize);
      inflight[g]++;
      void sendBatch(g, members).finally(() => {
        inflight[g]--;
        pump(g);
      });
    }
  };

  const sendBatch = async (g: number, members: number[]) => {
    const now = performance.now();
    if (now < stats.firstSubmitAt) stats.firstSubmitAt = now;
    for (const m of members) {
      if (attempts[m] === 0) firstAt[m] = now;
      attempts[m]++;
    }
    let results;
    try {
      results = await batch(urls[g], members.map((m) => ({ method: 'eth_sendRawTransaction', params: [lanes[m].txs[pos[m]].raw] })), 30_000);
    } catch (err) {
      note(stats, err as Error);
      for (const m of members) requeue(m, g);
      return;
    }
    const ackAt = performance.now();
    results.forEach((r, i) => {
      const m = members[i];
      const tx = lanes[m].txs[pos[m]];
      let verdict: Verdict = 'ack';
      if (!r.ok) {
        note(stats, r.error);
        verdict = judge(r.error, attempts[m]);
      } else if (r.result !== tx.hash) {
        note(stats, { code: 0, message: `gateway returned hash ${r.result}, expected keccak256(raw)` });
      }
      if (verdict === 'ack') {
        stats.acked++;
        stats.lastAckAt = ackAt;
        onAck({ hash: tx.hash, gateway: g, submitAt: firstAt[m], ackAt });
        advance(m, g);
      } else if (verdict === 'retry') requeue(m, g);
      else closeLane(m, lanes[m].txs.length - pos[m]);
    });
  };

  for (let g = 0; g < urls.length; g++) pump(g);
  await done;
  return stats;
}

export interface PacedItem {
  tx: SignedTx;
  gateway: number;
  /** Sender id; items of one sender are sent in order, one at a time. */
  sender: number;
}

/** Sends item k at start + k * intervalMs (never earlier), one request per transaction. */
export async function submitPaced(urls: string[], items: PacedItem[], intervalMs: number, deadline: number, onAck: (a: Ack) => void): Promise<SubmitStats> {
  const stats = newStats();
  const chains = new Map<number, Promise<void>>();
  const sendOne = async (it: PacedItem) => {
    const submitAt = performance.now();
    if (submitAt < stats.firstSubmitAt) stats.firstSubmitAt = submitAt;
    for (let attempt = 1; ; attempt++) {
      try {
        const hash = await call<string>(urls[it.gateway], 'eth_sendRawTransaction', [it.tx.raw], 30_000);
        if (hash !== it.tx.hash) note(stats, { code: 0, message: `gateway returned hash ${hash}, expected keccak256(raw)` });
        break;
      } catch (err) {
        const e = err instanceof RpcCallError ? err.error : (err as Error);
        note(stats, e);
        const verdict = err instanceof RpcCallError ? judge(err.error, attempt) : 'retry';
        if (verdict === 'ack') break;
        if (verdict === 'fatal' || performance.now() > deadline) {
          stats.failed++;
          return;
        }
        await sleep(50);
      }
    }
    const ackAt = performance.now();
    stats.acked++;
    stats.lastAckAt = ackAt;
    onAck({ hash: it.tx.hash, gateway: it.gateway, submitAt, ackAt });
  };
  const start = performance.now();
  const all: Promise<void>[] = [];
  for (let k = 0; k < items.length; k++) {
    const due = start + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() > deadline) {
      stats.failed += items.length - k;
      break;
    }
    const it = items[k];
    const p = (chains.get(it.sender) ?? Promise.resolve()).then(() => sendOne(it));
    chains.set(it.sender, p);
    all.push(p);
  }
  await Promise.all(all);
  return stats;
}
