/**
 * The audit file: NDJSON (optionally gzip), one record per line, every line read back through a zod schema.
 *
 *   line 1   header   format, version, participant, the network description (public part only), counts, and the
 *                     head of every hash chain; says whether the file carries this participant's private data
 *   event    every event of every actor's streams, in global position order, with chain/stream positions,
 *                     prevHash, hash (hex), trace context, payload as stored
 *   block, tx, log, privateReceipt, privateLog, privateContract, dropped
 *                     the executor's block rows (not hash-chained: replay re-executes and compares them)
 *   payload  a decrypted private payload this participant is a party to (so private transactions replay
 *                     without the enclave); never a key
 *   end      the counts again: a truncated file is detected
 */
import { z } from 'zod';
import { fromHex, toHex } from '../../lib/hex.js';
import { hashedFields, type StoredEvent } from '../../lib/event-store/event-store.js';
import { NetworkDescription } from '../../lib/network/description.js';
import { ReceivedPayload } from '../../actors/tm/messages.js';

export const AUDIT_FORMAT = 'quorum-actors-audit-log';
export const AUDIT_VERSION = 1;

const Hash = z.string().regex(/^0x[0-9a-f]{64}$/, 'expected a 32-byte 0x-hex hash');
const Position = z.number().int().nonnegative();

export const Counts = z.object({
  events: Position,
  blocks: Position,
  transactions: Position,
  payloads: Position,
  /** Per chain: how many events and the hash of the last one (compare with a head obtained out of band). */
  chains: z.record(z.string(), z.object({ events: Position, head: Hash })),
});
export type Counts = z.infer<typeof Counts>;

export const HeaderLine = z.object({
  kind: z.literal('header'),
  format: z.literal(AUDIT_FORMAT),
  version: z.literal(AUDIT_VERSION),
  createdAt: z.string(),
  participant: z.string(),
  /** Public material only (public keys, addresses, ports, genesis): no secret is ever written. */
  network: NetworkDescription,
  /** True when the file carries decrypted private payloads of this participant: handle it as confidential. */
  containsPrivateData: z.boolean(),
  notice: z.string(),
  counts: Counts,
});
export type HeaderLine = z.infer<typeof HeaderLine>;

export const EventLine = z.object({
  kind: z.literal('event'),
  globalPosition: z.number().int().positive(),
  chain: z.string(),
  chainPosition: z.number().int().positive(),
  stream: z.string(),
  streamPosition: z.number().int().positive(),
  type: z.string(),
  schemaVersion: z.number().int(),
  payload: z.unknown(),
  traceContext: z.string().nullable(),
  causationId: z.string().nullable(),
  correlationId: z.string().nullable(),
  recordedAt: z.iso.datetime(),
  prevHash: Hash,
  hash: Hash,
});
export type EventLine = z.infer<typeof EventLine>;

/** The executor's rows, as it stored them (JSON documents as returned to RPC clients). */
export const BlockLine = z.object({
  kind: z.literal('block'),
  number: Position,
  hash: z.string(),
  stateRoot: z.string(),
  privateStateRoot: z.string().nullable(),
  timestamp: z.string(),
  block: z.record(z.string(), z.unknown()),
});
export const TxLine = z.object({
  kind: z.literal('tx'),
  blockNumber: Position,
  index: Position,
  hash: z.string(),
  tx: z.record(z.string(), z.unknown()),
  receipt: z.record(z.string(), z.unknown()),
});
export const LogLine = z.object({ kind: z.enum(['log', 'privateLog']), blockNumber: Position, logIndex: Position, log: z.record(z.string(), z.unknown()) });
export const PrivateReceiptLine = z.object({ kind: z.literal('privateReceipt'), blockNumber: Position, hash: z.string(), receipt: z.record(z.string(), z.unknown()) });
export const PrivateContractLine = z.object({
  kind: z.literal('privateContract'),
  blockNumber: Position,
  address: z.string(),
  creationTxHash: z.string(),
  privacyFlag: z.number().int(),
  parties: z.array(z.string()),
});
export const DroppedLine = z.object({ kind: z.literal('dropped'), blockNumber: Position, hash: z.string(), reason: z.string() });
/** A decrypted payload, as this participant's tm answers its executor (found: true only). */
export const PayloadLine = z.object({ kind: z.literal('payload'), received: ReceivedPayload });
const EndLine = z.object({ kind: z.literal('end'), counts: Counts });

export const RecordLine = z.discriminatedUnion('kind', [
  EventLine,
  BlockLine,
  TxLine,
  LogLine,
  PrivateReceiptLine,
  PrivateContractLine,
  DroppedLine,
  PayloadLine,
  EndLine,
]);
export type RecordLine = z.infer<typeof RecordLine>;
export type BlockLine = z.infer<typeof BlockLine>;
export type TxLine = z.infer<typeof TxLine>;
export type LogLine = z.infer<typeof LogLine>;
export type PrivateReceiptLine = z.infer<typeof PrivateReceiptLine>;
export type PrivateContractLine = z.infer<typeof PrivateContractLine>;
export type DroppedLine = z.infer<typeof DroppedLine>;
export type PayloadLine = z.infer<typeof PayloadLine>;

export function eventLine(e: StoredEvent): EventLine {
  return { kind: 'event', globalPosition: e.globalPosition, ...hashedFields(e), prevHash: toHex(e.prevHash), hash: toHex(e.hash) };
}

/** Back to the event store's shape, for eventHash. */
export function storedEvent(l: EventLine): StoredEvent {
  return {
    globalPosition: l.globalPosition,
    chain: l.chain,
    chainPosition: l.chainPosition,
    stream: l.stream,
    streamPosition: l.streamPosition,
    type: l.type,
    schemaVersion: l.schemaVersion,
    payload: l.payload,
    traceContext: l.traceContext,
    causationId: l.causationId,
    correlationId: l.correlationId,
    recordedAt: new Date(l.recordedAt),
    prevHash: fromHex(l.prevHash),
    hash: fromHex(l.hash),
    publishSubject: null,
  };
}

/** Everything of one audit, in memory: what replay works on (from a file or from a live database). */
export interface AuditData {
  header: HeaderLine;
  events: EventLine[];
  blocks: BlockLine[];
  txs: TxLine[];
  logs: LogLine[];
  privateLogs: LogLine[];
  privateReceipts: PrivateReceiptLine[];
  privateContracts: PrivateContractLine[];
  dropped: DroppedLine[];
  payloads: PayloadLine[];
  /** Set when the input had an end line (a file): its counts. */
  end?: Counts;
}

export function emptyAudit(header: HeaderLine): AuditData {
  return { header, events: [], blocks: [], txs: [], logs: [], privateLogs: [], privateReceipts: [], privateContracts: [], dropped: [], payloads: [] };
}

/** Adds one record line to `data` (the order of lines within a kind is kept). */
export function addRecord(data: AuditData, r: RecordLine): void {
  switch (r.kind) {
    case 'event':
      data.events.push(r);
      break;
    case 'block':
      data.blocks.push(r);
      break;
    case 'tx':
      data.txs.push(r);
      break;
    case 'log':
      data.logs.push(r);
      break;
    case 'privateLog':
      data.privateLogs.push(r);
      break;
    case 'privateReceipt':
      data.privateReceipts.push(r);
      break;
    case 'privateContract':
      data.privateContracts.push(r);
      break;
    case 'dropped':
      data.dropped.push(r);
      break;
    case 'payload':
      data.payloads.push(r);
      break;
    case 'end':
      data.end = r.counts;
      break;
  }
}

export const PRIVATE_DATA_NOTICE =
  "This file contains the decrypted private transaction payloads this participant was a party to, and its private receipts: it is this participant's confidential data. It contains no key material.";
