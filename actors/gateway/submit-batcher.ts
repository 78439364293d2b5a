/**
 * Micro-batching of transaction submissions: concurrent eth_sendRawTransaction calls are collected for
 * up to `windowMs` (or `maxBatch` transactions) and sent to consensus as one SubmitTransactions request,
 * in arrival order. Each caller still gets its own outcome: accepted, or rejected with the reason
 * consensus gave (or a generic one when it gave none).
 */
import { CodedError, ErrorCode, asCodedError } from '../../lib/errors.js';
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
  windowMs?: number;
  maxBatch?: number;
}

interface Waiter {
  tx: SubmitTx;
  resolve: () => void;
  reject: (err: CodedError) => void;
}

export function createSubmitBatcher(send: (txs: SubmitTx[]) => Promise<SubmitReply>, opts: SubmitBatcherOptions = {}): SubmitBatcher {
  const windowMs = opts.windowMs ?? 2;
  const maxBatch = Math.min(Math.max(opts.maxBatch ?? 200, 1), 1000);
  let queue: Waiter[] = [];
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const settle = (batch: Waiter[], reply: SubmitReply) => {
    const accepted = new Set(reply.accepted.map((h) => h.toLowerCase()));
    const reasons = new Map((reply.rejected ?? []).map((r) => [r.hash.toLowerCase(), r.reason]));
    for (const w of batch) {
      const h = w.tx.hash.toLowerCase();
      if (accepted.has(h)) w.resolve();
      else w.reject(new CodedError(ErrorCode.Rejected, reasons.get(h) ?? 'transaction rejected by the pool'));
    }
  };

  const flush = () => {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    // The same transaction submitted twice in one window travels once; both callers get its outcome.
    const seen = new Set<string>();
    const txs: SubmitTx[] = [];
    for (const w of batch) {
      const h = w.tx.hash.toLowerCase();
      if (seen.has(h)) continue;
      seen.add(h);
      txs.push(w.tx);
    }
    send(txs).then(
      (reply) => settle(batch, reply),
      (err) => {
        const coded = asCodedError(err);
        for (const w of batch) w.reject(coded);
      },
    );
  };

  return {
    submit(tx) {
      if (closed) return Promise.reject(new CodedError(ErrorCode.Unavailable, 'gateway is shutting down'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ tx, resolve, reject });
        if (queue.length >= maxBatch) flush();
        else if (!timer) timer = setTimeout(flush, windowMs);
      });
    },
    flush,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const batch = queue;
      queue = [];
      for (const w of batch) w.reject(new CodedError(ErrorCode.Unavailable, 'gateway is shutting down'));
    },
  };
}
