/**
 * Near-duplicate pairs from MinHash signatures with locality-sensitive hashing: signatures are cut into
 * bands; examples sharing a band are candidates, and a candidate pair counts when its estimated
 * similarity reaches the threshold. Values shared by a large part of the dataset (a system prompt, a
 * fixed greeting, template phrases) are treated as boilerplate: they neither make candidates nor count
 * as agreement, so examples that share a template but differ in content are not duplicates.
 * Memory stays linear: one band's keys are sorted at a time instead of building hash tables of lists.
 */
import { MINHASH_BINS, signatureSimilarity } from "./minhash.js";
import { combine32 } from "./hash.js";

/**
 * Signatures of many examples in one flat array. Only the low 16 bits of each bin are kept: equality
 * is all that matters, and a chance agreement of 1 in 65,536 per bin changes a similarity estimate
 * by about 0.00002, while the store is half the size (128 bytes per example).
 */
export class SignatureStore {
  private data = new Uint16Array(MINHASH_BINS * 1024);
  length = 0;
  push(sig: ArrayLike<number>): void {
    if ((this.length + 1) * MINHASH_BINS > this.data.length) {
      const bigger = new Uint16Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data.set(sig, this.length * MINHASH_BINS);
    this.length++;
  }
  get(i: number): Uint16Array {
    return this.data.subarray(i * MINHASH_BINS, (i + 1) * MINHASH_BINS);
  }
}

export type BoilerplateTest = (bin: number, value: number) => boolean;

/**
 * Values that appear in the same bin in at least `share` of a sample of signatures (and at least 3
 * times): the dataset's boilerplate.
 */
export function findBoilerplate(store: SignatureStore, sampleSize = 4000, share = 0.1): BoilerplateTest {
  const n = Math.min(store.length, sampleSize);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const s = store.get(i);
    for (let b = 0; b < MINHASH_BINS; b++) {
      const k = b * 4294967296 + s[b];
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  const min = Math.max(3, Math.ceil(n * share));
  const common = new Set<number>();
  for (const [k, c] of counts) if (c >= min) common.add(k);
  return (bin, value) => common.has(bin * 4294967296 + value);
}

export interface SimilarPair {
  /** Indexes into the store; a < b. */
  a: number;
  b: number;
  similarity: number;
}

export interface PairOptions {
  threshold?: number;
  boilerplate?: BoilerplateTest;
  /** Only pairs for which this returns true are verified (e.g. train x test for leakage). */
  accept?: (a: number, b: number) => boolean;
  /** Minimum number of non-boilerplate bins for a similarity to mean anything. */
  minBins?: number;
}

const BANDS = 16;
const ROWS = MINHASH_BINS / BANDS;
/** Buckets larger than this are compared along a chain instead of all pairs (bounded work). */
const FULL_BUCKET = 64;

export function findSimilarPairs(store: SignatureStore, options: PairOptions = {}): SimilarPair[] {
  const threshold = options.threshold ?? 0.8;
  const minBins = options.minBins ?? 8;
  const boiler = options.boilerplate;
  const n = store.length;
  // Only accepted pairs are remembered: a pair seen in several bands is simply verified again (64
  // comparisons), which is cheaper in memory than remembering every candidate of a big file.
  const accepted = new Set<number>();
  const pairs: SimilarPair[] = [];
  const keys = new Uint32Array(n);
  const order = new Uint32Array(n);
  const consider = (x: number, y: number) => {
    const a = Math.min(x, y);
    const b = Math.max(x, y);
    const id = a * n + b;
    if (accepted.has(id)) return;
    if (options.accept && !options.accept(a, b)) return;
    const s = signatureSimilarity(store.get(a), store.get(b), boiler);
    if (s.bins >= minBins && s.similarity >= threshold) {
      accepted.add(id);
      pairs.push({ a, b, similarity: Math.round(s.similarity * 1000) / 1000 });
    }
  };
  for (let band = 0; band < BANDS; band++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = store.get(i);
      let allBoiler = true;
      let k = band + 1;
      for (let r = 0; r < ROWS; r++) {
        const bin = band * ROWS + r;
        if (!boiler || !boiler(bin, s[bin])) allBoiler = false;
        k = combine32(k, s[bin]);
      }
      keys[i] = k;
      if (!allBoiler) order[m++] = i;
    }
    const ord = order.subarray(0, m).sort((x, y) => keys[x] - keys[y] || x - y);
    let start = 0;
    while (start < m) {
      let end = start + 1;
      while (end < m && keys[ord[end]] === keys[ord[start]]) end++;
      const size = end - start;
      if (size > 1) {
        if (size <= FULL_BUCKET) {
          for (let i = start; i < end; i++) for (let j = i + 1; j < end; j++) consider(ord[i], ord[j]);
        } else {
          for (let i = start; i < end; i++) for (let j = i + 1; j < Math.min(end, i + 4); j++) consider(ord[i], ord[j]);
        }
      }
      start = end;
    }
  }
  return pairs.sort((p, q) => p.a - q.a || p.b - q.b);
}

/** Union-find over pairs: the group id (smallest member) of every index. */
export function groupPairs(n: number, pairs: { a: number; b: number }[]): Uint32Array {
  const parent = new Uint32Array(n);
  for (let i = 0; i < n; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (const { a, b } of pairs) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  for (let i = 0; i < n; i++) parent[i] = find(i);
  return parent;
}
