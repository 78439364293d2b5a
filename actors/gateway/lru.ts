/**
 * A small least-recently-used map, bounded by entries and by a total weight (e.g. transactions held), for
 * values that never change once known (stored blocks are final). Reading an entry makes it the most recent;
 * adding past either bound drops the least recent ones. A value heavier than maxWeight is not kept.
 */
export interface LruOptions<V> {
  maxEntries: number;
  /** Default: no weight bound. */
  maxWeight?: number;
  /** Default: 1 per entry. */
  weight?: (value: V) => number;
}

export interface Lru<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  readonly size: number;
  /** Sum of the weights held. */
  readonly weight: number;
}

export function createLru<K, V>(o: LruOptions<V>): Lru<K, V> {
  const maxWeight = o.maxWeight ?? Infinity;
  const weigh = o.weight ?? (() => 1);
  const entries = new Map<K, { value: V; weight: number }>(); // insertion order = recency, oldest first
  let total = 0;

  const remove = (key: K) => {
    const e = entries.get(key);
    if (!e) return;
    entries.delete(key);
    total -= e.weight;
  };

  return {
    get(key) {
      const e = entries.get(key);
      if (!e) return undefined;
      entries.delete(key);
      entries.set(key, e);
      return e.value;
    },
    set(key, value) {
      remove(key);
      const weight = weigh(value);
      if (o.maxEntries <= 0 || weight > maxWeight) return;
      entries.set(key, { value, weight });
      total += weight;
      for (const oldest of entries.keys()) {
        if (entries.size <= o.maxEntries && total <= maxWeight) break;
        remove(oldest);
      }
    },
    get size() {
      return entries.size;
    },
    get weight() {
      return total;
    },
  };
}
