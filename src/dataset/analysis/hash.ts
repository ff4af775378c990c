/** Fast non-cryptographic string hashes (cyrb53-style mixing): 53-bit numbers for Map/Set keys, and the 32-bit mixers MinHash uses. */

/** A 53-bit hash of a string, as a JS number (exact in a double, usable as a Map key). */
export function hash53(s: string, seed = 0): number {
  const h = new Hash53(seed);
  h.text(s);
  return h.digest();
}

/** Murmur3's finaliser: spreads the bits of a 32-bit value. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mixes two 32-bit values into one (for word n-gram shingles). */
export function combine32(a: number, b: number): number {
  return fmix32((Math.imul(a, 0x9e3779b1) ^ (b + 0x7f4a7c15)) | 0);
}

/**
 * hash53 fed piece by piece: `digest()` equals hash53 of everything fed, in order. Lets a caller hash
 * normalised text without building the normalised string first.
 */
export class Hash53 {
  private h1: number;
  private h2: number;
  constructor(seed = 0) {
    this.h1 = 0xdeadbeef ^ seed;
    this.h2 = 0x41c6ce57 ^ seed;
  }
  code(c: number): void {
    this.h1 = Math.imul(this.h1 ^ c, 2654435761);
    this.h2 = Math.imul(this.h2 ^ c, 1597334677);
  }
  text(s: string): void {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
  }
  /**
   * Feeds `s` whitespace-normalised (runs of whitespace as one space, none at either end), optionally
   * lowercased: the same as text(s.replace(/\s+/g, " ").trim()), with toLowerCase() per character.
   */
  normalized(s: string, lower: boolean): void {
    let h1 = this.h1;
    let h2 = this.h2;
    let pendingSpace = false;
    let started = false;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (isSpaceCode(c)) {
        if (started) pendingSpace = true;
        continue;
      }
      if (pendingSpace) {
        h1 = Math.imul(h1 ^ 32, 2654435761);
        h2 = Math.imul(h2 ^ 32, 1597334677);
        pendingSpace = false;
      }
      started = true;
      if (lower) {
        if (c >= 65 && c <= 90) c += 32;
        else if (c >= 128) {
          const low = String.fromCharCode(c).toLowerCase();
          for (let k = 0; k < low.length - 1; k++) {
            h1 = Math.imul(h1 ^ low.charCodeAt(k), 2654435761);
            h2 = Math.imul(h2 ^ low.charCodeAt(k), 1597334677);
          }
          c = low.charCodeAt(low.length - 1);
        }
      }
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    this.h1 = h1;
    this.h2 = h2;
  }
  digest(): number {
    let h1 = this.h1;
    let h2 = this.h2;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  }
}

/** The characters JavaScript's \s matches. */
export function isSpaceCode(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
