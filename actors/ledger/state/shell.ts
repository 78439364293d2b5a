/**
 * The public state store: persists the state trie one batch per block (before the executor counts the block
 * as stored) and serves state reads at any block to the gateway, and trie entries to the executor when its
 * cache misses (after a restart). Reads come from memory, so queries never wait on execution or on Postgres.
 */
import type { Sql } from 'postgres';
import type { Bus } from '../../../lib/bus.js';
import { CodedError, ErrorCode } from '../../../lib/errors.js';
import type { EventStore } from '../../../lib/event-store/event-store.js';
import { migrate } from '../../../lib/event-store/migrations.js';
import { fromHex, quantity, toHex } from '../../../lib/hex.js';
import type { Logger } from '../../../lib/logger.js';
import { subjects } from '../../../lib/subjects.js';
import { StateApply, StateNodesRequest, StateRead } from '../messages.js';
import { packEntries, readBatches, stateMigrations, unpackEntries } from './node-batches.js';
import { readAccount, readCode, readStorage, StateNotAvailableError } from './trie-reader.js';

export const STATE_STREAM = 'ledger-state';

export interface StateStoreDeps {
  bus: Bus;
  sql: Sql;
  store: EventStore;
  log: Logger;
}

export async function startStateStore(deps: StateStoreDeps): Promise<{ stop(): Promise<void> }> {
  const { bus, sql, store, log } = deps;
  const scope = bus.scope;
  await migrate(sql, 'state', stateMigrations);

  const nodes = new Map<string, Uint8Array>();
  const roots = new Map<bigint, string>();
  let height = -1n;
  for await (const batch of readBatches(sql)) {
    for (const [k, v] of unpackEntries(batch.entries)) nodes.set(toHex(k), v);
    roots.set(batch.blockNumber, batch.stateRoot);
    height = batch.blockNumber;
  }
  log.info('state store loaded', { height, entries: nodes.size });

  // Applies are serialised: batches land in block order, once each.
  let applying: Promise<unknown> = Promise.resolve();
  const apply = async (msg: StateApply) => {
    const number = BigInt(msg.number);
    const known = roots.get(number);
    if (known !== undefined) {
      if (known !== msg.stateRoot) throw new CodedError(ErrorCode.Conflict, `block ${number} was stored with state root ${known}, not ${msg.stateRoot}`);
      return { ok: true as const }; // a retry of what we already stored
    }
    if (number !== height + 1n) throw new CodedError(ErrorCode.Conflict, `state store is at block ${height}; cannot store block ${number}`);
    const entries = msg.nodes.map(([k, v]) => [fromHex(k), fromHex(v)] as [Uint8Array, Uint8Array]);
    await sql.begin(async (tx) => {
      await tx`insert into state_batches ${tx({
        block_number: number.toString(),
        block_hash: msg.blockHash,
        state_root: msg.stateRoot,
        entry_count: entries.length,
        entries: packEntries(entries),
      })}`;
      await store.append(STATE_STREAM, Number(number), [
        { type: 'StateBatchPersisted', payload: { number: msg.number, blockHash: msg.blockHash, stateRoot: msg.stateRoot, entries: entries.length } },
      ], tx);
    });
    for (let i = 0; i < entries.length; i++) nodes.set(msg.nodes[i][0].toLowerCase(), entries[i][1]);
    roots.set(number, msg.stateRoot);
    height = number;
    return { ok: true as const };
  };

  bus.serve(subjects.stateApply(scope), StateApply, (msg) => {
    const result = applying.then(() => apply(msg));
    applying = result.catch(() => undefined);
    return result;
  });

  bus.serve(subjects.stateNodes(scope), StateNodesRequest, (req) => ({
    values: req.keys.map((k) => {
      const v = nodes.get(k.toLowerCase());
      return v ? toHex(v) : null;
    }),
  }));

  bus.serve(subjects.stateRead(scope), StateRead, async (req) => {
    const number = BigInt(req.block);
    const root = roots.get(number);
    if (root === undefined) throw new CodedError(ErrorCode.NotFound, `header not found (state at block ${number} is not stored)`);
    try {
      switch (req.kind) {
        case 'account': {
          const a = await readAccount(nodes, root, req.address.toLowerCase());
          return a && { nonce: quantity(a.nonce), balance: quantity(a.balance), codeHash: a.codeHash, storageRoot: a.storageRoot };
        }
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
