/**
 * The state store's trie entries in memory: a bounded cache (least recently used goes first) over the entries
 * indexed in Postgres. Misses of one turn of the event loop are read in one query, so a burst of reads (a trie
 * walk per account of a burst of submissions) costs one round trip per trie level, not one per entry.
 * Keys are unprefixed lowercase hex. Entries are content-addressed: a cached value is never stale.
 */

/** Reads entries by key; the ones it does not return are not stored (yet). */
export type LoadNodes = (keys: string[]) => Promise<Map<string, Uint8Array>>;

export class NodeCache {
  private readonly entries = new Map<string, Uint8Array>();
  private pending = new Map<string, { resolve: (v: Uint8Array | undefined) => void; reject: (err: unknown) => void }[]>();
  private scheduled = false;
  /** Entries read from the database (a measure of how well the bound fits the working set). */
  misses = 0;

  constructor(
    private readonly capacity: number,
    private readonly load: LoadNodes,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`node cache capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Held in memory now (no database read). */
  peek(key: string): Uint8Array | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) this.touch(key, v);
    return v;
  }

  /** Add entries (a block's, just written: the most likely to be read next). */
  add(entries: Iterable<[string, Uint8Array]>): void {
    for (const [k, v] of entries) this.touch(k, v);
  }

  /** From memory, else from the database (undefined: not stored). */
  get(key: string): Promise<Uint8Array | undefined> | Uint8Array {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Many at once: memory first, the rest in one read. */
  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const out: (Uint8Array | undefined)[] = keys.map((k) => this.peek(k));
    const missing = [...new Set(keys.filter((_, i) => out[i] === undefined))];
    if (missing.length === 0) return out;
    const found = await this.load(missing);
    this.misses += missing.length;
    this.add(found);
    return keys.map((k, i) => out[i] ?? found.get(k));
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    try {
      const found = await this.load([...batch.keys()]);
      this.misses += batch.size;
      this.add(found);
      for (const [k, waiters] of batch) for (const w of waiters) w.resolve(found.get(k));
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }

  private touch(key: string, value: Uint8Array): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      // Map iterates in insertion order: the first key is the least recently used.
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
