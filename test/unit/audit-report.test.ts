/**
 * The divergence report: the first difference between a record and a replay as a path, the printed report,
 * and replay (cli/audit/replay.ts) run in memory on a record made by the real engine — intact, then with a
 * state root, a receipt, a consensus entry or the genesis changed, each named at its block and event.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstDifference, formatDivergence, formatOutcome, showValue, type Divergence } from '../../cli/audit/report.js';
import { replay } from '../../cli/audit/replay.js';
import type { AuditData } from '../../cli/audit/format.js';
import { buildRecord, network, rehash } from './audit-fixtures.js';

describe('firstDifference', () => {
  it('is null for equal JSON values, key order aside', () => {
    assert.equal(firstDifference({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 }), null);
  });
  it('names the path of the first differing leaf, keys in sorted order', () => {
    assert.deepEqual(firstDifference({ z: 1, receipts: [{ status: '0x1' }, { status: '0x1' }] }, { z: 2, receipts: [{ status: '0x1' }, { status: '0x0' }] }), {
      field: 'receipts[1].status',
      recorded: '0x1',
      replayed: '0x0',
    });
  });
  it('names a missing key and a length difference', () => {
    assert.deepEqual(firstDifference({ a: 1 }, { a: 1, b: 2 }), { field: 'b', recorded: undefined, replayed: 2 });
    assert.deepEqual(firstDifference([1, 2], [1, 2, 3], 'logs'), { field: 'logs.length', recorded: 2, replayed: 3 });
  });
});

describe('the printed report', () => {
  const d: Divergence = {
    phase: 'execution',
    message: 'block 7: the public state root differs (stateRoot)',
    block: 7,
    globalPosition: 1234,
    chain: 'executor',
    chainPosition: 8,
    stream: 'ledger-blocks',
    streamPosition: 8,
    eventType: 'BlockExecuted',
    field: 'stateRoot',
    recorded: '0xaa',
    replayed: '0xbb',
  };
  it('names the block, the event positions, the field, recorded and replayed values', () => {
    const text = formatDivergence(d);
    assert.match(text, /^FIRST DIVERGENCE \(execution\): block 7: the public state root differs/);
    assert.match(text, /at: +block 7, event global position 1234, stream ledger-blocks position 8, chain executor position 8, type BlockExecuted/);
    assert.match(text, /field: +stateRoot/);
    assert.match(text, /recorded: "0xaa"\n +replayed: "0xbb"/);
  });
  it('shortens long values and shows absent ones', () => {
    assert.match(showValue('0x' + 'ab'.repeat(500)), /… \(1004 chars\)$/);
    assert.equal(showValue(undefined), '(absent)');
  });
});

async function replayed(edit?: (data: AuditData) => void) {
  const { data } = await buildRecord(3, 2);
  edit?.(data);
  return replay(data);
}

describe('replay in memory', () => {
  it('reproduces an intact record: every state root, receipt and consensus entry', async () => {
    const o = await replayed();
    assert.equal(o.ok, true, o.divergence && formatDivergence(o.divergence));
    assert.equal(o.summary.blocks, 4);
    assert.equal(o.summary.publicRootsReproduced, 4);
    assert.equal(o.summary.privateRootsReproduced, 4);
    assert.equal(o.summary.transactions, 6);
    assert.equal(o.summary.receiptsCompared, 6);
    assert.equal(o.summary.consensusChecked, 3);
    assert.match(formatOutcome(o), /state roots: +public 4\/4 reproduced, private 4\/4 reproduced/);
    assert.match(formatOutcome(o), /^OK: /m);
  });

  /**
   * A follower that installed the leader's snapshot at index 2: its raft stream holds no entry 1 or 2 but the
   * SnapshotInstalled event and the final blocks it then fetched (BlocksSynced); entry 3 is replicated as usual.
   */
  function asSnapshotFollower(data: AuditData, syncedIndex = (i: number) => i): void {
    const raft = data.events.filter((e) => e.stream === 'consensus-raft');
    const early = raft.filter((e) => e.type === 'EntriesAppended' && (e.payload as { entries: { index: number }[] }).entries[0].index <= 2);
    const blocks = early.map((e) => (e.payload as { entries: { term: number; index: number; data: { block: unknown } }[] }).entries[0]).map((x) => ({ block: x.data.block, term: x.term, index: syncedIndex(x.index) }));
    const drop = new Set([...early, ...raft.filter((e) => e.type === 'CommitAdvanced' && (e.payload as { commitIndex: number }).commitIndex <= 2)]);
    const firstRaft = data.events.indexOf(raft[0]);
    const kept = data.events.filter((e) => !drop.has(e));
    const snapshot = { index: 2, term: 1, config: { index: 0, voters: ['p1', 'p2', 'p3'], learners: [] }, data: { finalHeight: 2 } };
    const installed = [
      { ...raft[0], type: 'SnapshotInstalled', payload: { snapshot, deliveredHeight: 0 } },
      { ...raft[0], type: 'BlocksSynced', payload: { blocks } },
    ];
    kept.splice(firstRaft, 0, ...installed);
    data.events = rehash(kept);
    const chains: Record<string, { events: number; head: string }> = {};
    for (const e of data.events) chains[e.chain] = { events: e.chainPosition, head: e.hash };
    data.end = { ...data.end!, events: data.events.length, chains };
  }

  it('a follower that installed a snapshot and fetched the blocks it lacked replays, the synced blocks named', async () => {
    const o = await replayed((data) => asSnapshotFollower(data));
    assert.equal(o.ok, true, o.divergence && formatDivergence(o.divergence));
    assert.equal(o.summary.consensusChecked, 3);
    assert.ok(o.summary.notes.some((n) => /2 block\(s\) .*fetched from a peer after it installed a leader's snapshot/.test(n)), o.summary.notes.join('; '));
  });

  it('a block "synced" from a peer at an index above the installed snapshot is a consensus divergence', async () => {
    const o = await replayed((data) => asSnapshotFollower(data, (i) => i + 5));
    assert.equal(o.ok, false);
    assert.equal(o.divergence?.phase, 'consensus');
    assert.match(o.divergence!.message, /synced from a peer at raft index \d+, above the installed snapshot/);
  });

  it('a recorded state root the execution does not give (hashes recomputed): the block, its event, both roots', async () => {
    let at = 0;
    const o = await replayed((data) => {
      const i = data.events.findIndex((e) => e.type === 'BlockExecuted' && (e.payload as { number: string }).number === '0x2');
      (data.events[i].payload as { stateRoot: string }).stateRoot = '0x' + '11'.repeat(32);
      data.events = rehash(data.events);
      at = data.events[i].globalPosition;
      for (const e of data.events) data.end!.chains[e.chain] = { events: e.chainPosition, head: e.hash };
    });
    assert.equal(o.ok, false);
    const d = o.divergence!;
    assert.equal(d.phase, 'execution');
    assert.equal(d.block, 2);
    assert.equal(d.globalPosition, at);
    assert.equal(d.field, 'stateRoot');
    assert.equal(d.recorded, '0x' + '11'.repeat(32));
    assert.match(String(d.replayed), /^0x[0-9a-f]{64}$/);
    assert.equal(o.summary.publicRootsReproduced, 2, 'genesis and block 1 were reproduced');
  });

  it('a receipt row that differs: the block, the transaction, the field', async () => {
    const o = await replayed((data) => {
      const tx = data.txs.find((t) => t.blockNumber === 3 && t.index === 1)!;
      tx.receipt = { ...tx.receipt, gasUsed: '0x5209' };
    });
    const d = o.divergence!;
    assert.equal(d.block, 3);
    assert.equal(d.field, 'receipts[1].gasUsed');
    assert.equal(d.recorded, '0x5209');
    assert.equal(d.replayed, '0x5208');
    assert.match(d.message, /block 3: the receipt of transaction 1/);
  });

  it('an executed block no committed raft entry holds: a consensus divergence at that block', async () => {
    const o = await replayed((data) => {
      const third = (e: { type: string; payload: unknown }) =>
        (e.type === 'EntriesAppended' && (e.payload as { entries: { index: number }[] }).entries[0].index === 3) ||
        (e.type === 'CommitAdvanced' && (e.payload as { commitIndex: number }).commitIndex === 3);
      data.events = rehash(data.events.filter((e) => !third(e)));
      data.end = undefined;
      data.header.counts.chains = {};
      for (const e of data.events) data.header.counts.chains[e.chain] = { events: e.chainPosition, head: e.hash };
    });
    assert.equal(o.divergence!.phase, 'consensus');
    assert.equal(o.divergence!.block, 3);
    assert.match(o.divergence!.message, /block 3 was executed, but no recorded consensus decision holds it/);
    assert.equal(o.divergence!.eventType, 'BlockExecuted');
  });

  it('another genesis (a different network description) diverges at block 0', async () => {
    const { data } = await buildRecord(1, 1);
    const other = { ...network, genesis: { ...network.genesis, timestamp: network.genesis.timestamp + 1 } };
    const o = await replay(data, { network: other });
    assert.equal(o.divergence!.block, 0);
    assert.match(o.divergence!.message, /^genesis: /);
  });
});
