import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTimeline, formatTimeline, traceIdOf, type TraceEventRow } from '../../cli/trace/timeline.js';

const T1 = '11111111111111111111111111111111';
const T2 = '22222222222222222222222222222222';
const T3 = '33333333333333333333333333333333';
const tp = (trace: string) => `00-${trace}-aaaaaaaaaaaaaaaa-01`;
let pos = 0;
const row = (actor: string, type: string, ms: number, trace: string | null, mentionsTx = false, participant = 'p1'): TraceEventRow => ({
  participant,
  actor,
  type,
  stream: `${actor}-stream`,
  globalPosition: ++pos,
  recordedAt: new Date(1_700_000_000_000 + ms),
  traceContext: trace ? tp(trace) : null,
  mentionsTx,
});

test('traceIdOf reads a traceparent; anything else is null', () => {
  assert.equal(traceIdOf(tp(T1)), T1);
  assert.equal(traceIdOf(null), null);
  assert.equal(traceIdOf('00-00000000000000000000000000000000-aaaaaaaaaaaaaaaa-01'), null);
  assert.equal(traceIdOf('nonsense'), null);
});

test('the timeline: events naming the tx plus those sharing their traces, in time order, with gaps', () => {
  const rows = [
    row('executor', 'BlockExecuted', 300, T2, true),
    row('tm', 'PayloadStored', 10, T1),
    row('consensus', 'TransactionsReceived', 40, T1, true),
    row('consensus', 'EntriesAppended', 120, T2), // the block's trace, reached through BlockExecuted
    row('state', 'Unrelated', 50, T3), // another trace: left out
    row('tm', 'NoTrace', 60, null), // no trace, does not name it: left out
  ];
  const steps = buildTimeline(rows);
  assert.deepEqual(
    steps.map((s) => [s.actor, s.type, s.sincePreviousMs, s.via]),
    [
      ['tm', 'PayloadStored', 0, 'trace'],
      ['consensus', 'TransactionsReceived', 30, 'payload'],
      ['consensus', 'EntriesAppended', 80, 'trace'],
      ['executor', 'BlockExecuted', 180, 'payload'],
    ],
  );
  const text = formatTimeline('0xabc', steps);
  assert.match(text, /transaction 0xabc: 4 events, 290 ms from first to last/);
  assert.equal(text.split('\n').length, 6);
});

test('the same event read twice (one participant) appears once; participants merge by time', () => {
  const a = row('tm', 'PayloadStored', 0, T1, true, 'p1');
  const b = row('tm', 'PayloadStored', 5, T1, false, 'p2');
  const steps = buildTimeline([b, a, a]);
  assert.deepEqual(steps.map((s) => s.participant), ['p1', 'p2']);
  assert.equal(formatTimeline('0xabc', []), 'no stored event names 0xabc or shares a trace with one that does');
});
