/**
 * OpenAI's tokenizers (o200k_base, cl100k_base) through the `gpt-tokenizer` package, with a fast
 * token counter for dataset statistics.
 *
 * Counting speed matters: `tunekit validate` counts every message of files of hundreds of MB. The
 * package's own counter runs the pre-tokenisation regex (slow in V8: docs/tokenizers.md) and then BPE
 * per chunk. `count()` here splits ASCII text with hand-written scanners that reproduce the regexes
 * exactly (openaiPretokenize.ts), falls back to the real regex for any string with a non-ASCII
 * character, and caches the token count of every chunk in a bounded table keyed by two 32-bit hashes
 * computed while scanning, so a repeated word costs one lookup. The counts are identical to the
 * package's (tested on a large mixed corpus; see chunkTable.ts for the one-in-2^64 caveat). Counting
 * merges with tunekit's own BPE over the package's ranks (tiktokenRanks.ts: cached, so a thread starts
 * counting in milliseconds); encode and decode are the package's.
 */
import { createRequire } from "node:module";
import type o200kApiType from "gpt-tokenizer/encoding/o200k_base";
import { TunekitError } from "../util/errors.js";
import type { Tokenizer } from "./types.js";
import { nextCl100k, nextO200k } from "./openaiPretokenize.js";
import { ChunkCountTable, FNV_OFFSET, FNV_PRIME, H2_OFFSET, H2_PRIME, fnv1a, hash2 } from "./chunkTable.js";
import { loadRankTable, type RankTable, type RankTableInfo } from "./tiktokenRanks.js";

export type OpenAiEncodingName = "o200k_base" | "cl100k_base";

type GptEncodingApi = typeof o200kApiType;

const requireCjs = createRequire(import.meta.url);

/**
 * The package's API for one encoding, loaded on the first encode/decode (or to build the rank cache):
 * each encoding's tables take hundreds of milliseconds and tens of MB to load, which counting alone
 * does not pay.
 * Loaded synchronously through the package's CommonJS build.
 */
function loadEncoding(encoding: OpenAiEncodingName): GptEncodingApi {
  const m = requireCjs(encoding === "o200k_base" ? "gpt-tokenizer/encoding/o200k_base" : "gpt-tokenizer/encoding/cl100k_base") as { default: GptEncodingApi };
  return m.default;
}

/** The parts of gpt-tokenizer's (internal) BPE core that the fast counter reads its data from. */
interface BpeCore {
  bytePairRankDecoder: ArrayLike<string | number[]>;
  specialTokensEncoder?: Map<string, number>;
}

/** <|endoftext|>'s id, for when the package's special-token table is not at hand. */
function endOfTextId(encoding: OpenAiEncodingName): number {
  return encoding === "o200k_base" ? 199999 : 100257;
}

function packageVersion(): string {
  try {
    return (requireCjs("gpt-tokenizer/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * The encoding's ranks for the fast counter: from tunekit's cache, else from the package's internal
 * BPE core (and cached). Undefined if a future package version no longer has that core: count() then
 * uses the package's public counter (slower, same result).
 */
function loadRanks(encoding: OpenAiEncodingName, api: () => GptEncodingApi): { table: RankTable; info: RankTableInfo } | undefined {
  return loadRankTable(`gpt-tokenizer@${packageVersion()}-${encoding}`, () => {
    const a = api();
    const core = (a as unknown as { bytePairEncodingCoreProcessor?: Partial<BpeCore> }).bytePairEncodingCoreProcessor;
    if (!core || !Array.isArray(core.bytePairRankDecoder)) return undefined;
    return {
      tokens: core.bytePairRankDecoder,
      vocabularySize: a.vocabularySize,
      // The package's special-token table (it lists a few more than tiktoken does; ids agree for
      // <|endoftext|>). Taken from the package so encode/decode agree with each other.
      special: [...(core.specialTokensEncoder ?? [["<|endoftext|>", endOfTextId(encoding)]])],
    };
  });
}

const SPLIT_REGEX_O200K =
  /[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE]))?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
const SPLIT_REGEX_CL100K =
  /'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s/gu;

/** The pre-tokenisation regex of an encoding (the same pattern gpt-tokenizer and tiktoken use). */
export function openAiSplitRegex(encoding: OpenAiEncodingName): RegExp {
  return new RegExp(encoding === "o200k_base" ? SPLIT_REGEX_O200K : SPLIT_REGEX_CL100K);
}

/** 2^18 slots: up to 131,072 distinct chunks before the table starts afresh (a few MB). */
const CHUNK_TABLE_BITS = 18;
/** countRepeated remembers whole texts of this length range (up to TEXT_CACHE_LIMIT of them: at most ~16 MB of one-byte text). */
const WHOLE_TEXT_MIN = 48;
const WHOLE_TEXT_MAX = 4_000;
const TEXT_CACHE_LIMIT = 4_096;

export class OpenAiTokenizer implements Tokenizer {
  readonly name: OpenAiEncodingName;
  readonly vocabSize: number;
  readonly bosTokenId = undefined;
  readonly eosTokenId: number;
  readonly stopTokenIds: number[];
  private loadedApi: GptEncodingApi | undefined;
  private readonly ranks: RankTable | undefined;
  private readonly splitRegex: RegExp;
  private readonly special: Map<string, number>;
  private readonly specialById: Map<number, string>;
  private readonly table: ChunkCountTable | undefined;
  private textCounts = new Map<string, number>();

  constructor(encoding: OpenAiEncodingName) {
    this.name = encoding;
    this.splitRegex = openAiSplitRegex(encoding);
    const loaded = loadRanks(encoding, () => this.api);
    this.ranks = loaded?.table;
    this.vocabSize = loaded?.info.vocabularySize ?? this.api.vocabularySize;
    this.table = this.ranks === undefined ? undefined : new ChunkCountTable(CHUNK_TABLE_BITS, (chunk) => this.ranks!.count(chunk));
    const eot = endOfTextId(encoding);
    this.special = new Map(loaded?.info.special ?? [["<|endoftext|>", eot]]);
    this.specialById = new Map([...this.special].map(([k, v]) => [v, k]));
    this.eosTokenId = this.special.get("<|endoftext|>") ?? eot;
    this.stopTokenIds = [this.eosTokenId];
  }

  /** The package's API (encode, decode), loaded on first use: counting does not need it. */
  private get api(): GptEncodingApi {
    this.loadedApi ??= loadEncoding(this.name);
    return this.loadedApi;
  }

  encode(text: string, options: { addSpecialTokens?: boolean; allowSpecial?: boolean } = {}): number[] {
    // OpenAI encodings add no BOS/EOS, so addSpecialTokens changes nothing.
    if (options.allowSpecial) return this.api.encode(text, { allowedSpecial: new Set(this.special.keys()) });
    return this.api.encode(text, { disallowedSpecial: new Set() });
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const list = Array.from(ids);
    return this.api.decode(options.skipSpecialTokens ? list.filter((id) => !this.specialById.has(id)) : list);
  }

  /** Token count of `text` read as plain text (special-token strings count as text). Fast path. */
  count(text: string): number {
    if (text.length === 0) return 0;
    if (this.table === undefined) return this.api.countTokens(text, { disallowedSpecial: new Set() });
    const total = this.name === "o200k_base" ? this.countAsciiO200k(text) : this.countAsciiCl100k(text);
    return total >= 0 ? total : this.countWithRegex(text);
  }

  /**
   * count() for texts that recur whole (system prompts, tool definitions): one Map lookup when seen
   * before. Not used for every text: looking up a text that never recurs costs a hash of all of it
   * plus an insertion, a sizeable share of the counting time on unique user messages.
   */
  countRepeated(text: string): number {
    const n = text.length;
    if (n < WHOLE_TEXT_MIN || n > WHOLE_TEXT_MAX) return this.count(text);
    const known = this.textCounts.get(text);
    if (known !== undefined) return known;
    const total = this.count(text);
    if (this.textCounts.size >= TEXT_CACHE_LIMIT) this.textCounts = new Map();
    this.textCounts.set(text, total);
    return total;
  }

  /**
   * o200k_base over ASCII text; -1 when the text has a non-ASCII character. The commonest chunks
   * (" word", "Word", "word") are recognised inline while hashing; the rest go through the scanner.
   */
  private countAsciiO200k(s: string): number {
    const n = s.length;
    const table = this.table!;
    let total = 0;
    let i = 0;
    while (i < n) {
      let c = s.charCodeAt(i);
      let j = i;
      let h = FNV_OFFSET;
      let h2 = H2_OFFSET;
      let e = -1;
      if (c === 32) {
        h = Math.imul(h ^ 32, FNV_PRIME);
        h2 = Math.imul(h2 ^ 32, H2_PRIME);
        j = i + 1;
        c = j < n ? s.charCodeAt(j) : 0;
      }
      if (c >= 65 && c <= 90 && j + 1 < n) {
        const d = s.charCodeAt(j + 1);
        if (d >= 97 && d <= 122) {
          h = Math.imul(h ^ c, FNV_PRIME);
          h2 = Math.imul(h2 ^ c, H2_PRIME);
          j++;
          c = d;
        }
      }
      if (c >= 97 && c <= 122) {
        let k = j;
        let code = c;
        do {
          h = Math.imul(h ^ code, FNV_PRIME);
          h2 = Math.imul(h2 ^ code, H2_PRIME);
          k++;
        } while (k < n && (code = s.charCodeAt(k)) >= 97 && code <= 122);
        // An apostrophe may start a contraction and a non-ASCII code may continue the word.
        if (k >= n || (code !== 39 && code < 128)) e = k;
      }
      if (e < 0) {
        e = nextO200k(s, i, n);
        if (e < 0) return -1;
        h = fnv1a(s, i, e);
        h2 = hash2(s, i, e);
      }
      total += table.get(s, i, e, h, h2);
      i = e;
    }
    return total;
  }

  /** cl100k_base over ASCII text; -1 when the text has a non-ASCII character. */
  private countAsciiCl100k(s: string): number {
    const n = s.length;
    const table = this.table!;
    let total = 0;
    let i = 0;
    while (i < n) {
      let c = s.charCodeAt(i);
      let j = i;
      let h = FNV_OFFSET;
      let h2 = H2_OFFSET;
      let e = -1;
      if (c === 32) {
        h = Math.imul(h ^ 32, FNV_PRIME);
        h2 = Math.imul(h2 ^ 32, H2_PRIME);
        j = i + 1;
        c = j < n ? s.charCodeAt(j) : 0;
      }
      if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) {
        let k = j;
        let code = c;
        do {
          h = Math.imul(h ^ code, FNV_PRIME);
          h2 = Math.imul(h2 ^ code, H2_PRIME);
          k++;
        } while (k < n && (((code = s.charCodeAt(k)) >= 97 && code <= 122) || (code >= 65 && code <= 90)));
        if (k >= n || code < 128) e = k;
      }
      if (e < 0) {
        e = nextCl100k(s, i, n);
        if (e < 0) return -1;
        h = fnv1a(s, i, e);
        h2 = hash2(s, i, e);
      }
      total += table.get(s, i, e, h, h2);
      i = e;
    }
    return total;
  }

  /** The same count through the real regex, used for strings that are not pure ASCII. */
  countWithRegex(text: string): number {
    const re = this.splitRegex;
    const table = this.table!;
    re.lastIndex = 0;
    let total = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const chunk = m[0];
      total += table.get(chunk, 0, chunk.length, fnv1a(chunk, 0, chunk.length), hash2(chunk, 0, chunk.length));
    }
    return total;
  }

  tokenToId(token: string): number | undefined {
    const s = this.special.get(token);
    if (s !== undefined) return s;
    const ids = this.api.encode(token, { disallowedSpecial: new Set() });
    return ids.length === 1 ? ids[0] : undefined;
  }

  idToToken(id: number): string | undefined {
    const s = this.specialById.get(id);
    if (s !== undefined) return s;
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    try {
      return this.api.decode([id]);
    } catch {
      return undefined;
    }
  }
}

const instances = new Map<OpenAiEncodingName, OpenAiTokenizer>();

/** The shared tokenizer of an encoding (built once; the BPE tables are large). */
export function getOpenAiTokenizer(encoding: OpenAiEncodingName): OpenAiTokenizer {
  let t = instances.get(encoding);
  if (t === undefined) {
    t = new OpenAiTokenizer(encoding);
    instances.set(encoding, t);
  }
  return t;
}

/**
 * Which encoding an OpenAI model uses (tiktoken's model table, as of late 2025), including fine-tuned
 * names like `ft:gpt-4o-mini-2024-07-18:org::id`. Undefined for names that are not OpenAI chat/
 * embedding models.
 */
export function openAiEncodingForModel(model: string): OpenAiEncodingName | undefined {
  let m = model.trim().toLowerCase();
  if (m.startsWith("ft:")) m = m.slice(3).split(":")[0];
  if (m.startsWith("openai/")) m = m.slice("openai/".length);
  // gpt-oss uses o200k_harmony, which shares o200k_base's vocabulary for text.
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss|gpt-realtime|gpt-audio|codex-mini|omni-moderation)/.test(m))
    return "o200k_base";
  if (/^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002)/.test(m)) return "cl100k_base";
  return undefined;
}

export const OPENAI_MODEL_PATTERNS_HELP =
  "OpenAI models (gpt-4o*, gpt-4.1*, gpt-5*, o1/o3/o4*, chatgpt-4o* -> o200k_base; gpt-4, gpt-3.5-turbo*, text-embedding-3* -> cl100k_base), or an encoding name (o200k_base, cl100k_base)";

/** The tokenizer for an OpenAI model name or encoding name; a TunekitError for anything else. */
export function openAiTokenizerForModel(model: string): OpenAiTokenizer {
  if (model === "o200k_base" || model === "cl100k_base") return getOpenAiTokenizer(model);
  const enc = openAiEncodingForModel(model);
  if (enc === undefined)
    throw new TunekitError("unknown_model", `not an OpenAI model name: ${model}`, {
      hint: `use one of: ${OPENAI_MODEL_PATTERNS_HELP}`,
    });
  return getOpenAiTokenizer(enc);
}
