/**
 * What replay found, and how it is printed. Pure: a divergence is a value naming where (event positions,
 * block number) and what (field, recorded vs replayed); the formatting is the same for a file and a database.
 */

export type Phase = 'input' | 'chain' | 'consensus' | 'execution' | 'records';

export interface Divergence {
  phase: Phase;
  /** One line: what is wrong. */
  message: string;
  /** The event it concerns (the bad event; or the block's BlockExecuted / consensus event). */
  globalPosition?: number;
  chain?: string;
  chainPosition?: number;
  stream?: string;
  streamPosition?: number;
  eventType?: string;
  block?: number;
  /** The field that differs, as a path (e.g. `receipts[2].status`). */
  field?: string;
  /** What the record says. */
  recorded?: unknown;
  /** What replay computed. */
  replayed?: unknown;
}

export interface ReplaySummary {
  participant: string;
  network: string;
  consensus: string;
  events: number;
  chains: Record<string, { events: number; head: string }>;
  /** Blocks re-executed, genesis included, and the highest one. */
  blocks: number;
  head: number;
  transactions: number;
  privateTransactions: number;
  publicRootsReproduced: number;
  privateRootsReproduced: number;
  /** Blocks whose private state root was recorded (and so compared). */
  privateRootsRecorded: number;
  receiptsCompared: number;
  privateReceiptsCompared: number;
  logsCompared: number;
  consensusChecked: number;
  notes: string[];
  seconds: number;
  executeSeconds: number;
}

export interface ReplayOutcome {
  ok: boolean;
  summary: ReplaySummary;
  divergence?: Divergence;
}

const MAX_VALUE = 400;

export function showValue(v: unknown): string {
  if (v === undefined) return '(absent)';
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}… (${s.length} chars)` : s;
}

/** Where, in one line: block, event positions. */
function location(d: Divergence): string {
  const parts: string[] = [];
  if (d.block !== undefined) parts.push(`block ${d.block}`);
  if (d.globalPosition !== undefined && d.globalPosition > 0) parts.push(`event global position ${d.globalPosition}`);
  if (d.stream) parts.push(`stream ${d.stream} position ${d.streamPosition}`);
  if (d.chain) parts.push(`chain ${d.chain} position ${d.chainPosition}`);
  if (d.eventType) parts.push(`type ${d.eventType}`);
  return parts.join(', ');
}

export function formatDivergence(d: Divergence): string {
  const lines = [`FIRST DIVERGENCE (${d.phase}): ${d.message}`];
  const where = location(d);
  if (where) lines.push(`  at:       ${where}`);
  if (d.field !== undefined) lines.push(`  field:    ${d.field}`);
  if (d.recorded !== undefined || d.replayed !== undefined) {
    lines.push(`  recorded: ${showValue(d.recorded)}`);
    lines.push(`  replayed: ${showValue(d.replayed)}`);
  }
  return lines.join('\n');
}

const rate = (n: number, s: number) => (s > 0 ? (n / s).toFixed(1) : 'n/a');

function formatSummary(s: ReplaySummary): string {
  const lines = [
    `participant ${s.participant} of network ${s.network} (${s.consensus})`,
    `events:       ${s.events} in ${Object.keys(s.chains).length} hash chains (${Object.entries(s.chains)
      .map(([c, h]) => `${c} ${h.events}`)
      .join(', ')})`,
    `blocks:       ${s.blocks} (0..${s.head}), transactions: ${s.transactions} (${s.privateTransactions} private)`,
    `state roots:  public ${s.publicRootsReproduced}/${s.blocks} reproduced, private ${s.privateRootsReproduced}/${s.privateRootsRecorded} reproduced`,
    `receipts:     ${s.receiptsCompared} public and ${s.privateReceiptsCompared} private receipts, ${s.logsCompared} logs compared`,
    `consensus:    ${s.consensusChecked} blocks with consensus evidence checked`,
    `time:         ${s.seconds.toFixed(2)} s total, ${s.executeSeconds.toFixed(2)} s executing: ${rate(s.blocks, s.executeSeconds)} blocks/s, ${rate(s.transactions, s.executeSeconds)} tx/s`,
  ];
  for (const n of s.notes) lines.push(`note:         ${n}`);
  return lines.join('\n');
}

export function formatOutcome(o: ReplayOutcome): string {
  const s = o.summary;
  if (o.ok) {
    return [
      formatSummary(s),
      `OK: hash chains intact; every recorded state root (public ${s.publicRootsReproduced} of ${s.blocks}, private ${s.privateRootsReproduced} of ${s.privateRootsRecorded}), receipt and log was reproduced; consensus evidence holds`,
    ].join('\n');
  }
  return [formatSummary(s), formatDivergence(o.divergence!)].join('\n');
}

/**
 * The first place two JSON values differ, as a path, or null when they are equal. Objects compare by key
 * (a key that is absent on one side differs), arrays element by element, then by length.
 */
export function firstDifference(recorded: unknown, replayed: unknown, path = ''): { field: string; recorded: unknown; replayed: unknown } | null {
  if (recorded === replayed) return null;
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(recorded) && Array.isArray(replayed)) {
    const n = Math.min(recorded.length, replayed.length);
    for (let i = 0; i < n; i++) {
      const d = firstDifference(recorded[i], replayed[i], `${path}[${i}]`);
      if (d) return d;
    }
    if (recorded.length !== replayed.length) return { field: `${path}.length`, recorded: recorded.length, replayed: replayed.length };
    return null;
  }
  if (isObj(recorded) && isObj(replayed)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(replayed)])].sort();
    for (const k of keys) {
      const d = firstDifference(recorded[k], replayed[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return { field: path || '(value)', recorded, replayed };
}
