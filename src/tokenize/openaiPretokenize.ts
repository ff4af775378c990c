/**
 * Hand-written scanners that split ASCII text exactly like the pre-tokenisation regexes of OpenAI's
 * o200k_base and cl100k_base encodings (as gpt-tokenizer writes them for JavaScript's RegExp).
 *
 * Why: the regexes are the slowest part of counting tokens for a multi-hundred-MB dataset, and a
 * char-code loop over ASCII is several times faster (docs/tokenizers.md). Unicode letter classes (Lm, Lo, marks,
 * non-ASCII spaces) are not reproduced here: as soon as a scanner reads a code unit >= 128 it gives up
 * (returns -1) and the caller uses the real regex for that string. Equality of the chunk boundaries
 * with the regexes is tested on a large mixed corpus (test/tokenize/openaiFast.test.ts).
 *
 * Each `next*` function returns the end index of the chunk starting at `i`, or -1 to say "not ASCII,
 * use the regex".
 */

// Per-ASCII-code flags.
const LOWER = 1;
const UPPER = 2;
const DIGIT = 4;
const SPACE = 8; // JS \s: \t \n \v \f \r and space
const NEWLINE = 16; // \r \n

const FLAGS = new Uint8Array(128);
for (let c = 97; c <= 122; c++) FLAGS[c] |= LOWER;
for (let c = 65; c <= 90; c++) FLAGS[c] |= UPPER;
for (let c = 48; c <= 57; c++) FLAGS[c] |= DIGIT;
for (const c of [9, 10, 11, 12, 13, 32]) FLAGS[c] |= SPACE;
FLAGS[10] |= NEWLINE;
FLAGS[13] |= NEWLINE;

const LETTER = LOWER | UPPER;
/** `[^\r\n\p{L}\p{N}]`: the optional lead character before a word. */
const NOT_LEAD = LETTER | DIGIT | NEWLINE;
/** `[^\s\p{L}\p{N}]`: punctuation and symbols. */
const NOT_PUNCT = LETTER | DIGIT | SPACE;

const APOSTROPHE = 39;

/** Length of the contraction suffix `'s|'t|'re|'ve|'m|'ll|'d` (any letter case) at `i`, 0 if none, -1 if non-ASCII. */
function contractionLength(s: string, i: number, n: number): number {
  if (i >= n) return 0;
  const a = s.charCodeAt(i);
  if (a >= 128) return -1;
  if (a !== APOSTROPHE || i + 1 >= n) return 0;
  const b = s.charCodeAt(i + 1) | 32; // lower-cases ASCII letters; other codes never match below
  if (s.charCodeAt(i + 1) >= 128) return -1;
  if (b === 115 || b === 100 || b === 109 || b === 116) return 2; // s d m t
  if (i + 2 >= n) return 0;
  const c2 = s.charCodeAt(i + 2);
  if (c2 >= 128) return -1;
  const c = c2 | 32;
  if ((b === 108 && c === 108) || (b === 118 && c === 101) || (b === 114 && c === 101)) return 3; // ll ve re
  return 0;
}

/** End of a whitespace run starting at i (all \s), or -1 if it meets a non-ASCII code unit. */
function spaceRunEnd(s: string, i: number, n: number): number {
  let w = i;
  while (w < n) {
    const c = s.charCodeAt(w);
    if (c >= 128) return -1;
    if ((FLAGS[c] & SPACE) === 0) break;
    w++;
  }
  return w;
}

/** Index after the last \r or \n in [i, w), or -1 if there is none. */
function afterLastNewline(s: string, i: number, w: number): number {
  for (let q = w - 1; q >= i; q--) if ((FLAGS[s.charCodeAt(q)] & NEWLINE) !== 0) return q + 1;
  return -1;
}

/**
 * o200k_base:
 * [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(contraction)?
 * | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(contraction)?
 * | \p{N}{1,3} | ` ?[^\s\p{L}\p{N}]+[\r\n/]*` | \s*[\r\n]+ | \s+(?!\S) | \s+
 */
export function nextO200k(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  if (c >= 128) return -1;
  const f = FLAGS[c];

  // Alternatives 1 and 2: an optional lead character, then upper-case letters, then lower-case letters.
  let j = i;
  if ((f & NOT_LEAD) === 0) j = i + 1;
  if (j < n) {
    let k = j;
    let code = 0;
    while (k < n && (code = s.charCodeAt(k)) < 128 && (FLAGS[code] & UPPER) !== 0) k++;
    if (k < n && code >= 128) return -1;
    let m = k;
    while (m < n && (code = s.charCodeAt(m)) < 128 && (FLAGS[code] & LOWER) !== 0) m++;
    if (m < n && code >= 128) return -1;
    if (m > j) {
      const cl = contractionLength(s, m, n);
      return cl < 0 ? -1 : m + cl;
    }
  }

  // Alternative 3: one to three digits.
  if ((f & DIGIT) !== 0) {
    let e = i + 1;
    while (e < n && e < i + 3) {
      const d = s.charCodeAt(e);
      if (d >= 128) return -1;
      if ((FLAGS[d] & DIGIT) === 0) break;
      e++;
    }
    return e;
  }

  // Alternative 4: an optional space, punctuation, then any \r \n /.
  const p = punctuationChunk(s, i, n, c, true);
  if (p !== 0) return p;

  // Alternatives 5-7: whitespace.
  const w = spaceRunEnd(s, i, n);
  if (w < 0) return -1;
  const nl = afterLastNewline(s, i, w);
  if (nl > 0) return nl;
  if (w === n) return w;
  return w - 1 > i ? w - 1 : w;
}

/**
 * ` ?[^\s\p{L}\p{N}]+` followed by `[\r\n/]*` (o200k) or `[\r\n]*` (cl100k). Returns the end, 0 if the
 * alternative does not match here, -1 for non-ASCII.
 */
function punctuationChunk(s: string, i: number, n: number, c: number, slashToo: boolean): number {
  let j = i;
  if (c === 32) j = i + 1;
  if (j >= n) return 0;
  let code = s.charCodeAt(j);
  if (code >= 128) return -1;
  if ((FLAGS[code] & NOT_PUNCT) !== 0) return 0;
  let e = j + 1;
  while (e < n && (code = s.charCodeAt(e)) < 128 && (FLAGS[code] & NOT_PUNCT) === 0) e++;
  if (e < n && code >= 128) return -1;
  while (e < n && (code = s.charCodeAt(e)) < 128 && ((FLAGS[code] & NEWLINE) !== 0 || (slashToo && code === 47))) e++;
  if (e < n && code >= 128) return -1;
  return e;
}

/**
 * cl100k_base:
 * 's|'t|'re|'ve|'m|'ll|'d (any case) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 * | ` ?[^\s\p{L}\p{N}]+[\r\n]*` | \s+$ | \s*[\r\n] | \s+(?!\S) | \s
 */
export function nextCl100k(s: string, i: number, n: number): number {
  const c = s.charCodeAt(i);
  if (c >= 128) return -1;
  const f = FLAGS[c];

  if (c === APOSTROPHE) {
    const cl = contractionLength(s, i, n);
    if (cl < 0) return -1;
    if (cl > 0) return i + cl;
  }

  let j = i;
  if ((f & NOT_LEAD) === 0) j = i + 1;
  if (j < n) {
    let m = j;
    let code = 0;
    while (m < n && (code = s.charCodeAt(m)) < 128 && (FLAGS[code] & LETTER) !== 0) m++;
    if (m < n && code >= 128) return -1;
    if (m > j) return m;
  }

  if ((f & DIGIT) !== 0) {
    let e = i + 1;
    while (e < n && e < i + 3) {
      const d = s.charCodeAt(e);
      if (d >= 128) return -1;
      if ((FLAGS[d] & DIGIT) === 0) break;
      e++;
    }
    return e;
  }

  const p = punctuationChunk(s, i, n, c, false);
  if (p !== 0) return p;

  const w = spaceRunEnd(s, i, n);
  if (w < 0) return -1;
  if (w === n) return n;
  const nl = afterLastNewline(s, i, w);
  if (nl > 0) return nl;
  return w - 1 > i ? w - 1 : i + 1;
}
