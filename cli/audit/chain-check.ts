/**
 * The hash-chain check over exported (or live) events, pure: the event store's own rule (lib/event-store
 * `eventHash`, as `verifyChain` applies it) run on rows in global position order. Every chain must start at
 * position 1 from the zero hash, go up one at a time, link to the hash before it and hash to its stored hash;
 * streams go up one at a time too; global positions only increase (gaps are allowed: the sequence skips values
 * of rolled-back appends). Names the first bad event: an edited byte, a deleted event, two swapped events.
 */
import { eventHash, GENESIS_HASH } from '../../lib/event-store/event-store.js';
import { toHex } from '../../lib/hex.js';
import { storedEvent, type Counts, type EventLine } from './format.js';

export interface ChainBreak {
  /** 1-based index of the event in the input (its order in the file among events). */
  index: number;
  globalPosition: number;
  chain: string;
  chainPosition: number;
  stream: string;
  streamPosition: number;
  type: string;
  reason: string;
}

export interface ChainCheckResult {
  ok: boolean;
  checked: number;
  /** Per chain: events and head hash as found. */
  chains: Record<string, { events: number; head: string }>;
  firstBad?: ChainBreak;
}

const ZERO = toHex(GENESIS_HASH);

/** Incremental: push events in input order; the first break is kept and later events are ignored. */
export class ChainChecker {
  private lastGlobal = 0;
  private readonly heads = new Map<string, { position: number; hash: string }>();
  private readonly streams = new Map<string, number>();
  private index = 0;
  checked = 0;
  firstBad: ChainBreak | undefined;

  push(e: EventLine): boolean {
    if (this.firstBad) return false;
    this.index += 1;
    const bad = (reason: string): false => {
      this.firstBad = {
        index: this.index,
        globalPosition: e.globalPosition,
        chain: e.chain,
        chainPosition: e.chainPosition,
        stream: e.stream,
        streamPosition: e.streamPosition,
        type: e.type,
        reason,
      };
      return false;
    };
    if (e.globalPosition <= this.lastGlobal) {
      return bad(`global position ${e.globalPosition} comes after ${this.lastGlobal} (events out of order)`);
    }
    const head = this.heads.get(e.chain) ?? { position: 0, hash: ZERO };
    if (e.chainPosition !== head.position + 1) {
      return bad(
        e.chainPosition > head.position + 1
          ? `chain ${e.chain}: expected chain position ${head.position + 1}, found ${e.chainPosition} (an event is missing or out of order)`
          : `chain ${e.chain}: expected chain position ${head.position + 1}, found ${e.chainPosition} (an event is repeated or out of order)`,
      );
    }
    if (e.prevHash !== head.hash) return bad(`chain ${e.chain}: previous-hash link does not match the hash of chain position ${head.position}`);
    const recomputed = toHex(eventHash(bytesOf(head.hash), storedEvent(e)));
    if (recomputed !== e.hash) return bad(`content does not match its hash (stored ${e.hash}, computed ${recomputed}): the event was edited`);
    const streamAt = this.streams.get(e.stream) ?? 0;
    if (e.streamPosition !== streamAt + 1) return bad(`stream ${e.stream}: expected stream position ${streamAt + 1}, found ${e.streamPosition}`);
    this.lastGlobal = e.globalPosition;
    this.heads.set(e.chain, { position: e.chainPosition, hash: e.hash });
    this.streams.set(e.stream, e.streamPosition);
    this.checked += 1;
    return true;
  }

  /**
   * The result; with `expected` (the counts the export recorded), a chain with fewer events than recorded
   * (events removed at its end) or a different head is a break too.
   */
  finish(expected?: Counts): ChainCheckResult {
    const chains: Record<string, { events: number; head: string }> = {};
    for (const [c, h] of this.heads) chains[c] = { events: h.position, head: h.hash };
    if (!this.firstBad && expected) {
      for (const [chain, want] of Object.entries(expected.chains)) {
        const got = chains[chain] ?? { events: 0, head: ZERO };
        if (got.events !== want.events || got.head !== want.head) {
          this.firstBad = {
            index: this.checked + 1,
            globalPosition: 0,
            chain,
            chainPosition: got.events + 1,
            stream: '',
            streamPosition: 0,
            type: '',
            reason: `chain ${chain}: the export recorded ${want.events} events ending in ${want.head}, the file holds ${got.events} ending in ${got.head} (events removed at the end)`,
          };
          break;
        }
      }
      for (const chain of Object.keys(chains)) {
        if (!this.firstBad && !expected.chains[chain]) {
          this.firstBad = { index: this.checked, globalPosition: 0, chain, chainPosition: 0, stream: '', streamPosition: 0, type: '', reason: `chain ${chain} is not in the export's counts` };
        }
      }
    }
    return { ok: !this.firstBad, checked: this.checked, chains, firstBad: this.firstBad };
  }
}

let lastHex = '';
let lastBytes: Uint8Array = GENESIS_HASH;
function bytesOf(hex: string): Uint8Array {
  if (hex !== lastHex) {
    lastHex = hex;
    lastBytes = new Uint8Array(Buffer.from(hex.slice(2), 'hex'));
  }
  return lastBytes;
}

/** Check a whole list of events at once. */
export function checkChains(events: Iterable<EventLine>, expected?: Counts): ChainCheckResult {
  const c = new ChainChecker();
  for (const e of events) if (!c.push(e)) break;
  return c.finish(expected);
}
