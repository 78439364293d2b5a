/**
 * The block executor's shell: feeds committed blocks, in order, to the execution engine; stores each block,
 * its transactions, receipts, logs, the trie entries it wrote (into the public and private state stores'
 * tables) and its BlockExecuted event in one Postgres transaction, then publishes the event (on which the
 * state stores load the new entries).
 * Missed or early blocks are fetched from consensus, so a restart or a dropped message loses nothing.
 */
import { z } from 'zod';
import type { Sql, TransactionSql } from 'postgres';
import type { Bus } from '../../../lib/bus.js';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { EventStore, StoredEvent } from '../../../lib/event-store/event-store.js';
import { decodeEvent } from '../../../lib/event-store/event-store.js';
import { migrate } from '../../../lib/event-store/migrations.js';
import { fromHex, quantity, toHex } from '../../../lib/hex.js';
import type { Logger } from '../../../lib/logger.js';
import type { NetworkDescription } from '../../../lib/network/description.js';
import { subjects, type StateKind } from '../../../lib/subjects.js';
import { Attr, inSpan, linksTo, tracer } from '../../../lib/tracing.js';
import { CommittedBlock, CommittedRangeReply } from '../../consensus/messages.js';
import { BlockExecuted, LedgerQuery, type BlockReceipts, type TransactionsDroppedReport } from './messages.js';
import { StateNodesReply } from '../state/messages.js';
import { batchInserts, migrationOwner, packEntries, stateMigrations, type BatchRow } from '../state/node-batches.js';
import { TmReceiveReply, type ReceivedPayload } from '../../tm/messages.js';
import { blockInserts, BlockQueries, blockStoreMigrations } from './block-store.js';
import { ExecutionEngine, type ExecutedBlock } from './engine.js';
import { createQueryHandler } from './queries.js';

export const BLOCKS_STREAM = 'ledger-blocks';

/** The stored event: the published message plus what an auditor needs to link it to consensus. */
export const BlockExecutedEvent = BlockExecuted.extend({
  parentHash: z.string(),
  receiptsRoot: z.string(),
  raftIndex: z.number().int().nonnegative(),
  raftTerm: z.number().int().nonnegative(),
});
export type BlockExecutedEvent = z.infer<typeof BlockExecutedEvent>;

export interface ExecutorDeps {
  network: NetworkDescription;
  bus: Bus;
  sql: Sql;
  store: EventStore;
  log: Logger;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Limits of one group commit when the executor is behind. */
const MAX_BATCH_BLOCKS = 50;
const MAX_BATCH_TXS = 5000;
/** Rows (blocks, txs, logs, ...) stored in one statement at most: ~10 parameters a row stays far below Postgres's 65,535. */
const ONE_STATEMENT_ROWS = 2000;
const t = tracer('quorum.executor');
/** How long marking events published waits for the broker to confirm it has read them. */
const PUBLISH_CONFIRM_MS = 5_000;

/** The BlockExecuted event of an executed block (the auditor's replay rebuilds it with this same function). */
export const blockExecutedEvent = (b: ExecutedBlock, source: { raftIndex: number; raftTerm: number }): BlockExecutedEvent => ({
      number: quantity(b.number),
      hash: b.hash,
      stateRoot: b.stateRoot,
      privateStateRoot: b.privateStateRoot,
      timestamp: quantity(b.timestamp),
      gasLimit: quantity(b.gasLimit),
      gasUsed: quantity(b.gasUsed),
      transactions: b.transactions.map((x) => x.hash),
      dropped: b.dropped.map((d) => d.hash),
      parentHash: b.parentHash,
      receiptsRoot: b.block.receiptsRoot,
      raftIndex: source.raftIndex,
      raftTerm: source.raftTerm,
});

export async function startExecutor(deps: ExecutorDeps): Promise<{ stop(): Promise<void> }> {
  const { network, bus, sql, store, log } = deps;
  const scope = bus.scope;
  await migrate(sql, 'executor', blockStoreMigrations);
  // The state stores own their tables' layout, but the executor writes their rows: whichever starts first creates them.
  for (const kind of ['public', 'private'] as const) await migrate(sql, migrationOwner(kind), stateMigrations(kind));
  const blocks = new BlockQueries(sql);
  let stopped = false;

  /** Ask the state store again until it answers: the executor cannot make durable progress without it. */
  async function untilAnswered<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (stopped || !(err instanceof CodedError) || err.code !== ErrorCode.Unavailable) throw err;
        if (attempt % 20 === 0) log.warn(`waiting for ${what}`, { attempt }, err);
        await sleep(Math.min(50 * (attempt + 1), 500));
      }
    }
  }

  const fetchNodesOf = (kind: StateKind) => async (keys: Uint8Array[]) => {
    const out: (Uint8Array | null)[] = [];
    for (let i = 0; i < keys.length; i += 4096) {
      const chunk = keys.slice(i, i + 4096);
      const reply = await untilAnswered(`${kind} trie nodes`, () => bus.request(subjects.stateNodes(scope, kind), { keys: chunk.map(toHex) }, StateNodesReply, { timeoutMs: 10_000 }));
      out.push(...reply.values.map((v) => (v === null ? null : fromHex(v))));
    }
    return out;
  };

  /**
   * The payloads of a block's private transactions, from our tm. While the tm is away or recovering we wait:
   * "no answer" must never be read as "not a recipient", or this participant's private state would fork.
   */
  const fetchPayloads = async (hashes: string[]) => {
    const out = new Map<string, ReceivedPayload>();
    for (let i = 0; i < hashes.length; i += 500) {
      const chunk = hashes.slice(i, i + 500);
      const reply = await untilAnswered('the transaction manager', () => bus.request(subjects.tmReceive(scope), { hashes: chunk }, TmReceiveReply, { timeoutMs: 10_000 }));
      for (const p of reply.payloads) out.set(p.hash.toLowerCase(), p);
    }
    for (const h of hashes) if (!out.has(h)) throw new CodedError(ErrorCode.Internal, `the transaction manager did not answer for payload ${h}`);
    return out;
  };

  /** A block's trie writes as the state store's rows (one per block and kind, even when empty). */
  const stateRowsOf = (kind: StateKind, batch: readonly ExecutedBlock[]): BatchRow[] =>
    batch.map((b) => {
      const entries = kind === 'public' ? b.nodes : b.privateNodes;
      return { blockNumber: b.number, blockHash: b.hash, stateRoot: kind === 'public' ? b.stateRoot : b.privateStateRoot, entryCount: entries.length, entries: packEntries(entries) };
    });


  /**
   * Consecutive blocks, their rows, their state and their BlockExecuted events, atomically: a block is stored
   * with its state or not at all, and costs one commit however many stores it feeds. Usually in one statement
   * (one round trip); a batch too large for one statement's parameters goes in a transaction instead.
   */
  const storeBlocks = async (batch: { executed: ExecutedBlock; source: { raftIndex: number; raftTerm: number } }[]) => {
    const executed = batch.map((x) => x.executed);
    const inserts = (q: Sql | TransactionSql) => [
      ...blockInserts(q, executed),
      ...batchInserts(q, 'public', stateRowsOf('public', executed)),
      ...batchInserts(q, 'private', stateRowsOf('private', executed)),
    ];
    const events = batch.map((x) => ({ type: 'BlockExecuted', payload: blockExecutedEvent(x.executed, x.source), publishSubject: subjects.blockExecuted(scope) }));
    const first = Number(batch[0].executed.number);
    let rows = 0;
    for (const b of executed) rows += 1 + b.transactions.length + b.logs.length + b.privateReceipts.length + b.privateLogs.length + b.privateContracts.length + b.dropped.length;
    const stored =
      rows <= ONE_STATEMENT_ROWS
        ? await store.appendWith(BLOCKS_STREAM, first, events, inserts)
        : await store.transaction(async (tx) => {
            // Issued together, so the client pipelines them; the append stays last in order.
            const [, appended] = await Promise.all([Promise.all(inserts(tx)), store.append(BLOCKS_STREAM, first, events, tx)]);
            return appended;
          });
    blocks.recent.remember(executed); // stored, so final: recent reads are answered from memory
    for (const { executed: b } of batch) {
      for (const d of b.dropped) log.warn('dropped a committed transaction', { hash: d.hash, reason: d.reason, block: b.number });
    }
    return stored;
  };

  // Outbox: publish right after the commit; mark published in batches (a crash in between only means a
  // re-publication at start, which consumers ignore).
  let toMark: number[] = [];
  const publish = (events: StoredEvent[]) => {
    for (const e of events) {
      if (!e.publishSubject) continue;
      bus.publish(e.publishSubject, e.payload);
      const ev = e.payload as BlockExecutedEvent;
      if (e.type === 'BlockExecuted' && ev.dropped.length > 0) {
        const report: TransactionsDroppedReport = { number: ev.number, dropped: ev.dropped };
        bus.publish(subjects.transactionsDropped(scope), report);
      }
    }
    toMark.push(...events.map((e) => e.globalPosition));
  };
  /** Receipts go out before the block's BlockExecuted, so the gateway has them when it learns of the block. */
  const publishReceipts = (b: ExecutedBlock) => {
    if (b.transactions.length === 0) return;
    const privateReceipts = new Map(b.privateReceipts.map((r) => [r.transactionHash, r]));
    const message: BlockReceipts = { number: quantity(b.number), receipts: b.transactions.map((t, i) => privateReceipts.get(t.hash) ?? b.receipts[i]) };
    try {
      bus.publish(subjects.blockReceipts(scope), message);
    } catch (err) {
      // Too large for one message (a block of many logs): the gateway asks for each receipt instead.
      log.debug('block receipts not sent', { block: message.number, reason: (err as Error).message });
    }
  };

  /**
   * Events are marked published only once the broker has read them: a message kept by the bus through a broker
   * outage is sent again after the reconnect, but if this process also died meanwhile, the unmarked events are
   * what the next start publishes again.
   */
  const markPublished = async () => {
    const batch = toMark;
    toMark = [];
    if (batch.length === 0) return;
    if (!(await bus.published(PUBLISH_CONFIRM_MS))) {
      toMark = batch.concat(toMark); // the broker is away: marked with the next block's, once it has read them
      return;
    }
    await store.markPublished(batch).catch((err) => log.warn('could not mark events published', {}, err));
  };

  // ---- restore: the head is the last BlockExecuted event; state comes lazily from the state store
  const lastEvents = await store.readStream(BLOCKS_STREAM, Math.max(1, await store.streamPosition(BLOCKS_STREAM)), 1);
  const last = lastEvents.length ? decodeEvent(lastEvents[0], BlockExecutedEvent) : null;
  const engine = await ExecutionEngine.create({
    network,
    fetchNodes: fetchNodesOf('public'),
    fetchPrivateNodes: fetchNodesOf('private'),
    payloads: fetchPayloads,
    privateContracts: await blocks.privateContracts(),
    blockHash: (n) => blocks.hashOf(n),
    head: last
      ? {
          number: BigInt(last.number),
          hash: last.hash,
          stateRoot: last.stateRoot,
          privateStateRoot: last.privateStateRoot,
          timestamp: BigInt(last.timestamp),
          gasLimit: BigInt(last.gasLimit),
        }
      : undefined,
    // Entries of stored blocks can be fetched again from the state store, so the cache may be bounded.
    nodeCacheLimit: 2_000_000,
  });
  // What a crash left unpublished goes out first (before anything this start stores and publishes itself).
  publish(await store.unpublished());
  if (!last) {
    const genesis = engine.genesis();
    if (!genesis) throw new Error('engine built no genesis block');
    publish(await storeBlocks([{ executed: genesis, source: { raftIndex: 0, raftTerm: 0 } }]));
    log.info('genesis stored', { hash: genesis.hash, stateRoot: genesis.stateRoot });
  }
  /** The last block whose data and event are stored: what queries see, and where a failed block rolls back to. */
  let storedHead = engine.head();
  log.info('executor at head', { number: storedHead.number, hash: storedHead.hash });

  // ---- the block pipeline: strictly in height order; consecutive ready blocks are stored together
  const waiting = new Map<number, CommittedBlock>();
  let running = false;
  let pulling = false;

  const nextHeight = () => Number(storedHead.number) + 1;

  /**
   * Run every block that is ready, in order. When blocks queue up (we were behind), consecutive ones are
   * stored together: one request to the state store and one Postgres transaction for the lot, so the fixed
   * cost per block shrinks exactly when the executor needs to catch up.
   */
  async function executeReady(): Promise<void> {
    if (running) return;
    running = true;
    try {
      while (!stopped && waiting.has(nextHeight())) {
        const batch: { executed: ExecutedBlock; source: CommittedBlock }[] = [];
        let txs = 0;
        await inSpan(t, 'executor blocks', { [Attr.blockNumber]: nextHeight(), [Attr.participant]: scope.participant }, async (span) => {
          const t0 = performance.now();
          try {
            for (let h = nextHeight(); waiting.has(h) && batch.length < MAX_BATCH_BLOCKS && txs < MAX_BATCH_TXS; h++) {
              const source = waiting.get(h)!;
              waiting.delete(h);
              batch.push({ executed: await engine.executeBlock(source), source });
              txs += source.transactions.length;
              // Every transaction's trace reaches its execution here, through a link (no span per transaction).
              if (source.traceparents) span.addLinks(linksTo(source.traceparents));
            }
            const t1 = performance.now();
            span.setAttributes({ [Attr.lastBlockNumber]: batch[batch.length - 1].source.height, [Attr.batchSize]: txs });
            const events = await storeBlocks(batch);
            storedHead = engine.head();
            for (const { executed } of batch) publishReceipts(executed);
            publish(events);
            log.debug('blocks stored', { from: batch[0].source.height, blocks: batch.length, txs, executeMs: Math.round(t1 - t0), storeMs: Math.round(performance.now() - t1) });
          } catch (err) {
            // Not stored: take the engine back to the stored head, so these blocks run again (pulled anew).
            await engine.resetTo(storedHead);
            throw err;
          }
        });
      }
      for (const h of waiting.keys()) if (h < nextHeight()) waiting.delete(h);
    } catch (err) {
      log.error('block execution failed; will retry', { height: nextHeight() }, err);
    } finally {
      running = false;
    }
    if (waiting.size > 0 && !waiting.has(nextHeight())) void pull();
  }

  /** Fetch committed blocks we have not seen from our consensus actor. */
  async function pull(): Promise<void> {
    if (pulling || stopped) return;
    pulling = true;
    try {
      for (;;) {
        const from = nextHeight();
        const reply = await bus.request(subjects.committedRange(scope), { fromHeight: from, max: 100 }, CommittedRangeReply, { timeoutMs: 10_000 });
        for (const b of reply.blocks) if (b.height >= from) waiting.set(b.height, b);
        await executeReady();
        // Stop when consensus has nothing newer, or when we made no progress (retried by the poller later).
        if (reply.blocks.length === 0 || nextHeight() === from || stopped) break;
      }
    } catch (err) {
      if (!(err instanceof CodedError && err.code === ErrorCode.Unavailable)) log.warn('could not fetch committed blocks', {}, err);
    } finally {
      pulling = false;
    }
  }

  /** Highest height we hold or have stored: a block above highest + 1 means we missed some. */
  const highestKnown = () => {
    let h = nextHeight() - 1;
    for (const k of waiting.keys()) if (k > h) h = k;
    return h;
  };

  bus.subscribe(subjects.committedBlocks(scope), CommittedBlock, (block) => {
    if (block.height < nextHeight() || waiting.has(block.height)) return; // already have it: consumers are idempotent
    const gap = block.height > highestKnown() + 1;
    waiting.set(block.height, block);
    if (gap) void pull();
    else void executeReady();
  });

  const answer = createQueryHandler(engine, blocks, () => storedHead);
  bus.serve(subjects.ledgerQuery(scope), LedgerQuery, (q) => answer(q));

  void pull();
  // A committed-block message can be lost while we or the broker restart: look for missed blocks regularly.
  const poller = setInterval(() => {
    void pull();
    void markPublished();
  }, 1000);

  return {
    async stop() {
      stopped = true;
      clearInterval(poller);
      while (running) await sleep(5);
      await markPublished();
    },
  };
}
