/**
 * The state store, one module run twice per participant: the public state, and this participant's private
 * state (subjects, table and migrations by kind; the private one never leaves its participant). It
 * persists the state trie one batch per block (before the executor counts the block
 * as stored) and serves state reads at any block to the gateway, and trie entries to the executor when its
 * cache misses (after a restart). Reads come from memory, so queries never wait on execution or on Postgres.
 */
import type { Sql } from 'postgres';
import type { Bus } from '../../../lib/bus.js';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import { migrate } from '../../../lib/event-store/migrations.js';
import { fromHex, quantity, toHex } from '../../../lib/hex.js';
import type { Logger } from '../../../lib/logger.js';
import { subjects, type StateKind } from '../../../lib/subjects.js';
import { StateApplyBatch, StateNodesRequest, StateRead, type StateApply } from './messages.js';
import { batchTable, migrationOwner, packEntries, readBatches, stateMigrations, unpackEntries } from './node-batches.js';
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
  for await (const batch of readBatches(sql, kind)) {
    for (const [k, v] of unpackEntries(batch.entries)) nodes.set(toHex(k), v);
    roots.set(batch.blockNumber, batch.stateRoot);
    height = batch.blockNumber;
  }
  log.info('state store loaded', { kind, height, entries: nodes.size });

  // Applies are serialised: batches land in block order, once each, in one insert per request.
  let applying: Promise<unknown> = Promise.resolve();
  const apply = async (msg: StateApplyBatch) => {
    const fresh: { number: bigint; block: StateApply; entries: [Uint8Array, Uint8Array][] }[] = [];
    let expected = height + 1n;
    for (const block of msg.blocks) {
      const number = BigInt(block.number);
      const known = roots.get(number);
      if (known !== undefined) {
        if (known !== block.stateRoot) throw new CodedError(ErrorCode.Conflict, `block ${number} was stored with state root ${known}, not ${block.stateRoot}`);
        continue; // a retry of what we already stored
      }
      if (number !== expected) throw new CodedError(ErrorCode.Conflict, `state store is at block ${expected - 1n}; cannot store block ${number}`);
      fresh.push({ number, block, entries: block.nodes.map(([k, v]) => [fromHex(k), fromHex(v)] as [Uint8Array, Uint8Array]) });
      expected += 1n;
    }
    if (fresh.length === 0) return { ok: true as const };
    // One row per block. The trie is derived data (the executor's BlockExecuted events and the blocks are the
    // record it can be rebuilt from), so it is a table, not events.
    const rows = fresh.map((f) => ({
      block_number: f.number.toString(),
      block_hash: f.block.blockHash,
      state_root: f.block.stateRoot,
      entry_count: f.entries.length,
      entries: packEntries(f.entries),
    }));
    await sql`insert into ${sql(batchTable(kind))} ${sql(rows)}`;
    for (const f of fresh) {
      for (let i = 0; i < f.entries.length; i++) nodes.set(f.block.nodes[i][0].toLowerCase(), f.entries[i][1]);
      roots.set(f.number, f.block.stateRoot);
      height = f.number;
    }
    return { ok: true as const };
  };

  bus.serve(subjects.stateApply(scope, kind), StateApplyBatch, (msg) => {
    const result = applying.then(() => apply(msg));
    applying = result.catch(() => undefined);
    return result;
  });

  bus.serve(subjects.stateNodes(scope, kind), StateNodesRequest, (req) => ({
    values: req.keys.map((k) => {
      const v = nodes.get(k.toLowerCase());
      return v ? toHex(v) : null;
    }),
  }));

  bus.serve(subjects.stateRead(scope, kind), StateRead, async (req) => {
    const number = BigInt(req.block);
    const root = roots.get(number);
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

  return { async stop() { await applying; } };
}
