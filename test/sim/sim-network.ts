/**
 * A generic seeded simulated network for deterministic consensus simulations (Raft and QBFT). It knows
 * nothing of the algorithm: messages are opaque values of type M, sent from one node id to another. Everything
 * random comes from one SimRandom, so a seed replays a run exactly.
 *
 * Faults: drops, random delays (which also reorder), duplicates, partitions into groups, and crashed nodes
 * (whose in-flight messages are lost on arrival). Time is a tick counter the harness advances.
 */
import { nextRandom } from '../../actors/consensus/raft/rng.js';

export class SimRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    const { value, next } = nextRandom(this.state);
    this.state = next;
    return value / 0x1_0000_0000;
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** A fresh 31-bit seed (for generators owned by nodes). */
  seed(): number {
    return this.int(0, 0x7fffffff);
  }
}

export interface Envelope<M> {
  from: string;
  to: string;
  message: M;
  deliverAt: number;
}

export interface NetworkFaults {
  /** Chance a message is lost on arrival. */
  dropRate: number;
  /** Chance a sent message is delivered twice (each copy with its own delay). */
  duplicateRate: number;
  /** Messages arrive 1 + [0, maxDelay] ticks after they are sent. */
  maxDelay: number;
}

export interface NetworkStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
}

export class SimNetwork<M> {
  now = 0;
  faults: NetworkFaults;
  /** Node id → group; messages cross only within a group. null: no partition. */
  partition: Map<string, number> | null = null;
  readonly crashed = new Set<string>();
  readonly stats: NetworkStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  private inFlight: Envelope<M>[] = [];

  constructor(
    readonly random: SimRandom,
    readonly nodeIds: readonly string[],
    faults: NetworkFaults,
  ) {
    this.faults = { ...faults };
  }

  send(from: string, to: string, message: M): void {
    if (this.crashed.has(from)) return;
    this.stats.sent += 1;
    const copies = this.faults.duplicateRate > 0 && this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated += 1;
    for (let i = 0; i < copies; i++) {
      this.inFlight.push({ from, to, message, deliverAt: this.now + 1 + this.random.int(0, this.faults.maxDelay) });
    }
  }

  /** Advances one tick and returns the messages that arrive now, in random order (drops, cuts, crashes applied). */
  advance(): Envelope<M>[] {
    this.now += 1;
    const due: Envelope<M>[] = [];
    const later: Envelope<M>[] = [];
    for (const item of this.inFlight) (item.deliverAt <= this.now ? due : later).push(item);
    this.inFlight = later;
    const arriving: Envelope<M>[] = [];
    for (const item of this.random.shuffle(due)) {
      if (this.crashed.has(item.to) || !this.connected(item.from, item.to)) continue;
      if (this.faults.dropRate > 0 && this.random.chance(this.faults.dropRate)) {
        this.stats.dropped += 1;
        continue;
      }
      this.stats.delivered += 1;
      arriving.push(item);
    }
    return arriving;
  }

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  connected(a: string, b: string): boolean {
    return this.partition === null || this.partition.get(a) === this.partition.get(b);
  }

  /** Cuts the network into the given groups (nodes not listed form one more group together). */
  cut(groups: readonly (readonly string[])[]): void {
    const partition = new Map<string, number>();
    groups.forEach((group, i) => group.forEach((id) => partition.set(id, i)));
    for (const id of this.nodeIds) if (!partition.has(id)) partition.set(id, groups.length);
    this.partition = partition;
  }

  heal(): void {
    this.partition = null;
  }

  crash(id: string): void {
    this.crashed.add(id);
  }

  restart(id: string): void {
    this.crashed.delete(id);
  }

  isUp(id: string): boolean {
    return !this.crashed.has(id);
  }

  /** Splits `ids` into two or three random groups, or isolates one node. */
  randomPartition(ids: readonly string[]): string[][] {
    if (this.random.chance(0.3)) return [[this.random.pick(ids)]];
    const groupCount = this.random.chance(0.8) ? 2 : 3;
    const groups: string[][] = Array.from({ length: groupCount }, () => []);
    for (const id of ids) groups[this.random.int(0, groupCount - 1)].push(id);
    return groups.filter((g) => g.length > 0);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Which seeds a simulation file runs: <PREFIX>_SIM_RUNS (default 1000, seeds 1..n) or <PREFIX>_SIM_SEED (one).

export function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

export function seedsToRun(prefix: 'RAFT' | 'QBFT', defaultRuns = 1000): number[] {
  const only = envInt(`${prefix}_SIM_SEED`);
  if (only !== undefined) return [only];
  const runs = envInt(`${prefix}_SIM_RUNS`) ?? defaultRuns;
  return Array.from({ length: runs }, (_, i) => i + 1);
}
