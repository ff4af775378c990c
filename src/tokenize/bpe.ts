/**
 * The BPE model of Hugging Face `tokenizers` (model.type "BPE"), written for speed:
 * - merges are looked up by a numeric pair key, and applied lowest rank first (ties: leftmost), with
 *   a binary heap over a linked list of symbols, like the Rust implementation, so a long word
 *   (SentencePiece-style tokenizers have no pre-tokenizer: a whole message is one "word") costs
 *   O(n log n);
 * - results are cached per word in a bounded Map: natural text repeats words all the time.
 * Byte fallback (`<0xAB>` tokens for characters missing from the vocabulary), `unk_token` with
 * `fuse_unk`, and `ignore_merges` are supported. Dropout and subword prefixes/suffixes are not (the
 * loader refuses such files).
 */

export interface BpeOptions {
  vocab: Map<string, number>;
  /** Merges in rank order, each a pair of token strings. */
  merges: [string, string][];
  byteFallback: boolean;
  unkTokenId?: number;
  fuseUnk: boolean;
  ignoreMerges: boolean;
}

const WORD_CACHE_LIMIT = 100_000;
/** Words longer than this are not cached (they rarely repeat and would pin memory). */
const WORD_CACHE_MAX_LENGTH = 256;
/** 2^22: room for a token id in the packed (rank, merged id) value. */
const ID_SPACE = 4_194_304;

export class BpeModel {
  private readonly vocab: Map<string, number>;
  private readonly vocabSize: number;
  /** pair key (a * vocabSize + b) -> rank * ID_SPACE + merged id */
  private readonly merges = new Map<number, number>();
  private readonly byteIds: Int32Array | undefined;
  private readonly unkTokenId: number | undefined;
  private readonly fuseUnk: boolean;
  private readonly ignoreMerges: boolean;
  private cache = new Map<string, number[]>();

  constructor(o: BpeOptions) {
    this.vocab = o.vocab;
    let maxId = 0;
    for (const id of o.vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    o.merges.forEach(([a, b], rank) => {
      const ia = o.vocab.get(a);
      const ib = o.vocab.get(b);
      const merged = o.vocab.get(a + b);
      if (ia === undefined || ib === undefined || merged === undefined) return; // HF rejects these; skipping is harmless
      const key = ia * this.vocabSize + ib;
      if (!this.merges.has(key)) this.merges.set(key, rank * ID_SPACE + merged);
    });
    if (o.byteFallback) {
      this.byteIds = new Int32Array(256).fill(-1);
      for (let b = 0; b < 256; b++) {
        const id = o.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
        if (id !== undefined) this.byteIds[b] = id;
      }
    }
    this.unkTokenId = o.unkTokenId;
    this.fuseUnk = o.fuseUnk;
    this.ignoreMerges = o.ignoreMerges;
  }

  /** Token ids of one pre-tokenised word (already normalised / byte-mapped). */
  encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const ids = this.computeWord(word);
    if (word.length <= WORD_CACHE_MAX_LENGTH) {
      if (this.cache.size >= WORD_CACHE_LIMIT) this.cache = new Map();
      this.cache.set(word.length > 12 ? flatCopy(word) : word, ids);
    }
    return ids;
  }

  private computeWord(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const symbols = this.initialSymbols(word);
    if (symbols.length < 2) return symbols;
    return this.mergeAll(symbols);
  }

  /** One symbol per character; unknown characters become byte tokens or the unknown token. */
  private initialSymbols(word: string): number[] {
    const out: number[] = [];
    let lastWasUnk = false;
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        out.push(id);
        lastWasUnk = false;
        continue;
      }
      if (this.byteIds !== undefined) {
        const bytes = Buffer.from(ch, "utf8");
        let all = true;
        for (const b of bytes) if (this.byteIds[b] < 0) all = false;
        if (all) {
          for (const b of bytes) out.push(this.byteIds[b]);
          lastWasUnk = false;
          continue;
        }
      }
      if (this.unkTokenId !== undefined) {
        if (!(this.fuseUnk && lastWasUnk)) out.push(this.unkTokenId);
        lastWasUnk = true;
      }
      // No unk token and no byte for it: the character is dropped, as HF does.
    }
    return out;
  }

  /** Applies merges lowest rank first (leftmost on ties) over a linked list of symbols. */
  private mergeAll(ids: number[]): number[] {
    const n = ids.length;
    if (n === 2) {
      const m = this.merges.get(ids[0] * this.vocabSize + ids[1]);
      return m === undefined ? ids : [m % ID_SPACE];
    }
    const sym = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // Heap entries: (rank, left position, expected right symbol id, expected left symbol id).
    const heap = new MinHeap();
    for (let i = 0; i + 1 < n; i++) {
      const m = this.merges.get(sym[i] * this.vocabSize + sym[i + 1]);
      if (m !== undefined) heap.push(Math.floor(m / ID_SPACE), i, sym[i], sym[i + 1]);
    }
    while (heap.size > 0) {
      const [rank, pos, leftId, rightId] = heap.pop();
      if (!alive[pos] || sym[pos] !== leftId) continue;
      const r = next[pos];
      if (r < 0 || sym[r] !== rightId) continue;
      const m = this.merges.get(leftId * this.vocabSize + rightId)!;
      if (Math.floor(m / ID_SPACE) !== rank) continue;
      // Merge r into pos.
      sym[pos] = m % ID_SPACE;
      alive[r] = 0;
      const rn = next[r];
      next[pos] = rn;
      if (rn >= 0) prev[rn] = pos;
      const p = prev[pos];
      if (p >= 0) {
        const mp = this.merges.get(sym[p] * this.vocabSize + sym[pos]);
        if (mp !== undefined) heap.push(Math.floor(mp / ID_SPACE), p, sym[p], sym[pos]);
      }
      if (rn >= 0) {
        const mn = this.merges.get(sym[pos] * this.vocabSize + sym[rn]);
        if (mn !== undefined) heap.push(Math.floor(mn / ID_SPACE), pos, sym[pos], sym[rn]);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(sym[i]);
    return out;
  }
}

/** A binary min-heap of (rank, position, leftId, rightId), ordered by rank then position. */
class MinHeap {
  private rank: number[] = [];
  private pos: number[] = [];
  private left: number[] = [];
  private right: number[] = [];
  get size(): number {
    return this.rank.length;
  }
  private less(i: number, j: number): boolean {
    return this.rank[i] < this.rank[j] || (this.rank[i] === this.rank[j] && this.pos[i] < this.pos[j]);
  }
  private swap(i: number, j: number): void {
    [this.rank[i], this.rank[j]] = [this.rank[j], this.rank[i]];
    [this.pos[i], this.pos[j]] = [this.pos[j], this.pos[i]];
    [this.left[i], this.left[j]] = [this.left[j], this.left[i]];
    [this.right[i], this.right[j]] = [this.right[j], this.right[i]];
  }
  push(rank: number, pos: number, left: number, right: number): void {
    this.rank.push(rank);
    this.pos.push(pos);
    this.left.push(left);
    this.right.push(right);
    let i = this.rank.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number, number, number] {
    const top: [number, number, number, number] = [this.rank[0], this.pos[0], this.left[0], this.right[0]];
    const last = this.rank.length - 1;
    this.swap(0, last);
    this.rank.pop();
    this.pos.pop();
    this.left.pop();
    this.right.pop();
    let i = 0;
    const n = this.rank.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

function flatCopy(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
