/**
 * mulberry32: a small seeded PRNG, uniform in [0, 1), with a full 2^32 period. Used where a result
 * must be reproducible from a seed (splits, bootstrap resamples, test data); the training loop has its
 * own generator with saved state (engine/train/rng.ts).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One step of xorshift32: the next state (never 0 for a non-zero state). */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

/**
 * A bounded uniform sample (reservoir sampling driven by xorshift32 from a fixed seed), deterministic
 * for a given input order. Strings longer than `maxChars` are cut.
 */
export class Reservoir<T extends string> {
  private readonly sample: T[] = [];
  private seen = 0;
  private state: number;
  constructor(
    private readonly capacity: number,
    private readonly maxChars = Infinity,
    seed = 2463534242,
  ) {
    this.state = seed >>> 0 || 1;
  }
  add(v: T): void {
    const item = (v.length > this.maxChars ? v.slice(0, this.maxChars) : v) as T;
    this.seen++;
    if (this.sample.length < this.capacity) this.sample.push(item);
    else {
      this.state = xorshift32(this.state);
      const j = Math.floor((this.state / 4294967296) * this.seen);
      if (j < this.capacity) this.sample[j] = item;
    }
  }
  items(): T[] {
    return this.sample.slice();
  }
}
