/**
 * A small participant record built in memory for the audit unit tests: hash-chained events (a Raft log with
 * blocks, the executor's BlockExecuted events) and the executor's rows, made by running the real engine.
 */
import { bytesToHex, hexToBytes } from '@ethereumjs/util';
import { ExecutionEngine, type ExecutedBlock } from '../../actors/ledger/executor/engine.js';
import { addressOf, devKey, devNetwork, signLegacyTx } from '../support/dev-tx.js';
import { eventHash, GENESIS_HASH } from '../../lib/event-store/event-store.js';
import { canonicalJson } from '../../lib/event-store/canonical-json.js';
import { createLedgerCommon, keccak256 as keccak } from '../../lib/ethereum/chain.js';
import { quantity, toHex } from '../../lib/hex.js';
import type { NetworkDescription } from '../../lib/network/description.js';
import type { CommittedBlock } from '../../actors/consensus/messages.js';
import { expectedEvent } from '../../cli/audit/compare.js';
import { AUDIT_FORMAT, AUDIT_VERSION, PRIVATE_DATA_NOTICE, type AuditData, type EventLine } from '../../cli/audit/format.js';

export interface DraftEvent {
  chain: string;
  stream: string;
  type: string;
  payload: unknown;
}

/** Hash-chains drafts in the given (global) order, as the event store would have written them. */
export function chainEvents(drafts: DraftEvent[], startAt = new Date('2026-12-01T00:00:00.000Z')): EventLine[] {
  const heads = new Map<string, { position: number; hash: Uint8Array }>();
  const streams = new Map<string, number>();
  return drafts.map((d, i) => {
    const head = heads.get(d.chain) ?? { position: 0, hash: GENESIS_HASH };
    const streamPosition = (streams.get(d.stream) ?? 0) + 1;
    const base = {
      chain: d.chain,
      chainPosition: head.position + 1,
      stream: d.stream,
      streamPosition,
      type: d.type,
      schemaVersion: 1,
      payload: JSON.parse(canonicalJson(d.payload)) as unknown,
      traceContext: null,
      causationId: null,
      correlationId: null,
      recordedAt: new Date(startAt.getTime() + i),
    };
    const hash = eventHash(head.hash, base);
    heads.set(d.chain, { position: base.chainPosition, hash });
    streams.set(d.stream, streamPosition);
    return { kind: 'event' as const, globalPosition: i + 1, ...base, recordedAt: base.recordedAt.toISOString(), prevHash: toHex(head.hash), hash: toHex(hash) };
  });
}

export const network = {
  ...devNetwork({ funded: 2, balance: 10n ** 21n }),
  devOnly: true,
  consensus: { type: 'raft', blockPeriodMs: 100, tickMs: 50, electionTicksMin: 10, electionTicksMax: 20, heartbeatTicks: 2, maxTxsPerBlock: 2000 },
  participants: [],
} as unknown as NetworkDescription;

const common = createLedgerCommon(network);
const key = devKey(0);
const from = addressOf(key);

/** A record of `blocks` blocks, each with `txsPerBlock` transfers, made by the real engine. */
export async function buildRecord(blocks = 3, txsPerBlock = 2): Promise<{ data: AuditData; executed: ExecutedBlock[] }> {
  const engine = await ExecutionEngine.create({ network });
  const executed: ExecutedBlock[] = [engine.genesis()!];
  const drafts: DraftEvent[] = [];
  const executedDraft = (b: ExecutedBlock, src: { raftIndex: number; raftTerm: number }): DraftEvent => ({ chain: 'executor', stream: 'ledger-blocks', type: 'BlockExecuted', payload: expectedEvent(b, src) });
  drafts.push(executedDraft(executed[0], { raftIndex: 0, raftTerm: 0 }));
  let nonce = 0;
  for (let h = 1; h <= blocks; h++) {
    const first = nonce;
    const raws = Array.from({ length: txsPerBlock }, (_, i) => signLegacyTx(common, key, { nonce: nonce++, to: '0x' + String(h * 10 + i).padStart(40, '0'), value: 1000n + BigInt(i) }));
    const transactions = raws.map((raw, i) => ({
      raw,
      hash: bytesToHex(keccak(hexToBytes(raw as `0x${string}`))),
      from: from.toLowerCase(),
      nonce: quantity(first + i),
      gasLimit: quantity(21_000),
    }));
    const block = { height: h, timestamp: network.genesis.timestamp + h, proposer: 'p1', transactions };
    drafts.push({ chain: 'consensus', stream: 'consensus-raft', type: 'EntriesAppended', payload: { entries: [{ term: 1, index: h, data: { kind: 'block', block } }] } });
    drafts.push({ chain: 'consensus', stream: 'consensus-raft', type: 'CommitAdvanced', payload: { commitIndex: h } });
    const committed: CommittedBlock = { height: h, timestamp: block.timestamp, proposer: 'p1', raftTerm: 1, raftIndex: h, extraData: '0x', transactions: raws };
    const b = await engine.executeBlock(committed);
    executed.push(b);
    drafts.push(executedDraft(b, { raftIndex: h, raftTerm: 1 }));
  }
  const events = chainEvents(drafts);
  const chains: Record<string, { events: number; head: string }> = {};
  for (const e of events) chains[e.chain] = { events: e.chainPosition, head: e.hash };
  const counts = { events: events.length, blocks: executed.length, transactions: executed.reduce((n, b) => n + b.transactions.length, 0), payloads: 0, chains };
  const json = <T>(v: T): Record<string, unknown> => JSON.parse(JSON.stringify(v));
  const data: AuditData = {
    header: { kind: 'header', format: AUDIT_FORMAT, version: AUDIT_VERSION, createdAt: new Date().toISOString(), participant: 'p1', network, containsPrivateData: false, notice: PRIVATE_DATA_NOTICE, counts },
    events,
    blocks: executed.map((b) => ({ kind: 'block', number: Number(b.number), hash: b.hash, stateRoot: b.stateRoot, privateStateRoot: b.privateStateRoot, timestamp: b.timestamp.toString(), block: json(b.block) })),
    txs: executed.flatMap((b) => b.transactions.map((t, i) => ({ kind: 'tx' as const, blockNumber: Number(b.number), index: i, hash: t.hash, tx: json(t), receipt: json(b.receipts[i]) }))),
    logs: [],
    privateLogs: [],
    privateReceipts: [],
    privateContracts: [],
    dropped: [],
    payloads: [],
    end: counts,
  };
  return { data, executed };
}


/** Re-hash every event (an insider who rewrote the record and its hashes consistently). */
export function rehash(events: EventLine[]): EventLine[] {
  return chainEvents(events.map((e) => ({ chain: e.chain, stream: e.stream, type: e.type, payload: e.payload })));
}
