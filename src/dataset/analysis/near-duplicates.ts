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
 * Signatures of many examples, 64 bytes each. Only the low 8 bits of each bin are kept: equality is all
 * that matters, and a chance agreement of 1 in 256 per bin raises a similarity estimate by at most
 * (1 - J) / 256 (0.001 at J = 0.75, far from changing an 0.8 verdict), while the store is an eighth of
 * full 32-bit bins. Kept in fixed-size blocks, so growing never copies or over-allocates (a doubling
 * array would hold up to twice the bytes, and briefly three times while copying).
 */
export class SignatureStore {
  private static readonly BLOCK_BITS = 12;
  private readonly blocks: Uint8Array[] = [];
  length = 0;
  push(sig: ArrayLike<number>): void {
    const block = this.length >>> SignatureStore.BLOCK_BITS;
    if (block === this.blocks.length) this.blocks.push(new Uint8Array(MINHASH_BINS << SignatureStore.BLOCK_BITS));
    const data = this.blocks[block];
    const off = (this.length & ((1 << SignatureStore.BLOCK_BITS) - 1)) * MINHASH_BINS;
    for (let b = 0; b < MINHASH_BINS; b++) data[off + b] = sig[b] & 0xff;
    this.length++;
  }
  get(i: number): Uint8Array {
    const off = this.offset(i);
    return this.blocks[i >>> SignatureStore.BLOCK_BITS].subarray(off, off + MINHASH_BINS);
  }
  /** The block holding signature i, and where in it the signature starts (reads without a view per call). */
  block(i: number): Uint8Array {
    return this.blocks[i >>> SignatureStore.BLOCK_BITS];
  }
  offset(i: number): number {
    return (i & ((1 << SignatureStore.BLOCK_BITS) - 1)) * MINHASH_BINS;
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
  // Sorting (key, index) pairs packed into one double is a plain numeric sort (no comparator calls);
  // it needs index < 2^21 so that key * 2^21 + index stays exact.
  const PACK = 2 ** 21;
  const packed = n <= PACK ? new Float64Array(n) : undefined;
  for (let band = 0; band < BANDS; band++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const blk = store.block(i);
      const off = store.offset(i);
      let allBoiler = true;
      let k = band + 1;
      for (let r = 0; r < ROWS; r++) {
        const bin = band * ROWS + r;
        const v = blk[off + bin];
        if (!boiler || !boiler(bin, v)) allBoiler = false;
        k = combine32(k, v);
      }
      keys[i] = k;
      if (allBoiler) continue;
      if (packed) packed[m] = k * PACK + i;
      else order[m] = i;
      m++;
    }
    let ord: Uint32Array;
    if (packed) {
      const sorted = packed.subarray(0, m).sort();
      for (let j = 0; j < m; j++) order[j] = sorted[j] % PACK;
      ord = order.subarray(0, m);
    } else ord = order.subarray(0, m).sort((x, y) => keys[x] - keys[y] || x - y);
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
