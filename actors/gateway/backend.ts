/**
 * What the gateway needs from the rest of its participant, as one interface (the RPC methods depend only
 * on this), and its implementation over the bus. Reply shapes are checked here; a reply that does not
 * match is the other actor's bug and surfaces as Internal, never as the client's invalid input.
 *
 * Reads never fail because an actor is busy or restarting for a moment: they are asked again within a bounded
 * budget (retry.ts) and only then answered Unavailable. The head comes from blockExecuted events, recent blocks,
 * receipts and transactions from small caches (final once stored), and a receipt that is not there yet is answered
 * from the events (landed.ts), so the reads a polling wallet makes do not queue behind block execution.
 */
import { z, type ZodType } from 'zod';
import { ConsensusCommandReply, ConsensusStatus, PoolNonceReply, SubmitResult, type ConsensusStatus as ConsensusStatusT } from '../consensus/messages.js';
import {
  BlockExecuted,
  BlockReceipts,
  Head,
  PrivacyMetadata,
  RpcBlock,
  RpcLog,
  RpcReceipt,
  RpcTransaction,
  type BlockTag,
  type CallRequest,
  type Head as HeadT,
  type LedgerQuery,
  type LogFilter,
  type PrivacyMetadata as PrivacyMetadataT,
  type RpcBlock as RpcBlockT,
  type RpcLog as RpcLogT,
  type RpcReceipt as RpcReceiptT,
  type RpcTransaction as RpcTransactionT,
} from '../ledger/executor/messages.js';
import { AccountState, type AccountState as AccountStateT, type StateRead } from '../ledger/state/messages.js';
import type { Bus } from '../../lib/bus.js';
import { CodedError, ErrorCode } from '../../lib/errors.js';
import { Hash32, HexBytes, HexQuantity, quantity } from '../../lib/hex.js';
import type { Logger } from '../../lib/logger.js';
import { subjects } from '../../lib/subjects.js';
import { createLandedIndex, type AbsentMark } from './landed.js';
import { createLru, type Lru } from './lru.js';
import { READ_RETRY, WRITE_RETRY, isUndelivered, isUnavailable, realClock, retrying, type Clock, type RetryPolicy } from './retry.js';
import { createSubmitBatcher, type SubmitBatcherOptions, type SubmitTx } from './submit-batcher.js';
import {
  PayloadKey,
  TmReceiveReply,
  type PayloadKey as PayloadKeyT,
  type ReceivedPayload,
  type TmSendRequest,
} from '../tm/messages.js';
import type { StateKind } from '../../lib/subjects.js';

export type { SubmitTx } from './submit-batcher.js';

export interface Backend {
  /**
   * The latest executed block, kept from blockExecuted events (the ledger is asked only when none came for a
   * while, and then a slow answer is not waited for); `fresh` forces a ledger query.
   */
  head(opts?: { fresh?: boolean }): Promise<HeadT>;
  /** Named tags ('latest', ...) resolve to head(); blocks are final, so recent ones are served from a cache. */
  blockByNumber(block: BlockTag, fullTransactions: boolean): Promise<RpcBlockT | null>;
  blockByHash(hash: string, fullTransactions: boolean): Promise<RpcBlockT | null>;
  transaction(hash: string): Promise<RpcTransactionT | null>;
  receipt(hash: string): Promise<RpcReceiptT | null>;
  logs(filter: LogFilter): Promise<RpcLogT[]>;
  /**
   * Return data (hex); a revert is a CodedError(ExecutionReverted) with data = revert data. A call to a private
   * contract this participant holds runs on its private state; `private` forces that.
   */
  call(call: CallRequest, block: BlockTag, opts?: { private?: boolean }): Promise<string>;
  /** Gas (hex quantity). */
  estimateGas(call: CallRequest, block: BlockTag, opts?: { private?: boolean }): Promise<string>;
  /** State at a resolved block number; null when the account does not exist. Default: public state. */
  account(address: string, block: bigint, kind?: StateKind): Promise<AccountStateT | null>;
  code(address: string, block: bigint, kind?: StateKind): Promise<string>;
  storage(address: string, slot: string, block: bigint, kind?: StateKind): Promise<string>;
  /** What this participant recorded about a private contract, or null. */
  privacyMetadata(address: string): Promise<PrivacyMetadataT | null>;
  /** The tm: seal, store and push a payload to every recipient (every ACK received), answering its hash. */
  tmSend(req: TmSendRequest): Promise<PayloadKeyT>;
  tmStoreRaw(payload: string, from?: string): Promise<PayloadKeyT>;
  tmSendSigned(hash: string, to: string[], privacyFlag: 0 | 1 | 3): Promise<PayloadKeyT>;
  /** Decrypted payloads; found: false where this participant is not a party. */
  tmReceive(hashes: string[]): Promise<ReceivedPayload[]>;
  /** The pool's next expected nonce for the address, null when the pool holds none of its transactions. */
  poolNonce(address: string): Promise<bigint | null>;
  consensusStatus(): Promise<ConsensusStatusT>;
  /** An operator's istanbul_* / raft_* call, answered by the consensus core; CodedError when it refuses. */
  consensusCommand(method: string, params: unknown[]): Promise<unknown>;
  /** Resolves when consensus accepted the transaction into its pool; rejects with a CodedError otherwise. */
  submit(tx: SubmitTx): Promise<void>;
}

/** Reply schemas the gateway expects, request by request. */
const Replies = {
  head: Head,
  blockByNumber: RpcBlock.nullable(),
  blockByHash: RpcBlock.nullable(),
  transaction: RpcTransaction.nullable(),
  receipt: RpcReceipt.nullable(),
  logs: z.array(RpcLog),
  call: HexBytes,
  estimateGas: HexQuantity,
  stateAccount: AccountState.nullable(),
  stateCode: HexBytes,
  stateStorage: Hash32,
  poolNonce: PoolNonceReply,
  consensusStatus: ConsensusStatus,
  consensusCommand: ConsensusCommandReply,
  submit: SubmitResult,
  privacyMetadata: PrivacyMetadata.nullable(),
  payloadKey: PayloadKey,
  tmReceive: TmReceiveReply,
} as const;

export interface BusBackendOptions {
  log: Logger;
  /**
   * How a read is asked again while its actor is away or busy (default READ_RETRY: ~10 s in all, 2.5 s per
   * attempt), and a write that reached nobody (default WRITE_RETRY: ~4 s). What is still unanswered after it
   * is Unavailable ('temporarily unavailable, retry'). Overrides apply to both.
   */
  retry?: Partial<RetryPolicy>;
  /** Submit timeout (ms); consensus may have to forward to the leader. Never sent twice after a timeout. */
  submitTimeoutMs?: number;
  /** A cached head older than this (with no blockExecuted event since) is refreshed by a query when asked for. */
  headMaxAgeMs?: number;
  /** How long a read waits for the refresh of a stale cached head before it is answered from the cache. */
  staleHeadWaitMs?: number;
  /** Blocks kept as the ledger answered them (stored blocks are final). Default 64 entries, 20,000 transactions. */
  blockCache?: { maxEntries?: number; maxTransactions?: number };
  /**
   * Receipts and transactions kept as the ledger answered them (final once there; default 4096 each), and how
   * many hashes of landed transactions are remembered to answer "not yet" without the ledger (default 50,000).
   */
  txCache?: { maxEntries?: number; landedHashes?: number };
  batching?: SubmitBatcherOptions;
  clock?: Clock;
}

export interface BusBackend extends Backend {
  /** Subscribes to blockExecuted and tries to load the head (a ledger that is not up yet is not fatal). */
  start(): Promise<void>;
  /** Rejects queued submissions; the bus itself is closed by its owner. */
  stop(): void;
}

const NAMED_TAGS = new Set(['latest', 'pending', 'safe', 'finalized']);

/** One request for every caller asking for the same key while it is under way (`inflight` holds them). */
function singleFlight<V>(inflight: Map<string, Promise<V>>, key: string, fetch: () => Promise<V>): Promise<V> {
  let p = inflight.get(key);
  if (!p) {
    p = fetch().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  return p;
}
/** The tm may push to every recipient and wait for each ACK: it gets longer than a read. */
const TM_TIMEOUT_MS = 15_000;

export function createBusBackend(bus: Bus, opts: BusBackendOptions): BusBackend {
  const { log } = opts;
  const scope = bus.scope;
  const clock = opts.clock ?? realClock;
  const readPolicy: RetryPolicy = { ...READ_RETRY, ...opts.retry };
  const writePolicy: RetryPolicy = { ...WRITE_RETRY, ...opts.retry };
  const submitTimeoutMs = opts.submitTimeoutMs ?? 5000;
  const headMaxAgeMs = opts.headMaxAgeMs ?? 2000;
  const staleHeadWaitMs = opts.staleHeadWaitMs ?? 1000;

  /** One request; the reply's shape is checked. */
  async function askOnce<T>(subject: string, payload: unknown, schema: ZodType<T>, what: string, timeoutMs: number): Promise<T> {
    const body = await bus.request(subject, payload, z.unknown(), { timeoutMs });
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      log.error('unexpected reply shape', { subject, what, issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) });
      throw new CodedError(ErrorCode.Internal, `unexpected reply to ${what}`);
    }
    return parsed.data;
  }

  /** A read has no effect: asked again while its actor is away or busy, within the read budget. */
  const read = <T>(subject: string, payload: unknown, schema: ZodType<T>, what: string): Promise<T> =>
    retrying((timeoutMs) => askOnce(subject, payload, schema, what, timeoutMs), { policy: readPolicy, retryable: isUnavailable, what, clock });

  /** A write (or a request too heavy to repeat): asked again only when it reached no one. */
  const write = <T>(subject: string, payload: unknown, schema: ZodType<T>, what: string, timeoutMs: number): Promise<T> =>
    retrying(() => askOnce(subject, payload, schema, what, timeoutMs), { policy: writePolicy, retryable: isUndelivered, what, clock });

  const ledger = <T>(query: LedgerQuery, schema: ZodType<T>) => read(subjects.ledgerQuery(scope), query, schema, `ledger ${query.kind}`);
  const state = <T>(stateRead: StateRead, schema: ZodType<T>, kind: StateKind = 'public') =>
    read(subjects.stateRead(scope, kind), stateRead, schema, `${kind} state ${stateRead.kind}`);
  const tm = <T>(subject: string, payload: unknown, schema: ZodType<T>, what: string) => write(subject, payload, schema, what, TM_TIMEOUT_MS);

  // ---- head tracking: blockExecuted events keep it; the ledger is asked only when none came for a while ---------
  let head: HeadT | null = null;
  let headAt = 0;
  let refreshing: Promise<HeadT> | null = null;

  const offer = (h: HeadT) => {
    if (!head || BigInt(h.number) >= BigInt(head.number)) head = h;
    headAt = clock.now();
  };
  /** The ledger's own head (a query): also tells the landed index which blocks' events it may have missed. */
  const offerFromLedger = (h: HeadT) => {
    offer(h);
    landed.noteHead(BigInt(h.number));
  };

  const refreshHead = (): Promise<HeadT> => {
    refreshing ??= ledger({ kind: 'head' }, Replies.head)
      .then((h) => {
        offerFromLedger(h);
        return head!;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

  async function currentHead(o?: { fresh?: boolean }): Promise<HeadT> {
    const fresh = o?.fresh === true;
    if (head && !fresh && clock.now() - headAt <= headMaxAgeMs) return head;
    const refresh = refreshHead();
    if (!head || fresh) return refresh;
    // Stale (no event for a while: an idle chain, or a missed event): the refresh gets a moment, then the cached
    // head answers; the refresh goes on and updates the cache when it lands.
    const cached = head;
    return new Promise<HeadT>((resolve) => {
      const timer = setTimeout(() => resolve(cached), staleHeadWaitMs);
      refresh.then(
        (h) => {
          clearTimeout(timer);
          resolve(h);
        },
        () => {
          clearTimeout(timer);
          resolve(head ?? cached);
        },
      );
    });
  }

  // ---- blocks: final once stored, so a copy of what the ledger answered is kept (bounded) and shared -----------
  const blockCache = createLru<string, RpcBlockT>({
    maxEntries: opts.blockCache?.maxEntries ?? 64,
    maxWeight: opts.blockCache?.maxTransactions ?? 20_000,
    weight: (b) => 1 + b.transactions.length,
  });
  const blockReads = new Map<string, Promise<RpcBlockT | null>>();
  const blockKey = (id: string, full: boolean) => `${full ? 'full' : 'hashes'}:${id.toLowerCase()}`;

  /** From the cache, else one request for every caller that asks for the same block meanwhile. */
  function block(key: string, full: boolean, fetch: () => Promise<RpcBlockT | null>): Promise<RpcBlockT | null> {
    const hit = blockCache.get(key);
    if (hit) return Promise.resolve(hit);
    return singleFlight(blockReads, key, () =>
      fetch().then((b) => {
        if (b) {
          blockCache.set(blockKey(b.number, full), b);
          blockCache.set(blockKey(b.hash, full), b);
        }
        return b;
      }),
    );
  }

  // ---- receipts and transactions: final once there; "not yet" answered from blockExecuted while it holds ---------
  const landed = createLandedIndex({ capacity: opts.txCache?.landedHashes ?? 50_000, maxAgeMs: headMaxAgeMs, now: () => clock.now() });
  const absent = createLru<string, AbsentMark>({ maxEntries: 20_000 });
  const receipts = createLru<string, RpcReceiptT>({ maxEntries: opts.txCache?.maxEntries ?? 4096, maxWeight: 50_000, weight: (r) => 1 + r.logs.length });
  const transactions = createLru<string, RpcTransactionT>({ maxEntries: opts.txCache?.maxEntries ?? 4096 });
  const txReads = new Map<string, Promise<unknown>>(); // receipts and transactions, keyed by kind and hash
  /** Only what is in a block is final (a transaction answer could in principle be a pending one). */
  const final = (v: { blockHash: string | null }) => v.blockHash !== null;

  /**
   * A receipt or transaction by hash: from the cache; or null when the ledger said "none" and no block seen since
   * held it; else one ledger request for every caller asking meanwhile.
   */
  function byHash<T extends { blockHash: string | null }>(kind: 'receipt' | 'transaction', hash: string, cache: Lru<string, T>, fetch: () => Promise<T | null>): Promise<T | null> {
    const key = hash.toLowerCase();
    const hit = cache.get(key);
    if (hit) return Promise.resolve(hit);
    const id = `${kind}:${key}`;
    const mark = absent.get(id);
    if (mark && landed.stillAbsent(key, mark)) return Promise.resolve(null);
    return singleFlight(txReads as Map<string, Promise<T | null>>, id, () => {
      const before = landed.mark(); // taken before asking: "none" is true at least up to it
      return fetch().then((value) => {
        if (value === null) {
          if (before) absent.set(id, before);
        } else if (final(value)) cache.set(key, value);
        return value;
      });
    });
  }

  // ---- account reads: single-flight per (address, block), and a burst of them is one request -----------
  const accountReads = new Map<string, Promise<AccountStateT | null>>();
  const pendingReads = new Map<bigint, { address: string; resolve: (a: AccountStateT | null) => void; reject: (e: unknown) => void }[]>();
  const flushReads = (block: bigint) => {
    const waiters = pendingReads.get(block) ?? [];
    pendingReads.delete(block);
    if (waiters.length === 0) return;
    state({ kind: 'accounts', addresses: waiters.map((w) => w.address), block: quantity(block) }, z.array(Replies.stateAccount).length(waiters.length)).then(
      (accounts) => waiters.forEach((w, i) => w.resolve(accounts[i])),
      (err) => waiters.forEach((w) => w.reject(err)),
    );
  };
  const readAccount = (address: string, block: bigint) =>
    new Promise<AccountStateT | null>((resolve, reject) => {
      let waiters = pendingReads.get(block);
      if (!waiters) {
        pendingReads.set(block, (waiters = []));
        setImmediate(() => flushReads(block)); // what arrives within this turn of the event loop goes together
      }
      waiters.push({ address, resolve, reject });
      if (waiters.length >= 1000) flushReads(block);
    });

  // A submission that timed out may have been received: it is not sent again (the client may; consensus' pool
  // takes the same transaction twice as once, by hash).
  const batcher = createSubmitBatcher((transactions, traceparents) => write(subjects.submitTxs(scope), { transactions, ...(traceparents.some(Boolean) ? { traceparents } : {}) }, Replies.submit, 'submit', submitTimeoutMs), opts.batching);

  return {
    async start() {
      bus.subscribe(subjects.blockReceipts(scope), BlockReceipts, (ev) => {
        for (const r of ev.receipts) if (final(r)) receipts.set(r.transactionHash.toLowerCase(), r);
      });
      bus.subscribe(subjects.blockExecuted(scope), BlockExecuted, (ev) => {
        landed.noteBlock(BigInt(ev.number), ev.transactions);
        offer({ number: ev.number, hash: ev.hash, stateRoot: ev.stateRoot, timestamp: ev.timestamp, gasLimit: ev.gasLimit });
      });
      try {
        offerFromLedger(await askOnce(subjects.ledgerQuery(scope), { kind: 'head' }, Replies.head, 'ledger head', readPolicy.attemptTimeoutMs));
      } catch (err) {
        log.warn('head not available yet; will ask again when needed', { reason: (err as Error).message });
      }
    },

    stop() {
      batcher.close();
    },

    head: currentHead,

    async blockByNumber(tag, fullTransactions) {
      const n = tag === 'earliest' ? 0n : NAMED_TAGS.has(tag) ? BigInt((await currentHead()).number) : BigInt(tag);
      const number = quantity(n);
      return block(blockKey(number, fullTransactions), fullTransactions, () =>
        ledger({ kind: 'blockByNumber', block: number, fullTransactions }, Replies.blockByNumber),
      );
    },
    blockByHash: (hash, fullTransactions) =>
      block(blockKey(hash, fullTransactions), fullTransactions, () => ledger({ kind: 'blockByHash', hash, fullTransactions }, Replies.blockByHash)),
    transaction: (hash) => byHash('transaction', hash, transactions, () => ledger({ kind: 'transaction', hash }, Replies.transaction)),
    receipt: (hash) => byHash('receipt', hash, receipts, () => ledger({ kind: 'receipt', hash }, Replies.receipt)),
    logs: (filter) => ledger({ kind: 'logs', filter }, Replies.logs),
    call: (call, block, o) => ledger({ kind: 'call', call, block, ...(o?.private ? { private: true } : {}) }, Replies.call),
    estimateGas: (call, block, o) => ledger({ kind: 'estimateGas', call, block, ...(o?.private ? { private: true } : {}) }, Replies.estimateGas),
    privacyMetadata: (address) => ledger({ kind: 'privacyMetadata', address }, Replies.privacyMetadata),

    tmSend: (req) => tm(subjects.tmSend(scope), req, Replies.payloadKey, 'tm send'),
    tmStoreRaw: (payload, from) => tm(subjects.tmStoreRaw(scope), { payload, ...(from ? { from } : {}) }, Replies.payloadKey, 'tm storeRaw'),
    tmSendSigned: (hash, to, privacyFlag) => tm(subjects.tmSendSigned(scope), { hash, to, privacyFlag }, Replies.payloadKey, 'tm sendSigned'),
    tmReceive: async (hashes) => (await tm(subjects.tmReceive(scope), { hashes }, Replies.tmReceive, 'tm receive')).payloads,

    account(address, block, kind = 'public') {
      if (kind === 'private') return state({ kind: 'account', address, block: quantity(block) }, Replies.stateAccount, 'private');
      return singleFlight(accountReads, `${address.toLowerCase()}@${block}`, () => readAccount(address, block));
    },
    code: (address, block, kind = 'public') => state({ kind: 'code', address, block: quantity(block) }, Replies.stateCode, kind),
    storage: (address, slot, block, kind = 'public') => state({ kind: 'storage', address, slot, block: quantity(block) }, Replies.stateStorage, kind),

    async poolNonce(address) {
      const r = await read(subjects.poolNonce(scope), { address }, Replies.poolNonce, 'pool nonce');
      return r.nextNonce === null ? null : BigInt(r.nextNonce);
    },
    consensusStatus: () => read(subjects.consensusStatus(scope), {}, Replies.consensusStatus, 'consensus status'),
    // Not retried: a membership change must not be proposed twice because an answer was slow.
    consensusCommand: async (method, params) => (await write(subjects.consensusCommand(scope), { method, params }, Replies.consensusCommand, method, submitTimeoutMs)).result,
    submit: (tx) => batcher.submit(tx),
  };
}
