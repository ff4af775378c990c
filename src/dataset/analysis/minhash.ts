/**
 * Near-duplicate detection by one-permutation MinHash: each word 3-gram is hashed once and the hash's
 * top bits pick one of K bins, which keeps its minimum; empty bins borrow from the next full bin. One
 * hash per shingle (instead of K) keeps it cheap enough for every example of a large file. The share of
 * equal bins between two signatures estimates the Jaccard similarity of their shingle sets.
 */
import { combine32, fmix32, hash32 } from "./hash.js";

export const MINHASH_BINS = 64;
const BIN_SHIFT = 32 - 6; // log2(64)
const EMPTY = 0xffffffff;

/** Words of normalised text: lowercase letters and digits, everything else a separator. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The MinHash signature of a text's word 3-grams (single words for texts under 3 words). */
export function minhashSignature(text: string): Uint32Array {
  const sig = new Uint32Array(MINHASH_BINS).fill(EMPTY);
  const w = words(text);
  const wh = w.map((x) => hash32(x));
  const add = (h: number) => {
    const bin = h >>> BIN_SHIFT;
    const v = h & 0x03ffffff;
    if (v < sig[bin]) sig[bin] = v;
  };
  if (wh.length < 3) for (const h of wh) add(fmix32(h));
  else for (let i = 0; i + 2 < wh.length; i++) add(combine32(combine32(wh[i], wh[i + 1]), wh[i + 2]));
  densify(sig);
  return sig;
}

/** Fills empty bins from the next non-empty bin (circularly), offset by the distance, so equal texts stay equal. */
function densify(sig: Uint32Array): void {
  const n = sig.length;
  let any = false;
  for (let i = 0; i < n; i++) if (sig[i] !== EMPTY) any = true;
  if (!any) return;
  for (let i = 0; i < n; i++) {
    if (sig[i] !== EMPTY) continue;
    let j = (i + 1) % n;
    let d = 1;
    while (sig[j] === EMPTY || sig[j] >= 0x04000000) {
      j = (j + 1) % n;
      d++;
    }
    sig[i] = 0x04000000 + ((sig[j] + d * 0x9e3779b1) >>> 6);
  }
}

/** Estimated Jaccard similarity; bins where both hold the same boilerplate value are left out. */
export function signatureSimilarity(a: ArrayLike<number>, b: ArrayLike<number>, boilerplate?: (bin: number, value: number) => boolean): { similarity: number; bins: number } {
  let eq = 0;
  let used = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) {
      if (boilerplate && boilerplate(i, a[i])) continue;
      eq++;
    }
    used++;
  }
  return { similarity: used === 0 ? 1 : eq / used, bins: used };
}
