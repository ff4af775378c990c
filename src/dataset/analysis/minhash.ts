/**
 * Near-duplicate detection by one-permutation MinHash: each word 3-gram is hashed once and the hash's
 * top bits pick one of K bins, which keeps its minimum; empty bins borrow from the next full bin. One
 * hash per shingle (instead of K) keeps it cheap enough for every example of a large file. The share of
 * equal bins between two signatures estimates the Jaccard similarity of their shingle sets.
 */
import { combine32, fmix32 } from "./hash.js";

export const MINHASH_BINS = 64;
const BIN_SHIFT = 32 - 6; // log2(64)
const EMPTY = 0xffffffff;

const WORD_CHAR = /^[\p{L}\p{N}]$/u;
/** Lowercased code of a non-ASCII letter or digit, or -1 for a separator (cached: texts reuse few). */
const wideChars = new Map<number, number>();
function wideLower(code: number): number {
  let v = wideChars.get(code);
  if (v === undefined) {
    const ch = String.fromCodePoint(code);
    const lower = ch.toLowerCase();
    v = WORD_CHAR.test(ch) ? (lower.length === ch.length ? lower.codePointAt(0)! : code) : -1;
    if (wideChars.size < 65_536) wideChars.set(code, v);
  }
  return v;
}

/**
 * The 32-bit hashes of a text's words (runs of letters and digits, lowercased): FNV-1a over each word's
 * UTF-16 units, finished with fmix32. Computed in one pass over the characters (no lowercased copy, no
 * word strings: this runs on every example).
 */
function wordHashes(text: string, out: number[]): void {
  const n = text.length;
  let h = 0;
  let inWord = false;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    if (c < 128) {
      if (c >= 65 && c <= 90) c += 32;
      else if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) c = -1;
    } else {
      let cp = c;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          i++;
        }
      }
      const low = wideLower(cp);
      if (low < 0) c = -1;
      else if (low > 0xffff) {
        // An astral letter hashes as its two UTF-16 units, like the string would.
        if (!inWord) {
          h = 0x811c9dc5;
          inWord = true;
        }
        h = Math.imul(h ^ (((low - 0x10000) >> 10) + 0xd800), 16777619);
        c = ((low - 0x10000) & 0x3ff) + 0xdc00;
      } else c = low;
    }
    if (c < 0) {
      if (inWord) {
        out.push(fmix32(h));
        inWord = false;
      }
      continue;
    }
    if (!inWord) {
      h = 0x811c9dc5;
      inWord = true;
    }
    h = Math.imul(h ^ c, 16777619);
  }
  if (inWord) out.push(fmix32(h));
}

/** Fills `sig` with the MinHash of a text's word 3-grams (single words for texts under 3 words). */
function fillSignature(text: string, sig: Uint32Array): Uint32Array {
  sig.fill(EMPTY);
  const wh: number[] = [];
  wordHashes(text, wh);
  const shingles = wh.length < 3 ? wh.length : wh.length - 2;
  for (let i = 0; i < shingles; i++) {
    const h = wh.length < 3 ? fmix32(wh[i]) : combine32(combine32(wh[i], wh[i + 1]), wh[i + 2]);
    const bin = h >>> BIN_SHIFT;
    const v = h & 0x03ffffff;
    if (v < sig[bin]) sig[bin] = v;
  }
  densify(sig);
  return sig;
}

/** The MinHash signature of a text's word 3-grams (single words for texts under 3 words). */
export function minhashSignature(text: string): Uint32Array {
  return fillSignature(text, new Uint32Array(MINHASH_BINS));
}

const scratch = new Uint32Array(MINHASH_BINS);

/**
 * The signature with only the low 8 bits of each bin: what SignatureStore keeps (see there), and a
 * quarter of the bytes to pass from a worker thread to the main thread.
 */
export function minhashSignature8(text: string): Uint8Array {
  const sig = fillSignature(text, scratch);
  const out = new Uint8Array(MINHASH_BINS);
  for (let b = 0; b < MINHASH_BINS; b++) out[b] = sig[b] & 0xff;
  return out;
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
