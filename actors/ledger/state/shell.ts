/**
 * The state store, one module run twice per participant: the public state, and this participant's private
 * state (subjects, table and migrations by kind; the private one never leaves its participant). It serves
 * state reads at any block to the gateway, and trie entries to the executor when its cache misses (after a
 * restart). The executor writes each block's trie entries into this store's table in the same transaction
 * as the block; the store loads them into memory when the block is announced (BlockExecuted) or when a read
 * or the executor asks for what it does not hold yet. Reads come from memory, never waiting on execution.
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
import { migrationOwner, readBatches, stateMigrations, unpackEntries, type BatchRow } from './node-batches.js';
import { readAccount, readCode, readStorage, StateNotAvailableError, type AccountFields } from './trie-reader.js';

const accountState = (a: AccountFields | null) =>
  a && { nonce: quantity(a.nonce), balance: quantity(a.balance), codeHash: a.codeHash, storageRoot: a.storageRoot };

export interface StateStoreDeps {
  kind: StateKind;
  bus: Bus;
  sql: Sql;
  log: Logger;
}

export async function startStateStore(deps: StateStoreDeps): Promise<{ stop(): Promise<void> }> {
  const { bus, sql, log, kind } = deps;
  const scope = bus.scope;
  await migrate(sql, migrationOwner(kind), stateMigrations(kind));

  const nodes = new Map<string, Uint8Array>();
  const roots = new Map<bigint, string>();
  let height = -1n;
  const load = (batch: BatchRow) => {
    if (batch.blockNumber <= height) return;
    if (batch.blockNumber !== height + 1n) {
      throw new CodedError(ErrorCode.Internal, `state batches out of order: holding block ${height}, read block ${batch.blockNumber}`);
    }
    for (const [k, v] of unpackEntries(batch.entries)) nodes.set(toHex(k), v);
    roots.set(batch.blockNumber, batch.stateRoot);
    height = batch.blockNumber;
  };

  /**
   * Loads the batches stored since the last load. Single flight: a call while one runs makes it read once
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
        for await (const batch of readBatches(sql, kind, height)) load(batch);
      } while (again);
    })().finally(() => {
      catching = null;
    });
    return catching;
  };

  await catchUp();
  log.info('state store loaded', { kind, height, entries: nodes.size });

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

  /** The root of the state at `number`, loading what was stored since the last load if need be. */
  const rootAt = async (number: bigint): Promise<string | undefined> => {
    if (number > height) await catchUp();
    return roots.get(number);
  };

  const lookup = (keys: string[]) => keys.map((k) => nodes.get(k.toLowerCase()));

  bus.serve(subjects.stateNodes(scope, kind), StateNodesRequest, async (req) => {
    let values = lookup(req.keys);
    // The executor only asks for entries of blocks it stored: what we miss was stored since our last load.
    if (values.some((v) => v === undefined)) {
      await catchUp();
      values = lookup(req.keys);
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
