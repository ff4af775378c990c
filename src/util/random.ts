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
