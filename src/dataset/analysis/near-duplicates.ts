/**
 * Near-duplicate pairs from MinHash signatures with locality-sensitive hashing: each example has one
 * signature of its prompt and one of its final reply (features.ts); signatures are cut into bands, and
 * examples sharing a band of either part are candidates. A candidate pair counts when the prompts and
 * replies together are similar enough (their similarities weighed by size), or when one part is nearly
 * the same and the other still clearly alike: an edited prompt with the same reply is a near duplicate
 * even when the edits cost more than the threshold allows for the whole.
 *
 * Values shared by a large part of the dataset (a fixed greeting, template phrases) are treated as
 * boilerplate: they neither make candidates nor count as agreement, so examples that share a template
 * but differ in content are not duplicates. Memory stays linear: one band's keys are sorted at a time
 * instead of building hash tables of lists.
 */
import { MINHASH_BINS } from "./minhash.js";
import { combine32 } from "./hash.js";

/** Bytes of one example's signatures: the prompt's bins, then the reply's. */
export const SIGNATURE_BYTES = 2 * MINHASH_BINS;
const PARTS = 2;

/**
 * Signatures of many examples, SIGNATURE_BYTES each, with the shingle count of each part. Only the low
 * 8 bits of each bin are kept: equality is all that matters, and a chance agreement of 1 in 256 per bin
 * raises a similarity estimate by at most (1 - J) / 256 (0.001 at J = 0.75, far from changing an 0.8
 * verdict), while the store is an eighth of full 32-bit bins. Kept in fixed-size blocks, so growing
 * never copies or over-allocates (a doubling array would hold up to twice the bytes, and briefly three
 * times while copying).
 */
export class SignatureStore {
  private static readonly BLOCK_BITS = 12;
  private readonly blocks: Uint8Array[] = [];
  private readonly counts: Uint16Array[] = [];
  length = 0;
  push(sig: ArrayLike<number>, promptShingles: number, replyShingles: number): void {
    const block = this.length >>> SignatureStore.BLOCK_BITS;
    if (block === this.blocks.length) {
      this.blocks.push(new Uint8Array(SIGNATURE_BYTES << SignatureStore.BLOCK_BITS));
      this.counts.push(new Uint16Array(PARTS << SignatureStore.BLOCK_BITS));
    }
    const k = this.length & ((1 << SignatureStore.BLOCK_BITS) - 1);
    const data = this.blocks[block];
    const off = k * SIGNATURE_BYTES;
    for (let b = 0; b < SIGNATURE_BYTES; b++) data[off + b] = sig[b] & 0xff;
    this.counts[block][k * PARTS] = Math.min(promptShingles, 65535);
    this.counts[block][k * PARTS + 1] = Math.min(replyShingles, 65535);
    this.length++;
  }
  /** Appends example i of another store. */
  pushFrom(other: SignatureStore, i: number): void {
    this.push(other.get(i), other.shingles(i, 0), other.shingles(i, 1));
  }
  get(i: number): Uint8Array {
    const off = this.offset(i);
    return this.blocks[i >>> SignatureStore.BLOCK_BITS].subarray(off, off + SIGNATURE_BYTES);
  }
  /** The block holding signature i, and where in it the signature starts (reads without a view per call). */
  block(i: number): Uint8Array {
    return this.blocks[i >>> SignatureStore.BLOCK_BITS];
  }
  offset(i: number): number {
    return (i & ((1 << SignatureStore.BLOCK_BITS) - 1)) * SIGNATURE_BYTES;
  }
  /** Shingles of part 0 (prompt) or 1 (reply) of example i; 0 when that part has no words. */
  shingles(i: number, part: number): number {
    return this.counts[i >>> SignatureStore.BLOCK_BITS][(i & ((1 << SignatureStore.BLOCK_BITS) - 1)) * PARTS + part];
  }
}

export type BoilerplateTest = (bin: number, value: number) => boolean;

/**
 * Values that appear in the same bin in at least `share` of a sample of signatures (and at least 3
 * times): the dataset's boilerplate. Bin numbers run over both parts (0 to SIGNATURE_BYTES - 1).
 */
export function findBoilerplate(store: SignatureStore, sampleSize = 4000, share = 0.1): BoilerplateTest {
  const n = Math.min(store.length, sampleSize);
  // One counter per (bin, 8-bit value): SIGNATURE_BYTES x 256.
  const counts = new Uint32Array(SIGNATURE_BYTES * 256);
  for (let i = 0; i < n; i++) {
    const blk = store.block(i);
    const off = store.offset(i);
    for (let part = 0; part < PARTS; part++) {
      if (store.shingles(i, part) === 0) continue;
      for (let b = part * MINHASH_BINS; b < (part + 1) * MINHASH_BINS; b++) counts[b * 256 + blk[off + b]]++;
    }
  }
  const min = Math.max(3, Math.ceil(n * share));
  const common = new Uint8Array(SIGNATURE_BYTES * 256);
  for (let k = 0; k < counts.length; k++) if (counts[k] >= min) common[k] = 1;
  return (bin, value) => common[bin * 256 + value] === 1;
}

export interface SimilarPair {
  /** Indexes into the store; a < b. */
  a: number;
  b: number;
  /** Prompts and replies together: their similarities weighed by their shingle counts. */
  similarity: number;
  /** Each part's similarity; null when it has no words, or too few that are not boilerplate. */
  prompt: number | null;
  reply: number | null;
}

export interface PairOptions {
  threshold?: number;
  boilerplate?: BoilerplateTest;
  /** Only pairs for which this returns true are verified (e.g. train x test for leakage). */
  accept?: (a: number, b: number) => boolean;
  /** Minimum number of non-boilerplate bins for a part's similarity to mean anything. */
  minBins?: number;
}

const BANDS = 16; // per part
const ROWS = MINHASH_BINS / BANDS;
/** Buckets larger than this are compared along a chain instead of all pairs (bounded work). */
const FULL_BUCKET = 64;
/** A part must have this many shingles (6 words) to count as "nearly the same" on its own. */
const DISTINCT_PART = 4;

/**
 * How alike examples a and b are: each part's similarity (bins where both hold the same boilerplate
 * value left out), and both together. Undefined when neither part can be compared.
 */
export function pairSimilarity(store: SignatureStore, a: number, b: number, boiler?: BoilerplateTest, minBins = 8): { similarity: number; prompt: number | null; reply: number | null } | undefined {
  const sa = store.block(a);
  const oa = store.offset(a);
  const sb = store.block(b);
  const ob = store.offset(b);
  const sims: (number | null)[] = [null, null];
  let weighted = 0;
  let weight = 0;
  for (let part = 0; part < PARTS; part++) {
    const na = store.shingles(a, part);
    const nb = store.shingles(b, part);
    if (na === 0 || nb === 0) continue;
    let eq = 0;
    let used = 0;
    for (let bin = part * MINHASH_BINS; bin < (part + 1) * MINHASH_BINS; bin++) {
      const v = sa[oa + bin];
      if (v === sb[ob + bin]) {
        if (boiler && boiler(bin, v)) continue;
        eq++;
      }
      used++;
    }
    if (used < minBins) continue;
    const sim = eq / used;
    sims[part] = sim;
    weighted += sim * (na + nb);
    weight += na + nb;
  }
  if (weight === 0) return undefined;
  return { similarity: weighted / weight, prompt: sims[0], reply: sims[1] };
}

/**
 * Whether a pair is a near duplicate at `threshold`: both parts together reach it, or one part is
 * nearly the same (at least max(threshold, 0.9), and distinctive: DISTINCT_PART shingles) while the
 * other is still clearly alike (at least threshold - 0.3, and 0.3).
 */
function isNear(store: SignatureStore, a: number, b: number, s: { similarity: number; prompt: number | null; reply: number | null }, threshold: number): boolean {
  if (s.similarity >= threshold) return true;
  if (s.prompt === null || s.reply === null) return false;
  const same = Math.max(threshold, 0.9);
  const alike = Math.max(0.3, threshold - 0.3);
  const distinct = (part: number) => Math.min(store.shingles(a, part), store.shingles(b, part)) >= DISTINCT_PART;
  return (s.reply >= same && s.prompt >= alike && distinct(1)) || (s.prompt >= same && s.reply >= alike && distinct(0));
}

export function findSimilarPairs(store: SignatureStore, options: PairOptions = {}): SimilarPair[] {
  const threshold = options.threshold ?? 0.8;
  const minBins = options.minBins ?? 8;
  const boiler = options.boilerplate;
  const n = store.length;
  // Only accepted pairs are remembered: a pair seen in several bands is simply verified again (128
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
    const s = pairSimilarity(store, a, b, boiler, minBins);
    if (s && isNear(store, a, b, s, threshold)) {
      accepted.add(id);
      const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000);
      pairs.push({ a, b, similarity: round(s.similarity)!, prompt: round(s.prompt), reply: round(s.reply) });
    }
  };
  // Sorting (key, index) pairs packed into one double is a plain numeric sort (no comparator calls);
  // it needs index < 2^21 so that key * 2^21 + index stays exact.
  const PACK = 2 ** 21;
  const packed = n <= PACK ? new Float64Array(n) : undefined;
  for (let part = 0; part < PARTS; part++) {
    for (let band = 0; band < BANDS; band++) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        if (store.shingles(i, part) === 0) continue; // an empty part is no evidence
        const blk = store.block(i);
        const off = store.offset(i);
        let allBoiler = true;
        let k = part * BANDS + band + 1;
        for (let r = 0; r < ROWS; r++) {
          const bin = part * MINHASH_BINS + band * ROWS + r;
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
  }
  return pairs.sort((p, q) => p.a - q.a || p.b - q.b);
}

/** "similarity 0.77: prompt 0.62, reply 1.00" (the parts only where both could be compared). */
export function describeSimilarity(p: { similarity: number; prompt?: number | null; reply?: number | null }): string {
  const parts = p.prompt != null && p.reply != null ? `: prompt ${p.prompt.toFixed(2)}, reply ${p.reply.toFixed(2)}` : "";
  return `similarity ${p.similarity.toFixed(2)}${parts}`;
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
