/**
 * tiktoken-style byte-pair encoding for counting (o200k_base, cl100k_base): the rank of every token's
 * bytes in one open-addressing table, and the BPE merge loop over a chunk's UTF-8 bytes.
 *
 * Why not the package's own core: gpt-tokenizer builds its tables when an encoding is loaded, in every
 * thread that counts (compiling a 2.4 MB module of 200k strings, then a 200k-entry Map), which takes
 * longer than a whole small `tunekit validate`. Here the ranks are read from the package once and
 * kept as a small binary file in $TUNEKIT_HOME/cache (tokens' bytes back to back and their offsets),
 * which later processes and worker threads load far faster (figures in docs/tokenizers.md). Merging follows
 * tiktoken: repeatedly join the adjacent pair whose bytes have the lowest rank, the leftmost on a tie.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomicSync } from "../util/fs.js";
import { FNV_OFFSET, FNV_PRIME } from "./chunkTable.js";
import { tunekitHome } from "../util/home.js";

const NO_RANK = 0x7fffffff;
/** Chunks longer than this many bytes merge through the heap (countLong). */
const LONG_CHUNK = 256;
/** Heap keys are rank * POS_SPAN + start: exact in a double for ranks < 2^21 and starts < 2^31. */
const POS_SPAN = 2 ** 31;

/** A binary min-heap of numbers (pair keys). */
class PairHeap {
  private a: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(16, capacity));
  }
  push(rank: number, start: number): void {
    if (this.size === this.a.length) {
      const bigger = new Float64Array(this.a.length * 2);
      bigger.set(this.a);
      this.a = bigger;
    }
    const a = this.a;
    const key = rank * POS_SPAN + start;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= key) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = key;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a[--this.size];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= this.size) break;
      if (c + 1 < this.size && a[c + 1] < a[c]) c++;
      if (a[c] >= last) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/** FNV-1a over bytes (chunkTable's fnv1a hashes UTF-16 code units of a string). */
function hashBytes(b: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let k = start; k < end; k++) h = Math.imul(h ^ b[k], FNV_PRIME);
  return h;
}

export class RankTable {
  /** Rank r's bytes are blob[offsets[r], offsets[r + 1]). */
  private readonly blob: Uint8Array;
  private readonly offsets: Int32Array;
  /** rank + 1 per slot (0 = empty). */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private starts = new Int32Array(64);
  private ranks = new Int32Array(64);
  private bytes = new Uint8Array(256);
  private readonly encoder = new TextEncoder();

  constructor(blob: Uint8Array, offsets: Int32Array) {
    this.blob = blob;
    this.offsets = offsets;
    const count = offsets.length - 1;
    let cap = 1;
    while (cap < count * 2) cap <<= 1;
    this.mask = cap - 1;
    this.slots = new Int32Array(cap);
    for (let r = 0; r < count; r++) {
      const s = offsets[r];
      const e = offsets[r + 1];
      if (e === s) continue; // a rank without bytes (a gap in the vocabulary)
      let slot = hashBytes(blob, s, e) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = r + 1;
    }
  }

  /** Tokens as the package lists them by rank: a string (UTF-8 text) or the raw bytes. */
  static fromTokens(tokens: ArrayLike<string | ArrayLike<number> | undefined>): RankTable {
    const enc = new TextEncoder();
    const parts: Uint8Array[] = [];
    const offsets = new Int32Array(tokens.length + 1);
    let total = 0;
    for (let r = 0; r < tokens.length; r++) {
      const t = tokens[r];
      const bytes = typeof t === "string" ? enc.encode(t) : t === undefined ? new Uint8Array(0) : Uint8Array.from(t);
      parts.push(bytes);
      offsets[r] = total;
      total += bytes.length;
    }
    offsets[tokens.length] = total;
    const blob = new Uint8Array(total);
    parts.forEach((p, r) => blob.set(p, offsets[r]));
    return new RankTable(blob, offsets);
  }

  get size(): number {
    return this.offsets.length - 1;
  }

  /** The rank of bytes b[start, end), or NO_RANK. */
  rankOf(b: Uint8Array, start: number, end: number): number {
    const len = end - start;
    const { blob, offsets, slots, mask } = this;
    let slot = hashBytes(b, start, end) & mask;
    for (;;) {
      const v = slots[slot];
      if (v === 0) return NO_RANK;
      const s = offsets[v - 1];
      if (offsets[v] - s === len) {
        let k = 0;
        while (k < len && blob[s + k] === b[start + k]) k++;
        if (k === len) return v - 1;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Number of tokens BPE makes of b[0, n). */
  countBytes(b: Uint8Array, n: number): number {
    if (n <= 1) return n;
    if (this.rankOf(b, 0, n) !== NO_RANK) return 1;
    return n > LONG_CHUNK ? this.countLong(b, n) : this.countShort(b, n);
  }

  /** The merge loop with a scan for the lowest rank: quadratic, but the fastest on the short chunks of real text. */
  private countShort(b: Uint8Array, n: number): number {
    if (this.starts.length < n + 1) {
      this.starts = new Int32Array(2 * n + 2);
      this.ranks = new Int32Array(2 * n + 2);
    }
    const starts = this.starts;
    const ranks = this.ranks;
    // Boundaries starts[0..m); ranks[i] = rank of the bytes from starts[i] to starts[i + 2].
    let m = n + 1;
    for (let i = 0; i <= n; i++) {
      starts[i] = i;
      ranks[i] = i + 2 <= n ? this.rankOf(b, i, i + 2) : NO_RANK;
    }
    while (m > 2) {
      let best = NO_RANK;
      let at = -1;
      for (let i = 0; i < m - 2; i++) {
        if (ranks[i] < best) {
          best = ranks[i];
          at = i;
        }
      }
      if (at < 0) break;
      // Drop boundary at + 1; the pairs starting at `at` and at - 1 change.
      starts.copyWithin(at + 1, at + 2, m);
      ranks.copyWithin(at, at + 1, m);
      m--;
      ranks[at] = at + 2 < m ? this.rankOf(b, starts[at], starts[at + 2]) : NO_RANK;
      if (at > 0) ranks[at - 1] = this.rankOf(b, starts[at - 1], starts[at + 1]);
    }
    return m - 1;
  }

  /**
   * The same merges in O(n log n) for long chunks (one "word" of thousands of letters would take
   * seconds to minutes with the scan): parts form a linked list by start byte, and a heap holds each
   * adjacent pair keyed by (rank, start), so the pop is the lowest rank and the leftmost on a tie, as
   * tiktoken merges. An entry whose pair has changed since it was pushed no longer matches rankAt and is
   * skipped.
   */
  private countLong(b: Uint8Array, n: number): number {
    const next = new Int32Array(n + 1);
    const prev = new Int32Array(n + 1);
    const rankAt = new Int32Array(n + 1);
    const heap = new PairHeap(n);
    for (let i = 0; i <= n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
      rankAt[i] = i + 2 <= n ? this.rankOf(b, i, i + 2) : NO_RANK;
      if (rankAt[i] !== NO_RANK) heap.push(rankAt[i], i);
    }
    let parts = n;
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POS_SPAN);
      const s = key - rank * POS_SPAN;
      if (rankAt[s] !== rank) continue; // stale: the pair starting at s changed or merged away
      // Join the part at s with the next one: boundary t = next[s] goes.
      const t = next[s];
      const u = next[t];
      next[s] = u;
      if (u <= n) prev[u] = s;
      rankAt[t] = NO_RANK;
      parts--;
      const v = u <= n ? next[u] : n + 1;
      rankAt[s] = v <= n ? this.rankOf(b, s, v) : NO_RANK;
      if (rankAt[s] !== NO_RANK) heap.push(rankAt[s], s);
      const p = prev[s];
      if (p >= 0) {
        rankAt[p] = this.rankOf(b, p, u);
        if (rankAt[p] !== NO_RANK) heap.push(rankAt[p], p);
      }
    }
    return parts;
  }

  /** Number of tokens BPE makes of a chunk (one piece of pre-tokenised text). */
  count(chunk: string): number {
    const n = chunk.length;
    let ascii = true;
    if (this.bytes.length < 3 * n) this.bytes = new Uint8Array(3 * n + 16);
    const b = this.bytes;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (c >= 128) {
        ascii = false;
        break;
      }
      b[i] = c;
    }
    if (ascii) return this.countBytes(b, n);
    return this.countBytes(b, this.encoder.encodeInto(chunk, b).written);
  }

  /** The table as bytes (see loadRankTable's cache). */
  serialise(): Uint8Array {
    const out = new Uint8Array(this.offsets.byteLength + this.blob.byteLength);
    out.set(new Uint8Array(this.offsets.buffer, this.offsets.byteOffset, this.offsets.byteLength), 0);
    out.set(this.blob, this.offsets.byteLength);
    return out;
  }

  static deserialise(data: Uint8Array, count: number): RankTable {
    const offsetBytes = (count + 1) * 4;
    const offsets = new Int32Array(count + 1);
    new Uint8Array(offsets.buffer).set(data.subarray(0, offsetBytes));
    const blob = data.slice(offsetBytes);
    if (offsets[count] !== blob.length) throw new Error("rank table: sizes do not match");
    return new RankTable(blob, offsets);
  }
}

/** What a tokenizer needs besides the ranks, kept in the cache file's header. */
export interface RankTableInfo {
  vocabularySize: number;
  special: [string, number][];
}

export interface RankSource extends RankTableInfo {
  /** The tokens by rank (gpt-tokenizer's bytePairRankDecoder). */
  tokens: ArrayLike<string | ArrayLike<number> | undefined>;
}

const MAGIC = "tunekit-bpe-ranks 1\n";

/** $TUNEKIT_HOME/cache/<id>.ranks, or undefined where the cache is off (TUNEKIT_CACHE=0). */
function cachePath(id: string, env: NodeJS.ProcessEnv): string | undefined {
  if (env.TUNEKIT_CACHE === "0") return undefined;
  return join(tunekitHome({ env }), "cache", `${id.replace(/[^A-Za-z0-9._-]+/g, "_")}.ranks`);
}

function readCache(path: string, id: string): { table: RankTable; info: RankTableInfo } | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    const nl = data.indexOf(10, MAGIC.length);
    if (data.subarray(0, MAGIC.length).toString("latin1") !== MAGIC || nl < 0) return undefined;
    const header = JSON.parse(data.subarray(MAGIC.length, nl).toString("utf8")) as RankTableInfo & { id: string; count: number; bytes: number };
    const body = data.subarray(nl + 1);
    if (header.id !== id || body.length !== header.bytes) return undefined;
    return { table: RankTable.deserialise(body, header.count), info: { vocabularySize: header.vocabularySize, special: header.special } };
  } catch {
    return undefined; // a damaged cache file is rebuilt
  }
}

function writeCache(path: string, id: string, table: RankTable, info: RankTableInfo): void {
  const body = table.serialise();
  const header = JSON.stringify({ id, count: table.size, bytes: body.length, vocabularySize: info.vocabularySize, special: info.special });
  try {
    mkdirSync(dirname(path), { recursive: true });
    // Atomic: a concurrent reader (another worker thread) sees no file or the whole file.
    writeFileAtomicSync(path, Buffer.concat([Buffer.from(MAGIC + header + "\n", "utf8"), body]));
  } catch {
    // A read-only or full home only costs the next process the slow load.
  }
}

/**
 * The rank table for `id` (names the data, e.g. "gpt-tokenizer@4.0.0-o200k_base": a cache file of other
 * data is never used): from the cache when it holds the same id, else built from `source()` (the slow
 * load) and cached for the next process.
 */
export function loadRankTable(id: string, source: () => RankSource | undefined, env: NodeJS.ProcessEnv = process.env): { table: RankTable; info: RankTableInfo } | undefined {
  const path = cachePath(id, env);
  const cached = path === undefined ? undefined : readCache(path, id);
  if (cached) return cached;
  const src = source();
  if (src === undefined) return undefined;
  const table = RankTable.fromTokens(src.tokens);
  const info = { vocabularySize: src.vocabularySize, special: src.special };
  if (path !== undefined) writeCache(path, id, table, info);
  return { table, info };
}
