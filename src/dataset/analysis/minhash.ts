/**
 * Near-duplicate detection by one-permutation MinHash: each word 3-gram (words lowercased, spelling
 * variants folded, see wordHashes) is hashed once and the hash's top bits pick one of K bins, which
 * keeps its minimum; empty bins borrow from the next full bin. One hash per shingle (instead of K)
 * keeps it cheap enough for every example of a large file. The share of equal bins between two
 * signatures estimates the Jaccard similarity of their shingle sets.
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
 * Small variants that should not make two texts different: British and American spelling, doubled
 * letters and articles. Applied to each lowercased word while it is hashed, the same way for every
 * text, so it only ever makes words equal:
 *   z -> s (summarize / summarise, analyze / analyse), a run of one letter -> one letter (travelled /
 *   traveled, also many typos), "our" -> "or" (colour / color), a final "tre", "bre", "gre", "vre",
 *   "cre" -> "-er" (centre / center), a final "nce" -> "nse" (licence / license), a final "gue" ->
 *   "g" (catalogue / catalog); the articles "a", "an" and "the" are left out.
 */
const CH = { b: 98, c: 99, e: 101, g: 103, n: 110, o: 111, r: 114, s: 115, t: 116, u: 117, v: 118, z: 122 };

/** Lowercased ASCII letter or digit at i, 0 for anything else (a non-ASCII letter included). */
function asciiWordAt(text: string, i: number): number {
  if (i >= text.length) return 0;
  let c = text.charCodeAt(i);
  if (c >= 65 && c <= 90) c += 32;
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) ? c : 0;
}

/** Whether a word ends before position i (the end of the text, or a character that is no letter or digit). */
function wordEndsAt(text: string, i: number): boolean {
  if (i >= text.length) return true;
  const c = text.charCodeAt(i);
  if (c < 128) return asciiWordAt(text, i) === 0;
  const cp = text.codePointAt(i)!;
  return wideLower(cp) < 0;
}

/** Hashes of the articles, which are left out (filled in below, by the same scanner). */
let articles = new Set<number>();

/**
 * The 32-bit hashes of a text's words (runs of letters and digits, lowercased, with the variants above
 * folded): FNV-1a over each word's UTF-16 units, finished with fmix32. Computed in one pass over the
 * characters (no lowercased copy, no word strings: this runs on every example).
 */
function wordHashes(text: string, out: number[]): void {
  const n = text.length;
  let h = 0;
  let inWord = false;
  let prev = -1;
  let len = 0;
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
          prev = -1;
          len = 0;
        }
        if (low === prev) continue;
        h = Math.imul(h ^ (((low - 0x10000) >> 10) + 0xd800), 16777619);
        h = Math.imul(h ^ (((low - 0x10000) & 0x3ff) + 0xdc00), 16777619);
        prev = low;
        len += 2;
        continue;
      } else c = low;
    }
    if (c < 0) {
      if (inWord) {
        const fh = fmix32(h);
        if (len > 3 || !articles.has(fh)) out.push(fh);
        inWord = false;
      }
      continue;
    }
    if (!inWord) {
      h = 0x811c9dc5;
      inWord = true;
      prev = -1;
      len = 0;
    }
    if (c === CH.z) c = CH.s;
    else if (c === CH.u) {
      const next = asciiWordAt(text, i + 1);
      if (prev === CH.o && next === CH.r) continue; // colour -> color
      if (prev === CH.g && next === CH.e && wordEndsAt(text, i + 2)) {
        i++; // catalogue -> catalog
        continue;
      }
    } else if (c === CH.r) {
      if (len >= 3 && (prev === CH.t || prev === CH.b || prev === CH.g || prev === CH.v || prev === CH.c) && asciiWordAt(text, i + 1) === CH.e && wordEndsAt(text, i + 2)) {
        h = Math.imul(h ^ CH.e, 16777619); // centre -> center
        prev = CH.e;
        len++;
        i++;
      }
    } else if (c === CH.c && prev === CH.n && asciiWordAt(text, i + 1) === CH.e && wordEndsAt(text, i + 2)) c = CH.s; // licence -> license
    if (c === prev) continue;
    h = Math.imul(h ^ c, 16777619);
    prev = c;
    len++;
  }
  if (inWord) {
    const fh = fmix32(h);
    if (len > 3 || !articles.has(fh)) out.push(fh);
  }
}

{
  const hs: number[] = [];
  wordHashes("a an the", hs);
  articles = new Set(hs);
}

const wordScratch: number[] = [];

/** Fills `sig` with the MinHash of a text's word 3-grams (single words for texts under 3 words), empty bins left EMPTY; returns the shingle count. */
function fillSignature(text: string, sig: Uint32Array): number {
  sig.fill(EMPTY);
  const wh = wordScratch;
  wh.length = 0;
  wordHashes(text, wh);
  const shingles = wh.length < 3 ? wh.length : wh.length - 2;
  for (let i = 0; i < shingles; i++) {
    const h = wh.length < 3 ? fmix32(wh[i]) : combine32(combine32(wh[i], wh[i + 1]), wh[i + 2]);
    const bin = h >>> BIN_SHIFT;
    const v = h & 0x03ffffff;
    if (v < sig[bin]) sig[bin] = v;
  }
  return shingles;
}

/** The MinHash signature of a text's word 3-grams (single words for texts under 3 words). */
export function minhashSignature(text: string): Uint32Array {
  const sig = new Uint32Array(MINHASH_BINS);
  fillSignature(text, sig);
  return sig.map((_, b) => densifiedBin(sig, b));
}

const scratch = new Uint32Array(MINHASH_BINS);

/**
 * The signature with only the low 8 bits of each bin (what SignatureStore keeps, see there, and a
 * quarter of the bytes to pass from a worker thread to the main thread), written to `out` at `offset`.
 * Returns the number of shingles (0 for a text without words).
 */
export function minhashSignature8Into(text: string, out: Uint8Array, offset: number): number {
  const shingles = fillSignature(text, scratch);
  for (let b = 0; b < MINHASH_BINS; b++) out[offset + b] = densifiedBin(scratch, b) & 0xff;
  return shingles;
}

export function minhashSignature8(text: string): Uint8Array {
  const out = new Uint8Array(MINHASH_BINS);
  minhashSignature8Into(text, out, 0);
  return out;
}

const PROBES = 32;
/** For each bin, the fixed sequence of bins an empty one borrows from (a hash of bin and attempt). */
const probe = new Uint8Array(MINHASH_BINS * PROBES);
for (let i = 0; i < MINHASH_BINS; i++) {
  for (let t = 0; t < PROBES; t++) probe[i * PROBES + t] = fmix32(Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(t + 1, 0x85ebca6b)) >>> BIN_SHIFT;
}

/**
 * The value of bin b once empty bins are filled: its own, or that of the first full bin among the
 * bins a fixed hash of (b, attempt) picks, the same for every text ("optimal densification",
 * Shrivastava 2017), so equal texts stay equal and the share of equal bins still estimates the Jaccard
 * similarity. Borrowing from the next full bin instead made runs of empty bins copies of one shingle:
 * in the short texts of a chat example (a prompt or a reply alone), a band of bins then hung on a
 * single common word 3-gram, and unrelated examples became near-duplicate candidates by the thousand.
 */
function densifiedBin(sig: Uint32Array, b: number): number {
  const v = sig[b];
  if (v !== EMPTY) return v;
  for (let t = b * PROBES, end = t + PROBES; t < end; t++) {
    const w = sig[probe[t]];
    if (w !== EMPTY) return w;
  }
  // A nearly empty signature: the next full bin (still the same for every text); EMPTY when none is.
  for (let j = (b + 1) % MINHASH_BINS; j !== b; j = (j + 1) % MINHASH_BINS) if (sig[j] !== EMPTY) return sig[j];
  return EMPTY;
}
