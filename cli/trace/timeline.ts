/**
 * The pure part of `npm run trace`: which stored events belong to one transaction's path, and the timeline
 * they make. Events carry the W3C traceparent of the span that wrote them (lib/event-store); a transaction's
 * path is every event that names it (the tm's, consensus's TransactionsReceived and block entries, the
 * executor's BlockExecuted of its block) and every event written in one of those events' traces.
 */

/** One stored event, as the query reads it. */
export interface TraceEventRow {
  participant: string;
  /** The writing actor (the event's chain). */
  actor: string;
  type: string;
  stream: string;
  globalPosition: number;
  recordedAt: Date;
  traceContext: string | null;
  /** Whether the payload names the transaction (else it was found through a trace id). */
  mentionsTx: boolean;
}

export interface TimelineStep {
  participant: string;
  actor: string;
  type: string;
  stream: string;
  at: Date;
  /** Milliseconds since the previous step (0 for the first). */
  sincePreviousMs: number;
  traceId: string | null;
  /** How the step belongs to the transaction: its payload names it, or it shares a trace with one that does. */
  via: 'payload' | 'trace';
}

/** The trace id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`), or null. */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const m = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec((traceparent ?? '').trim().toLowerCase());
  return m && !/^0+$/.test(m[1]) ? m[1] : null;
}

/** The trace ids a transaction's path runs through: those of the events that name it. */
function traceIdsOf(rows: readonly TraceEventRow[]): Set<string> {
  const ids = new Set<string>();
  for (const r of rows) {
    const id = r.mentionsTx ? traceIdOf(r.traceContext) : null;
    if (id) ids.add(id);
  }
  return ids;
}

/**
 * The timeline: the events that name the transaction or share a trace with one that does, once each, in time
 * order (ties: by participant, then global position), with the time since the previous step.
 */
export function buildTimeline(rows: readonly TraceEventRow[]): TimelineStep[] {
  const ids = traceIdsOf(rows);
  const seen = new Set<string>();
  const kept = rows.filter((r) => {
    const key = `${r.participant}/${r.globalPosition}`;
    if (seen.has(key)) return false;
    seen.add(key);
    const id = traceIdOf(r.traceContext);
    return r.mentionsTx || (id !== null && ids.has(id));
  });
  kept.sort((a, b) => a.recordedAt.getTime() - b.recordedAt.getTime() || a.participant.localeCompare(b.participant) || a.globalPosition - b.globalPosition);
  return kept.map((r, i) => ({
    participant: r.participant,
    actor: r.actor,
    type: r.type,
    stream: r.stream,
    at: r.recordedAt,
    sincePreviousMs: i === 0 ? 0 : r.recordedAt.getTime() - kept[i - 1].recordedAt.getTime(),
    traceId: traceIdOf(r.traceContext),
    via: r.mentionsTx ? 'payload' : 'trace',
  }));
}

/** The timeline as text: one line a step, columns aligned. */
export function formatTimeline(txHash: string, steps: readonly TimelineStep[]): string {
  if (steps.length === 0) return `no stored event names ${txHash} or shares a trace with one that does`;
  const rows = steps.map((s) => [s.at.toISOString(), `+${s.sincePreviousMs} ms`, s.participant, s.actor, s.type, s.stream, s.via, s.traceId ?? '-']);
  const head = ['time', 'since prev', 'participant', 'actor', 'event', 'stream', 'via', 'trace id'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c])).join('  ').trimEnd();
  const total = steps[steps.length - 1].at.getTime() - steps[0].at.getTime();
  return [`transaction ${txHash}: ${steps.length} events, ${total} ms from first to last`, line(head), ...rows.map(line)].join('\n');
}
