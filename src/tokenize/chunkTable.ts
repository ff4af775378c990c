/**
 * A bounded hash table from text chunks (given as a range of a larger string, plus its FNV-1a hash
 * computed by the caller while scanning) to token counts. Looking a range up needs no substring
 * allocation, which is what makes it faster than a Map<string, number> on the counting hot path
 * (about 1.5x measured here). Keys are compared in full, so counts are exact; when the table is half
 * full it starts afresh (bounded memory).
 */

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 16777619;

/** FNV-1a over UTF-16 code units of s[i, e). */
export function fnv1a(s: string, i: number, e: number): number {
  let h = FNV_OFFSET;
  for (let k = i; k < e; k++) h = Math.imul(h ^ s.charCodeAt(k), FNV_PRIME);
  return h;
}

export class ChunkCountTable {
  private readonly mask: number;
  private readonly limit: number;
  private keys: string[];
  private hashes: Int32Array;
  private counts: Int32Array;
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
    this.keys = new Array<string>(cap).fill("");
    this.hashes = new Int32Array(cap);
    this.counts = new Int32Array(cap);
  }

  /** Count of s[i, e) whose FNV-1a hash is h. */
  get(s: string, i: number, e: number, h: number): number {
    const len = e - i;
    let slot = h & this.mask;
    for (;;) {
      const c = this.counts[slot];
      if (c === 0) return this.insert(s, i, e, h);
      if (this.hashes[slot] === h) {
        const key = this.keys[slot];
        if (key.length === len) {
          let k = 0;
          while (k < len && key.charCodeAt(k) === s.charCodeAt(i + k)) k++;
          if (k === len) return c;
        }
      }
      slot = (slot + 1) & this.mask;
    }
  }

  private insert(s: string, i: number, e: number, h: number): number {
    let chunk = i === 0 && e === s.length ? s : s.slice(i, e);
    // A slice of a long string can keep the whole parent alive in V8: keep a flat copy instead.
    if (chunk.length > 12) chunk = JSON.parse(JSON.stringify(chunk)) as string;
    const count = this.compute(chunk);
    if (count <= 0) return count; // never store 0 (it marks an empty slot); empty chunks do not occur
    if (this.size >= this.limit) this.clear();
    let slot = h & this.mask;
    while (this.counts[slot] !== 0) slot = (slot + 1) & this.mask;
    this.keys[slot] = chunk;
    this.hashes[slot] = h;
    this.counts[slot] = count;
    this.size++;
    return count;
  }

  clear(): void {
    this.keys.fill("");
    this.counts.fill(0);
    this.size = 0;
  }
}
