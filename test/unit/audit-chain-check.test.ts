/**
 * The audit's hash-chain check (cli/audit/chain-check.ts), pure: an intact record passes; an edited byte, an
 * edited hash, a deleted event, swapped events (in one chain and across chains), a stream gap and events cut
 * off at the end are each found, naming the event.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkChains } from '../../cli/audit/chain-check.js';
import type { EventLine } from '../../cli/audit/format.js';
import { chainEvents, type DraftEvent } from './audit-fixtures.js';

/** Two chains interleaved: consensus (stream raft) and executor (stream blocks). */
function record(): EventLine[] {
  const drafts: DraftEvent[] = [];
  for (let i = 1; i <= 10; i++) {
    drafts.push({ chain: 'consensus', stream: 'raft', type: 'EntriesAppended', payload: { entries: [{ term: 1, index: i, value: `0x${i.toString(16).padStart(4, '0')}` }] } });
    if (i % 2 === 0) drafts.push({ chain: 'executor', stream: 'blocks', type: 'BlockExecuted', payload: { number: i / 2, balance: '1000' } });
  }
  return chainEvents(drafts);
}

const byPos = (events: EventLine[], chain: string, chainPosition: number) => events.find((e) => e.chain === chain && e.chainPosition === chainPosition)!;

describe('audit chain check', () => {
  it('passes an intact record and reports every chain head', () => {
    const events = record();
    const r = checkChains(events);
    assert.equal(r.ok, true, JSON.stringify(r.firstBad));
    assert.equal(r.checked, 15);
    assert.deepEqual(r.chains.consensus, { events: 10, head: byPos(events, 'consensus', 10).hash });
    assert.deepEqual(r.chains.executor, { events: 5, head: byPos(events, 'executor', 5).hash });
  });

  it('finds one edited byte of a payload, at that event', () => {
    const events = record();
    const target = byPos(events, 'executor', 3);
    const edited = events.map((e) => (e === target ? { ...e, payload: { number: 3, balance: '1001' } } : e));
    const r = checkChains(edited);
    assert.equal(r.ok, false);
    assert.equal(r.firstBad!.globalPosition, target.globalPosition);
    assert.equal(r.firstBad!.chainPosition, 3);
    assert.match(r.firstBad!.reason, /content does not match its hash/);
    assert.equal(r.checked, target.globalPosition - 1);
  });

  it('finds an edited hash at that event (and not only at the next link)', () => {
    const events = record();
    const target = byPos(events, 'consensus', 4);
    const edited = events.map((e) => (e === target ? { ...e, hash: e.hash.slice(0, -1) + (e.hash.endsWith('0') ? '1' : '0') } : e));
    const r = checkChains(edited);
    assert.equal(r.firstBad!.globalPosition, target.globalPosition);
    assert.match(r.firstBad!.reason, /content does not match its hash/);
  });

  it('finds an edit whose hash was recomputed, at the next event of its chain (the link breaks)', () => {
    const events = record();
    const target = byPos(events, 'consensus', 4);
    const rehashed = chainEvents(events.map((e) => ({ chain: e.chain, stream: e.stream, type: e.type, payload: e === target ? { entries: [] } : e.payload })));
    const forged = events.map((e) => (e === target ? { ...rehashed[events.indexOf(e)], prevHash: e.prevHash } : e));
    // The forged event's own hash is consistent with its content, so the break is the next link.
    const r = checkChains(forged);
    assert.equal(r.firstBad!.globalPosition, byPos(events, 'consensus', 5).globalPosition);
    assert.match(r.firstBad!.reason, /previous-hash link/);
  });

  it('finds a deleted event: the next event of its chain, naming the missing chain position', () => {
    const events = record();
    const gone = byPos(events, 'executor', 2);
    const r = checkChains(events.filter((e) => e !== gone));
    assert.equal(r.firstBad!.globalPosition, byPos(events, 'executor', 3).globalPosition);
    assert.match(r.firstBad!.reason, /expected chain position 2, found 3 \(an event is missing or out of order\)/);
  });

  it('finds two swapped events of one chain, at the first of them', () => {
    const events = record();
    const a = events.indexOf(byPos(events, 'consensus', 2));
    const b = events.indexOf(byPos(events, 'consensus', 6));
    const swapped = [...events];
    [swapped[a], swapped[b]] = [swapped[b], swapped[a]];
    const r = checkChains(swapped);
    assert.equal(r.firstBad!.globalPosition, events[b].globalPosition);
    assert.match(r.firstBad!.reason, /expected chain position 2, found 6/);
  });

  it('finds two adjacent events of different chains swapped: global positions go back', () => {
    const events = record();
    const i = events.findIndex((e, k) => e.chain === 'executor' && k > 0 && events[k - 1].chain === 'consensus');
    const swapped = [...events];
    [swapped[i - 1], swapped[i]] = [swapped[i], swapped[i - 1]];
    const r = checkChains(swapped);
    assert.equal(r.firstBad!.globalPosition, events[i - 1].globalPosition);
    assert.match(r.firstBad!.reason, new RegExp(`global position ${events[i - 1].globalPosition} comes after ${events[i].globalPosition}`));
  });

  it('finds a stream position gap', () => {
    const events = record();
    const target = byPos(events, 'executor', 4);
    const rechained = chainEvents(events.map((e) => ({ chain: e.chain, stream: e.stream, type: e.type, payload: e.payload })));
    // Same hashes, but the stored stream position says 5: the hash no longer matches (stream position is hashed).
    const r = checkChains(rechained.map((e) => (e.globalPosition === target.globalPosition ? { ...e, streamPosition: 5 } : e)));
    assert.equal(r.firstBad!.globalPosition, target.globalPosition);
  });

  it('finds events cut off at the end of a chain only against the recorded counts', () => {
    const events = record();
    const last = byPos(events, 'executor', 5);
    const cut = events.filter((e) => e !== last);
    assert.equal(checkChains(cut).ok, true, 'the chain itself is intact');
    const expected = { events: 15, blocks: 0, transactions: 0, payloads: 0, chains: { consensus: { events: 10, head: byPos(events, 'consensus', 10).hash }, executor: { events: 5, head: last.hash } } };
    const r = checkChains(cut, expected);
    assert.equal(r.ok, false);
    assert.equal(r.firstBad!.chain, 'executor');
    assert.equal(r.firstBad!.chainPosition, 5);
    assert.match(r.firstBad!.reason, /recorded 5 events .* holds 4/);
  });

  it('the first break wins: later breaks are not reported', () => {
    const events = record();
    const first = byPos(events, 'consensus', 3);
    const second = byPos(events, 'executor', 4);
    const edited = events.map((e) => (e === first || e === second ? { ...e, payload: { x: 1 } } : e));
    assert.equal(checkChains(edited).firstBad!.globalPosition, first.globalPosition);
  });
});
