/**
 * Group commit of transaction submissions: when no request to consensus is in flight, what arrived in this
 * turn of the event loop (after `windowMs`, 0 by default) leaves at once; while one is in flight, new
 * submissions wait and leave together when it returns (or when `maxBatch` of them are waiting). So an idle
 * gateway adds no delay, and under load the batch grows with the round trip: fifty separate requests cost
 * about what one request of fifty costs. Arrival order is kept. Each caller still gets its own outcome:
 * accepted, or rejected with the reason consensus gave (or a generic one when it gave none).
 */
import { CodedError, ErrorCode, asCodedError } from '../../lib/errors.js';
import { Attr, contextOf, currentTraceparent, inSpan, linksTo, tracer } from '../../lib/tracing.js';
import type { AdmittedTransaction } from '../../lib/ethereum/transaction-record.js';

/** What the gateway submits: the shared transaction record (lib/ethereum/transaction-record.ts). */
export type SubmitTx = AdmittedTransaction;

export interface SubmitReply {
  accepted: string[];
  /** Optional per-transaction reasons; a hash neither accepted nor listed here gets a generic rejection. */
  rejected?: { hash: string; reason: string }[];
}

export interface SubmitBatcher {
  submit(tx: SubmitTx): Promise<void>;
  /** Sends what is queued now. */
  flush(): void;
  /** Rejects what is still queued (on shutdown). */
  close(): void;
}

export interface SubmitBatcherOptions {
  /** How long an idle batcher waits for more before sending (0: the rest of this event-loop turn). */
  windowMs?: number;
  maxBatch?: number;
  /** Requests to consensus in flight at once before new submissions wait for one to return. */
  maxInFlight?: number;
}

interface Waiter {
  tx: SubmitTx;
  /** The submitter's span (its RPC call), continued by the batch's span and linked from it. */
  traceparent: string | null;
  resolve: () => void;
  reject: (err: CodedError) => void;
}

const t = tracer('quorum.gateway');

/**
 * `send` gets the transactions and, beside them, each one's traceparent (null when it had none), so the next
 * hop can link every member, not just the first, to the batch. It runs inside the batch's span: a child of
 * the first member's span, linked to every member's.
 */
export function createSubmitBatcher(send: (txs: SubmitTx[], traceparents: (string | null)[]) => Promise<SubmitReply>, opts: SubmitBatcherOptions = {}): SubmitBatcher {
  const windowMs = opts.windowMs ?? 0;
  const maxBatch = Math.min(Math.max(opts.maxBatch ?? 200, 1), 1000);
  const maxInFlight = Math.max(opts.maxInFlight ?? 1, 1);
  let queue: Waiter[] = [];
  let timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  let inFlight = 0;
  let closed = false;

  const cancelTimer = () => {
    if (timer) {
      if (windowMs > 0) clearTimeout(timer as NodeJS.Timeout);
      else clearImmediate(timer as NodeJS.Immediate);
    }
    timer = null;
  };
  const schedule = () => {
    if (timer || inFlight >= maxInFlight || queue.length === 0) return;
    timer = windowMs > 0 ? setTimeout(flush, windowMs) : setImmediate(flush);
  };

  const settle = (batch: Waiter[], reply: SubmitReply) => {
    const accepted = new Set(reply.accepted.map((h) => h.toLowerCase()));
    const reasons = new Map((reply.rejected ?? []).map((r) => [r.hash.toLowerCase(), r.reason]));
    for (const w of batch) {
      const h = w.tx.hash.toLowerCase();
      if (accepted.has(h)) w.resolve();
      else w.reject(new CodedError(ErrorCode.Rejected, reasons.get(h) ?? 'transaction rejected by the pool'));
    }
  };

  function flush(): void {
    cancelTimer();
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    // The same transaction submitted twice in one window travels once; both callers get its outcome.
    const seen = new Set<string>();
    const txs: SubmitTx[] = [];
    const traceparents: (string | null)[] = [];
    for (const w of batch) {
      const h = w.tx.hash.toLowerCase();
      if (seen.has(h)) continue;
      seen.add(h);
      txs.push(w.tx);
      traceparents.push(w.traceparent);
    }
    inFlight++;
    inSpan(t, 'gateway submit batch', { [Attr.batchSize]: txs.length }, () => send(txs, traceparents), contextOf(traceparents[0]), linksTo(traceparents))
      .then(
        (reply) => settle(batch, reply),
        (err) => {
          const coded = asCodedError(err);
          for (const w of batch) w.reject(coded);
        },
      )
      .finally(() => {
        inFlight--;
        if (!closed) schedule(); // what waited for this request leaves now
      });
  }

  return {
    submit(tx) {
      if (closed) return Promise.reject(new CodedError(ErrorCode.Unavailable, 'gateway is shutting down'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ tx, traceparent: currentTraceparent(), resolve, reject });
        if (queue.length >= maxBatch) flush();
        else schedule();
      });
    },
    flush,
    close() {
      closed = true;
      cancelTimer();
      const batch = queue;
      queue = [];
      for (const w of batch) w.reject(new CodedError(ErrorCode.Unavailable, 'gateway is shutting down'));
    },
  };
}
