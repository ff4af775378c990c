/**
 * A bounded hash table from text chunks to token counts, keyed by two 32-bit hashes of the chunk (FNV-1a
 * and a second multiply-xor hash with another prime and seed) that the caller computes while scanning
 * the text. A lookup compares the two hashes and never the characters, which made counting markedly
 * faster than comparing the stored chunk (docs/tokenizers.md), at the price of a wrong count when two different chunks agree on all 64 hash bits, about one chance in 10^19 per
 * lookup. When the table is half full it starts afresh (bounded memory).
 */

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 16777619;
export const H2_OFFSET = 0x2f6b1a3d;
export const H2_PRIME = 0x5bd1e995;

/** FNV-1a over UTF-16 code units of s[i, e). */
export function fnv1a(s: string, i: number, e: number): number {
  let h = FNV_OFFSET;
  for (let k = i; k < e; k++) h = Math.imul(h ^ s.charCodeAt(k), FNV_PRIME);
  return h;
}

/** The second hash over s[i, e) (same loop as fnv1a, another prime and seed). */
export function hash2(s: string, i: number, e: number): number {
  let h = H2_OFFSET;
  for (let k = i; k < e; k++) h = Math.imul(h ^ s.charCodeAt(k), H2_PRIME);
  return h;
}

export class ChunkCountTable {
  private readonly mask: number;
  private readonly limit: number;
  /**
   * Slot k is entries[4k .. 4k+2] = (hash, hash2, count): one cache line per lookup instead of one per
   * array (a few percent faster than three arrays on the validate benchmark's text).
   */
  private readonly entries: Int32Array;
  private size = 0;

  constructor(
    /** log2 of the number of slots. */
    bits: number,
    /** Token count of a chunk not seen before. */
    private readonly compute: (chunk: string) => number,
  ) {
    const cap = 1 << bits;
    this.mask = cap - 1;
    this.limit = cap >> 1;
    this.entries = new Int32Array(cap * 4);
  }

  /** Count of s[i, e), whose hashes are h (fnv1a) and h2 (hash2). */
  get(s: string, i: number, e: number, h: number, h2: number): number {
    const entries = this.entries;
    let slot = h & this.mask;
    for (;;) {
      const at = slot << 2;
      const c = entries[at + 2];
      if (c === 0) return this.insert(s, i, e, h, h2);
      if (entries[at] === h && entries[at + 1] === h2) return c;
      slot = (slot + 1) & this.mask;
    }
  }

  private insert(s: string, i: number, e: number, h: number, h2: number): number {
    const count = this.compute(i === 0 && e === s.length ? s : s.slice(i, e));
    if (count <= 0) return count; // never store 0 (it marks an empty slot); empty chunks do not occur
    if (this.size >= this.limit) this.clear();
    const entries = this.entries;
    let slot = h & this.mask;
    while (entries[(slot << 2) + 2] !== 0) slot = (slot + 1) & this.mask;
    const at = slot << 2;
    entries[at] = h;
    entries[at + 1] = h2;
    entries[at + 2] = count;
    this.size++;
    return count;
  }

  clear(): void {
    this.entries.fill(0);
    this.size = 0;
  }
}
