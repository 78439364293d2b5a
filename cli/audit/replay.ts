/**
 * The replay: (1) the hash chains of every event, (2) every block re-executed from genesis by the ledger's own
 * engine (in-process, in-memory state, this participant's private payloads from the audit data) and compared
 * with what was recorded, (3) the consensus evidence of every executed block. Stops at the first divergence.
 */
import { BLOCKS_STREAM, BlockExecutedEvent } from '../../actors/ledger/executor/shell.js';
import { ExecutionEngine, type ExecutedBlock, type FetchPayloads } from '../../actors/ledger/executor/engine.js';
import type { ReceivedPayload } from '../../actors/tm/messages.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import { ChainChecker } from './chain-check.js';
import { compareBlock, emptyRecorded, type Compared, type RecordedBlock } from './compare.js';
import { consensusEvidence, isDivergence } from './consensus-evidence.js';
import type { AuditData, EventLine } from './format.js';
import type { Divergence, ReplayOutcome, ReplaySummary } from './report.js';

export interface ReplayOptions {
  /** The network description to replay with (default: the one in the audit data's header). */
  network?: NetworkDescription;
  /** Progress every this many blocks (0: none). */
  progressEvery?: number;
  onProgress?: (line: string) => void;
}

const at = (e: EventLine) => ({ globalPosition: e.globalPosition, chain: e.chain, chainPosition: e.chainPosition, stream: e.stream, streamPosition: e.streamPosition, eventType: e.type });

export async function replay(data: AuditData, opts: ReplayOptions = {}): Promise<ReplayOutcome> {
  const t0 = performance.now();
  const network = opts.network ?? data.header.network;
  const summary: ReplaySummary = {
    participant: data.header.participant,
    network: network.name,
    consensus: network.consensus.type,
    events: data.events.length,
    chains: {},
    blocks: 0,
    head: -1,
    transactions: 0,
    privateTransactions: 0,
    publicRootsReproduced: 0,
    privateRootsReproduced: 0,
    privateRootsRecorded: 0,
    receiptsCompared: 0,
    privateReceiptsCompared: 0,
    logsCompared: 0,
    consensusChecked: 0,
    notes: [],
    seconds: 0,
    executeSeconds: 0,
  };
  let executeMs = 0;
  const done = (divergence?: Divergence): ReplayOutcome => {
    summary.seconds = (performance.now() - t0) / 1000;
    summary.executeSeconds = executeMs / 1000;
    return divergence ? { ok: false, summary, divergence } : { ok: true, summary };
  };

  // (1) hash chains
  const checker = new ChainChecker();
  for (const e of data.events) if (!checker.push(e)) break;
  const chains = checker.finish(data.end ?? data.header.counts);
  summary.chains = chains.chains;
  if (chains.firstBad) {
    const b = chains.firstBad;
    return done({
      phase: 'chain',
      message: b.reason,
      globalPosition: b.globalPosition,
      chain: b.chain,
      chainPosition: b.chainPosition,
      ...(b.stream ? { stream: b.stream, streamPosition: b.streamPosition, eventType: b.type } : {}),
    });
  }
  const counts = data.end ?? data.header.counts;
  if (counts.blocks !== data.blocks.length || counts.transactions !== data.txs.length || counts.payloads !== data.payloads.length) {
    return done({
      phase: 'records',
      message: 'the record counts do not match the export',
      field: 'counts',
      recorded: { blocks: counts.blocks, transactions: counts.transactions, payloads: counts.payloads },
      replayed: { blocks: data.blocks.length, transactions: data.txs.length, payloads: data.payloads.length },
    });
  }

  // (3, gathered first) consensus decisions: what the executor is fed
  const evidence = consensusEvidence(data.events, network);
  if (isDivergence(evidence)) return done(evidence);

  // what the executor recorded, by block number
  const recorded: RecordedBlock[] = [];
  const sources = new Map<number, { raftIndex: number; raftTerm: number }>();
  for (const e of data.events) {
    if (e.stream !== BLOCKS_STREAM) continue;
    if (e.type !== 'BlockExecuted') return done({ phase: 'records', message: `unexpected event type ${e.type} in ${BLOCKS_STREAM}`, ...at(e) });
    const p = BlockExecutedEvent.safeParse(e.payload);
    if (!p.success) return done({ phase: 'records', message: `BlockExecuted does not match its schema: ${p.error.message.slice(0, 300)}`, ...at(e) });
    const number = Number(BigInt(p.data.number));
    if (number !== recorded.length) return done({ phase: 'records', message: `BlockExecuted for block ${number} where block ${recorded.length} was expected`, block: number, ...at(e) });
    recorded.push(emptyRecorded(number, e));
    sources.set(number, { raftIndex: p.data.raftIndex, raftTerm: p.data.raftTerm });
  }
  const rowsOf = (n: number, what: string): RecordedBlock | Divergence =>
    recorded[n] ?? { phase: 'records', message: `a ${what} row for block ${n}, which has no BlockExecuted event`, block: n };
  for (const b of data.blocks) {
    const r = rowsOf(b.number, 'block');
    if (isDivergence(r)) return done(r);
    if (r.row) return done({ phase: 'records', message: `two block rows for block ${b.number}`, block: b.number });
    r.row = b;
  }
  const groups: [keyof RecordedBlock, { blockNumber: number }[], string][] = [
    ['txs', data.txs, 'transaction'],
    ['logs', data.logs, 'log'],
    ['privateReceipts', data.privateReceipts, 'private receipt'],
    ['privateLogs', data.privateLogs, 'private log'],
    ['privateContracts', data.privateContracts, 'private contract'],
    ['dropped', data.dropped, 'dropped transaction'],
  ];
  for (const [key, lines, what] of groups) {
    for (const l of lines) {
      const r = rowsOf(l.blockNumber, what);
      if (isDivergence(r)) return done(r);
      (r[key] as { blockNumber: number }[]).push(l);
    }
  }
  if (recorded.length === 0) {
    summary.notes.push('the executor recorded no block: nothing to re-execute');
    return done();
  }

  // (2) re-execution, from genesis
  const held = new Map<string, ReceivedPayload>();
  for (const p of data.payloads) held.set(p.received.hash.toLowerCase(), p.received);
  const payloads: FetchPayloads = async (hashes) => {
    summary.privateTransactions += hashes.length;
    return new Map(hashes.map((h) => [h, held.get(h.toLowerCase()) ?? { hash: h, found: false as const }]));
  };
  const engine = await ExecutionEngine.create({ network, payloads });
  const stats: Compared = { receipts: 0, privateReceipts: 0, logs: 0, privateRootRecorded: false };
  const account = (b: ExecutedBlock) => {
    summary.blocks += 1;
    summary.head = Number(b.number);
    summary.transactions += b.transactions.length;
    summary.publicRootsReproduced += 1;
    if (stats.privateRootRecorded) {
      summary.privateRootsRecorded += 1;
      summary.privateRootsReproduced += 1;
    }
  };
  const genesis = engine.genesis()!;
  const g = compareBlock(genesis, recorded[0], { raftIndex: 0, raftTerm: 0 }, stats);
  if (g) return done({ ...g, message: `genesis: ${g.message} (is this the network description the participant ran?)` });
  account(genesis);

  const last = recorded.length - 1;
  const every = opts.progressEvery ?? 0;
  const started = performance.now();
  for (let h = 1; h <= last; h++) {
    const rec = recorded[h];
    const decision = evidence.decisions.get(h);
    if (!decision) {
      return done({ phase: 'consensus', message: `block ${h} was executed, but no recorded consensus decision holds it`, block: h, ...at(rec.event) });
    }
    const source = sources.get(h)!;
    const extra = typeof rec.row?.block.extraData === 'string' ? rec.row.block.extraData : (decision.committed.extraData ?? '0x');
    const bad = evidence.check(h, source, extra);
    if (bad) return done(bad);
    summary.consensusChecked += 1;
    let executed: ExecutedBlock;
    const te = performance.now();
    try {
      executed = await engine.executeBlock(decision.committed);
    } catch (err) {
      return done({ phase: 'execution', message: `block ${h} could not be re-executed: ${(err as Error).message}`, block: h, ...at(rec.event) });
    }
    executeMs += performance.now() - te;
    const d = compareBlock(executed, rec, decision.committed, stats);
    if (d) return done(d);
    account(executed);
    if (every > 0 && h % every === 0 && opts.onProgress) {
      const s = (performance.now() - started) / 1000;
      opts.onProgress(`replay: block ${h}/${last}, ${summary.transactions} txs, ${(h / s).toFixed(0)} blocks/s, ${(summary.transactions / s).toFixed(0)} tx/s`);
    }
  }
  summary.receiptsCompared = stats.receipts;
  summary.privateReceiptsCompared = stats.privateReceipts;
  summary.logsCompared = stats.logs;
  const fin = evidence.finish(last);
  if (fin) return done(fin);
  summary.notes.push(...evidence.notes);
  const beyond = [...evidence.decisions.keys()].filter((k) => k > last).length;
  if (beyond > 0) summary.notes.push(`${beyond} decided block(s) after block ${last} were not yet executed by this participant's executor when the record was read`);
  if (data.payloads.length === 0 && summary.privateTransactions > 0) {
    summary.notes.push('the record carries no private payloads: private transactions replayed as for a non-party');
  }
  return done();
}
