/**
 * The state store, one module run twice per participant: the public state, and this participant's private
 * state (subjects, table and migrations by kind; the private one never leaves its participant). It serves
 * state reads at any block to the gateway, and trie entries to the executor when its cache misses (after a
 * restart). The executor writes each block's trie entries into this store's table in the same transaction
 * as the block; the store indexes them by key (node-batches.ts) when the block is announced (BlockExecuted) or
 * when a read or the executor asks for what it does not hold yet, and keeps a bounded cache of them in memory
 * (node-cache.ts): memory does not grow with the history, nor does a restart's work. Reads never wait on
 * execution.
 */
import type { Sql } from 'postgres';
import type { Bus } from '../../../lib/bus.js';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { migrate } from '../../../lib/event-store/migrations.js';
import { fromHex, quantity, toHex } from '../../../lib/hex.js';
import type { Logger } from '../../../lib/logger.js';
import { subjects, type StateKind } from '../../../lib/subjects.js';
import { Attr, contextOf, inSpan, tracer } from '../../../lib/tracing.js';
import { BlockExecuted } from '../executor/messages.js';
import { StateNodesRequest, StateRead } from './messages.js';
import { indexBatches, migrationOwner, readBatches, readIndexedHeight, readNodes, readStateRoot, stateMigrations, type BatchRow } from './node-batches.js';
import { NodeCache } from './node-cache.js';
import { readAccount, readCode, readStorage, StateNotAvailableError, type AccountFields } from './trie-reader.js';

const accountState = (a: AccountFields | null) =>
  a && { nonce: quantity(a.nonce), balance: quantity(a.balance), codeHash: a.codeHash, storageRoot: a.storageRoot };

export interface StateStoreDeps {
  kind: StateKind;
  bus: Bus;
  sql: Sql;
  log: Logger;
  /** Trie entries kept in memory (default: QUORUM_STATE_CACHE_ENTRIES, else 250,000). */
  cacheEntries?: number;
}

/** Trie entries kept in memory per store (QUORUM_STATE_CACHE_ENTRIES): about 150 bytes each plus the Map's own. */
const DEFAULT_CACHE_ENTRIES = 250_000;
/** State roots of the most recent blocks kept in memory; older ones are read from the batches table. */
const RECENT_ROOTS = 4096;
/** Batches indexed per transaction when catching up (a restart after many blocks, a burst). */
const INDEX_GROUP = 64;

function cacheEntriesFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env.QUORUM_STATE_CACHE_ENTRIES;
  if (raw === undefined || raw.trim() === '') return DEFAULT_CACHE_ENTRIES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`QUORUM_STATE_CACHE_ENTRIES must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export async function startStateStore(deps: StateStoreDeps): Promise<{ stop(): Promise<void> }> {
  const { bus, sql, log, kind } = deps;
  const scope = bus.scope;
  await migrate(sql, migrationOwner(kind), stateMigrations(kind));

  const cache = new NodeCache(deps.cacheEntries ?? cacheEntriesFromEnv(), (keys) => readNodes(sql, kind, keys));
  /** The trie reader's view: 0x-prefixed keys. */
  const nodes = { get: (keyHex: string) => cache.get(keyHex.slice(2).toLowerCase()) };
  const roots = new Map<bigint, string>();
  let height = await readIndexedHeight(sql, kind);
  const index = async (group: BatchRow[]) => {
    if (group.length === 0) return;
    if (group[0].blockNumber !== height + 1n) {
      throw new CodedError(ErrorCode.Internal, `state batches out of order: indexed up to block ${height}, read block ${group[0].blockNumber}`);
    }
    cache.add(await indexBatches(sql, kind, group));
    for (const b of group) {
      roots.set(b.blockNumber, b.stateRoot);
      roots.delete(b.blockNumber - BigInt(RECENT_ROOTS));
    }
    height = group[group.length - 1].blockNumber;
  };

  /**
   * Indexes the batches stored since the last time. Single flight: a call while one runs makes it read once
   * more, so whoever awaits sees every row committed before its call.
   */
  let catching: Promise<void> | null = null;
  let again = false;
  const catchUp = (): Promise<void> => {
    if (catching) {
      again = true;
      return catching;
    }
    catching = (async () => {
      do {
        again = false;
        let group: BatchRow[] = [];
        for await (const batch of readBatches(sql, kind, height, INDEX_GROUP)) {
          group.push(batch);
          if (group.length >= INDEX_GROUP) {
            await index(group);
            group = [];
          }
        }
        await index(group);
      } while (again);
    })().finally(() => {
      catching = null;
    });
    return catching;
  };

  const indexedBefore = height;
  await catchUp();
  log.info('state store ready', { kind, height, indexedAtStart: Number(height - indexedBefore), cached: cache.size, cacheEntries: deps.cacheEntries ?? cacheEntriesFromEnv() });

  // The public store loads each block as it is announced (the gateway reads accounts at the head for every
  // submission); the private one is read rarely, so it loads when a read or the executor needs a newer block.
  // The load is a child of the executor's block span, so a transaction's trace shows its state reaching the store.
  const t = tracer(`quorum.${kind === 'public' ? 'state' : 'privateState'}`);
  if (kind === 'public') bus.subscribe(subjects.blockExecuted(scope), BlockExecuted, (ev, ctx) => {
    if (BigInt(ev.number) <= height) return;
    inSpan(t, 'state load block', { [Attr.blockNumber]: Number(ev.number), [Attr.participant]: scope.participant }, () => catchUp(), contextOf(ctx.traceparent)).catch((err) =>
      log.warn('could not load announced state; will load it when asked', { block: ev.number }, err),
    );
  });

  /** The root of the state at `number`, indexing what was stored since the last time if need be. */
  const rootAt = async (number: bigint): Promise<string | undefined> => {
    if (number > height) await catchUp();
    if (number > height) return undefined;
    return roots.get(number) ?? (await readStateRoot(sql, kind, number)) ?? undefined;
  };

  const lookup = (keys: string[]) => cache.getMany(keys.map((k) => k.slice(2).toLowerCase()));

  bus.serve(subjects.stateNodes(scope, kind), StateNodesRequest, async (req) => {
    let values = await lookup(req.keys);
    // The executor only asks for entries of blocks it stored: what we miss was stored since we last indexed.
    if (values.some((v) => v === undefined)) {
      await catchUp();
      values = await lookup(req.keys);
    }
    return { values: values.map((v) => (v ? toHex(v) : null)) };
  });

  bus.serve(subjects.stateRead(scope, kind), StateRead, async (req) => {
    const number = BigInt(req.block);
    const root = await rootAt(number);
    if (root === undefined) throw new CodedError(ErrorCode.NotFound, `header not found (state at block ${number} is not stored)`);
    try {
      switch (req.kind) {
        case 'account':
          return accountState(await readAccount(nodes, root, req.address.toLowerCase()));
        case 'accounts':
          return Promise.all(req.addresses.map(async (address) => accountState(await readAccount(nodes, root, address.toLowerCase()))));
        case 'code':
          return toHex(await readCode(nodes, root, req.address.toLowerCase()));
        case 'storage':
          return toHex(await readStorage(nodes, root, req.address.toLowerCase(), fromHex(req.slot)));
      }
    } catch (err) {
      if (err instanceof StateNotAvailableError) throw new CodedError(ErrorCode.NotFound, `state at block ${number} is not available`);
      throw err;
    }
  });

  return { async stop() { await catching?.catch(() => undefined); } };
}
