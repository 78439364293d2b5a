/**
 * One re-executed block against what the participant recorded about it, pure: its BlockExecuted event (hash
 * chained) first, then the executor's rows (block, transactions and receipts, logs, private receipts and logs,
 * private contracts, dropped transactions). The first field that differs is the answer.
 */
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import type { ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { blockExecutedEvent } from '../../actors/ledger/executor/shell.js';
import type { BlockLine, DroppedLine, EventLine, LogLine, PrivateContractLine, PrivateReceiptLine, TxLine } from './format.js';
import { firstDifference, type Divergence } from './report.js';

/** Everything recorded about one block. */
export interface RecordedBlock {
  number: number;
  event: EventLine;
  row?: BlockLine;
  txs: TxLine[];
  logs: LogLine[];
  privateReceipts: PrivateReceiptLine[];
  privateLogs: LogLine[];
  privateContracts: PrivateContractLine[];
  dropped: DroppedLine[];
}

export function emptyRecorded(number: number, event: EventLine): RecordedBlock {
  return { number, event, txs: [], logs: [], privateReceipts: [], privateLogs: [], privateContracts: [], dropped: [] };
}

/** Plain JSON, as it comes back from a json column (undefined fields dropped). */
const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** The BlockExecuted payload the executor writes for a block (actors/ledger/executor/shell.ts, eventOf). */
/** The BlockExecuted event the executor would have stored for `b`: built by the executor's own function. */
export function expectedEvent(b: ExecutedBlock, source: Pick<CommittedBlock, 'raftIndex' | 'raftTerm'>): Record<string, unknown> {
  return blockExecutedEvent(b, source);
}

/** Fields compared first, in this order, so the report names the cause (a state root) before its effect (the hash). */
const EVENT_FIELDS_FIRST = ['stateRoot', 'privateStateRoot', 'transactions', 'dropped', 'gasUsed', 'receiptsRoot', 'timestamp', 'gasLimit', 'parentHash', 'hash'];

export interface Compared {
  receipts: number;
  privateReceipts: number;
  logs: number;
  /** The recorded event carries a private state root (blocks stored before private state existed do not). */
  privateRootRecorded: boolean;
}

/** null when the block matches its record; else the first difference, placed at the block's event. */
export function compareBlock(b: ExecutedBlock, rec: RecordedBlock, source: Pick<CommittedBlock, 'raftIndex' | 'raftTerm'>, stats?: Compared): Divergence | null {
  const n = rec.number;
  const where = {
    block: n,
    globalPosition: rec.event.globalPosition,
    chain: rec.event.chain,
    chainPosition: rec.event.chainPosition,
    stream: rec.event.stream,
    streamPosition: rec.event.streamPosition,
    eventType: rec.event.type,
  };
  const diverged = (what: string, d: { field: string; recorded: unknown; replayed: unknown }): Divergence => ({
    phase: 'execution',
    message: `block ${n}: ${what} differs (${d.field})`,
    field: d.field,
    recorded: d.recorded,
    replayed: d.replayed,
    ...where,
  });

  // 1. the BlockExecuted event (hash chained)
  const recorded = rec.event.payload as Record<string, unknown>;
  const expected = expectedEvent(b, source);
  if (recorded.privateStateRoot === undefined) delete expected.privateStateRoot;
  for (const k of EVENT_FIELDS_FIRST) {
    const d = firstDifference(recorded[k], expected[k], k);
    if (d) return diverged(k === 'stateRoot' ? 'the public state root' : k === 'privateStateRoot' ? "the participant's private state root" : `the BlockExecuted event's ${k}`, d);
  }
  const rest = firstDifference(recorded, expected);
  if (rest) return diverged("the BlockExecuted event", rest);

  // 2. the block row
  if (!rec.row) return { phase: 'records', message: `block ${n}: no block row recorded for an executed block`, ...where };
  const row = { hash: rec.row.hash, stateRoot: rec.row.stateRoot, privateStateRoot: rec.row.privateStateRoot ?? b.privateStateRoot, timestamp: rec.row.timestamp };
  const d1 = firstDifference(row, { hash: b.hash, stateRoot: b.stateRoot, privateStateRoot: b.privateStateRoot, timestamp: b.timestamp.toString() });
  if (d1) return diverged('the block row', d1);
  const d2 = firstDifference(rec.row.block, json(b.block), 'block');
  if (d2) return diverged('the block (header as served)', d2);

  // 3. transactions and their public receipts
  const txs = [...rec.txs].sort((a, c) => a.index - c.index);
  if (txs.length !== b.transactions.length) {
    return diverged('the number of transaction rows', { field: 'transactions.length', recorded: txs.length, replayed: b.transactions.length });
  }
  for (let i = 0; i < txs.length; i++) {
    const dt = firstDifference(txs[i].tx, json(b.transactions[i]), `transactions[${i}]`);
    if (dt) return diverged(`transaction ${i} (${b.transactions[i].hash})`, dt);
    const dr = firstDifference(txs[i].receipt, json(b.receipts[i]), `receipts[${i}]`);
    if (dr) return diverged(`the receipt of transaction ${i} (${b.transactions[i].hash})`, dr);
  }

  // 4. logs, private receipts, private logs, private contracts, dropped
  const byIndex = (l: LogLine[]) => [...l].sort((a, c) => a.logIndex - c.logIndex).map((x) => x.log);
  const dl = firstDifference(byIndex(rec.logs), json(b.logs), 'logs');
  if (dl) return diverged('the logs', dl);
  const recPriv = new Map(rec.privateReceipts.map((r) => [r.hash, r.receipt]));
  const replayedPriv = new Map(b.privateReceipts.map((r) => [r.transactionHash, r]));
  for (const [hash, r] of replayedPriv) {
    const dp = firstDifference(recPriv.get(hash), json(r), `privateReceipts[${hash}]`);
    if (dp) return diverged(`the private receipt of ${hash}`, dp);
  }
  for (const hash of recPriv.keys()) {
    if (!replayedPriv.has(hash)) return diverged(`the private receipt of ${hash}`, { field: `privateReceipts[${hash}]`, recorded: recPriv.get(hash), replayed: undefined });
  }
  const dpl = firstDifference(byIndex(rec.privateLogs), json(b.privateLogs), 'privateLogs');
  if (dpl) return diverged('the private logs', dpl);
  const contracts = (l: { address: string; creationTxHash: string; privacyFlag: number; parties: string[] }[]) =>
    l.map((c) => ({ address: c.address.toLowerCase(), creationTxHash: c.creationTxHash, privacyFlag: c.privacyFlag, parties: c.parties })).sort((a, c) => (a.address < c.address ? -1 : 1));
  const dc = firstDifference(contracts(rec.privateContracts), contracts(b.privateContracts), 'privateContracts');
  if (dc) return diverged('the private contracts created', dc);
  const drops = (l: { hash: string; reason: string }[]) => [...new Map(l.map((x) => [x.hash, x.reason])).entries()].sort(([a], [c]) => (a < c ? -1 : 1));
  const dd = firstDifference(drops(rec.dropped), drops(b.dropped), 'dropped');
  if (dd) return diverged('the dropped transactions', dd);

  if (stats) {
    stats.receipts += b.receipts.length;
    stats.privateReceipts += b.privateReceipts.length;
    stats.logs += b.logs.length + b.privateLogs.length;
    stats.privateRootRecorded = recorded.privateStateRoot !== undefined;
  }
  return null;
}
