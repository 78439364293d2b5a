/**
 * What the gateway needs from the rest of its participant, as one interface (the RPC methods depend only
 * on this), and its implementation over the bus. Reply shapes are checked here; a reply that does not
 * match is the other actor's bug and surfaces as Internal, never as the client's invalid input.
 */
import { z, type ZodType } from 'zod';
import { ConsensusStatus, PoolNonceReply, SubmitResult, type ConsensusStatus as ConsensusStatusT } from '../consensus/messages.js';
import {
  BlockExecuted,
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
  /** The latest executed block (cached from blockExecuted events; `fresh` forces a ledger query). */
  head(opts?: { fresh?: boolean }): Promise<HeadT>;
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
  /** Resolves when consensus accepted the transaction into its pool; rejects with a CodedError otherwise. */
  submit(tx: SubmitTx): Promise<void>;
}

/** Reply schemas the gateway expects, request by request. */
export const Replies = {
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
  submit: SubmitResult,
  privacyMetadata: PrivacyMetadata.nullable(),
  payloadKey: PayloadKey,
  tmReceive: TmReceiveReply,
} as const;

export interface BusBackendOptions {
  log: Logger;
  /** Bus request timeout (ms). */
  timeoutMs?: number;
  /** Submit timeout (ms); consensus may have to forward to the leader. */
  submitTimeoutMs?: number;
  /** A cached head older than this (with no blockExecuted event since) is refreshed by a query when asked for. */
  headMaxAgeMs?: number;
  batching?: SubmitBatcherOptions;
}

export interface BusBackend extends Backend {
  /** Subscribes to blockExecuted and tries to load the head (a ledger that is not up yet is not fatal). */
  start(): Promise<void>;
  /** Rejects queued submissions; the bus itself is closed by its owner. */
  stop(): void;
}

export function createBusBackend(bus: Bus, opts: BusBackendOptions): BusBackend {
  const { log } = opts;
  const scope = bus.scope;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const headMaxAgeMs = opts.headMaxAgeMs ?? 2000;

  async function ask<T>(subject: string, payload: unknown, schema: ZodType<T>, what: string, timeout = timeoutMs): Promise<T> {
    const body = await bus.request(subject, payload, z.unknown(), { timeoutMs: timeout });
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      log.error('unexpected reply shape', { subject, what, issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) });
      throw new CodedError(ErrorCode.Internal, `unexpected reply to ${what}`);
    }
    return parsed.data;
  }

  const ledger = <T>(query: LedgerQuery, schema: ZodType<T>) => ask(subjects.ledgerQuery(scope), query, schema, `ledger ${query.kind}`);
  const state = <T>(read: StateRead, schema: ZodType<T>, kind: StateKind = 'public') =>
    ask(subjects.stateRead(scope, kind), read, schema, `${kind} state ${read.kind}`);
  /** The tm may push to every recipient and wait for each ACK: give it longer than a read. */
  const tm = <T>(subject: string, payload: unknown, schema: ZodType<T>, what: string) => ask(subject, payload, schema, what, Math.max(timeoutMs, 15_000));

  // ---- head tracking -------------------------------------------------------------------------------
  let head: HeadT | null = null;
  let headAt = 0;
  let refreshing: Promise<HeadT> | null = null;

  const offer = (h: HeadT) => {
    if (!head || BigInt(h.number) >= BigInt(head.number)) head = h;
    headAt = Date.now();
  };

  const refreshHead = (): Promise<HeadT> => {
    refreshing ??= ledger({ kind: 'head' }, Replies.head)
      .then((h) => {
        offer(h);
        return head!;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };

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

  const batcher = createSubmitBatcher(
    (transactions) => ask(subjects.submitTxs(scope), { transactions }, Replies.submit, 'submit', opts.submitTimeoutMs ?? timeoutMs),
    opts.batching,
  );

  return {
    async start() {
      bus.subscribe(subjects.blockExecuted(scope), BlockExecuted, (ev) => {
        offer({ number: ev.number, hash: ev.hash, stateRoot: ev.stateRoot, timestamp: ev.timestamp, gasLimit: ev.gasLimit });
      });
      try {
        await refreshHead();
      } catch (err) {
        log.warn('head not available yet; will ask again when needed', { reason: (err as Error).message });
      }
    },

    stop() {
      batcher.close();
    },

    async head(o) {
      if (head && !o?.fresh && Date.now() - headAt <= headMaxAgeMs) return head;
      try {
        return await refreshHead();
      } catch (err) {
        if (head && !o?.fresh) return head;
        throw err;
      }
    },

    blockByNumber: (block, fullTransactions) => ledger({ kind: 'blockByNumber', block, fullTransactions }, Replies.blockByNumber),
    blockByHash: (hash, fullTransactions) => ledger({ kind: 'blockByHash', hash, fullTransactions }, Replies.blockByHash),
    transaction: (hash) => ledger({ kind: 'transaction', hash }, Replies.transaction),
    receipt: (hash) => ledger({ kind: 'receipt', hash }, Replies.receipt),
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
      const key = `${address.toLowerCase()}@${block}`;
      let p = accountReads.get(key);
      if (!p) {
        p = readAccount(address, block).finally(() => accountReads.delete(key));
        accountReads.set(key, p);
      }
      return p;
    },
    code: (address, block, kind = 'public') => state({ kind: 'code', address, block: quantity(block) }, Replies.stateCode, kind),
    storage: (address, slot, block, kind = 'public') => state({ kind: 'storage', address, slot, block: quantity(block) }, Replies.stateStorage, kind),

    async poolNonce(address) {
      const r = await ask(subjects.poolNonce(scope), { address }, Replies.poolNonce, 'pool nonce');
      return r.nextNonce === null ? null : BigInt(r.nextNonce);
    },
    consensusStatus: () => ask(subjects.consensusStatus(scope), {}, Replies.consensusStatus, 'consensus status'),
    submit: (tx) => batcher.submit(tx),
  };
}
