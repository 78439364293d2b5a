/**
 * A seeded pseudo-random generator as a pure function of a 32-bit state (mulberry32), so the generator can
 * live inside the Raft state and a step stays a function of its inputs. Not cryptographic: it only spreads
 * election timeouts so that candidates rarely collide.
 */

/** Returns a uniform 32-bit unsigned value and the generator's next state. */
export function nextRandom(rngState: number): { value: number; next: number } {
  const next = (rngState + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: (t ^ (t >>> 14)) >>> 0, next };
}

/** A uniform integer in [min, max] (inclusive), and the generator's next state. */
export function randomInt(rngState: number, min: number, max: number): { value: number; next: number } {
  const { value, next } = nextRandom(rngState);
  return { value: min + (value % (max - min + 1)), next };
}

/** FNV-1a, to fold strings (node ids) into a seed. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The initial generator state of a node. The id is mixed in so that nodes configured with the same seed still
 * time out at different ticks, and the term so that a node restarting from the same persisted term after each
 * crash does not replay the exact same timeouts.
 */
export function initialRngState(seed: number, id: string, term: number): number {
  return (Math.imul(seed | 0, 0x9e3779b1) ^ hashString(id) ^ Math.imul(term | 0, 0x85ebca6b)) | 0;
}
