/**
 * Hugging Face tokenizers from a model folder: `tokenizer.json` (the `tokenizers` library's format)
 * plus `tokenizer_config.json` (special tokens, add_bos_token/add_eos_token, chat template, also read
 * from `chat_template.jinja` / `chat_template.json`).
 *
 * Our own implementation: the pure-JS @huggingface/tokenizers package encodes correctly but at about
 * 1 MB/s here, far too slow for dataset statistics. Supported (what Llama 2/3, Mistral, Qwen2,
 * SmolLM, GPT-2-style and SentencePiece-converted tokenizers use):
 *   normalizers: Sequence, Prepend, Replace (string or regex), NFC/NFD/NFKC/NFKD, Lowercase, Strip;
 *   pre-tokenizers: Sequence, ByteLevel, Digits, Split (Isolated/Removed/MergedWithPrevious/
 *     MergedWithNext), Metaspace, Whitespace, WhitespaceSplit;
 *   model: BPE (byte-level or with byte fallback);
 *   post-processors: TemplateProcessing, ByteLevel, Sequence (BOS/EOS only);
 *   decoders: ByteLevel, Metaspace, Sequence of Replace/ByteFallback/Fuse/Strip.
 * Anything else is refused with a TunekitError naming the component.
 *
 * `encode(text)` adds no BOS/EOS unless `addSpecialTokens: true` (chat templates write their own
 * BOS); special tokens written in the text are recognised only with `allowSpecial: true`.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TunekitError, fsError } from "../util/errors.js";
import { BpeModel } from "./bpe.js";
import { CHAR_TO_BYTE, toByteLevel } from "./byteLevel.js";
import type { Tokenizer } from "./types.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** GPT-2's pre-tokenisation regex, used by the ByteLevel pre-tokenizer with use_regex. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

/** Receives a pre-tokenised piece; `atStart`: it begins at offset 0 of the input (Metaspace "first"). */
type Emit = (piece: string, atStart: boolean) => void;
/** Splits text into pieces, handing each to `emit` (no intermediate arrays on the hot path). */
type PreTokenizer = (text: string, atStart: boolean, emit: Emit) => void;
type Normalizer = (s: string) => string;
type Decoder = (tokens: string[]) => string[];

export interface SpecialTokenNames {
  bos?: string;
  eos?: string;
  pad?: string;
  unk?: string;
}

export interface HfTokenizerOptions {
  name: string;
  tokenizerJson: Json;
  tokenizerConfig?: Json;
  /** The chat template if it came from chat_template.jinja / chat_template.json. */
  chatTemplate?: string | Record<string, string>;
  /** config.json / generation_config.json: used for BOS/EOS ids when tokenizer_config lacks them. */
  modelConfig?: Json;
  generationConfig?: Json;
  /** Where it was read from, for error messages. */
  file?: string;
}

/** End-of-turn tokens of well-known chat formats: generation stops on them too. */
const KNOWN_END_OF_TURN = ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"];

export class HfTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly padTokenId?: number;
  readonly stopTokenIds: number[];
  /** Token strings of the special tokens tokenizer_config names (bos_token, eos_token, ...). */
  readonly specialTokens: SpecialTokenNames;
  /** The chat template (a Jinja string, or named templates), if the model has one. */
  readonly chatTemplate?: string | Record<string, string>;
  /** tokenizer_config.json as read (empty object when absent). */
  readonly tokenizerConfig: Json;
  /** Ids a plain `encode(text, { addSpecialTokens: true })` puts before / after the text. */
  readonly prefixIds: number[];
  readonly suffixIds: number[];

  private readonly vocab: Map<string, number>;
  private readonly idToTok: string[];
  private readonly added: AddedToken[];
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly specialIds = new Set<number>();
  private readonly addedRegexAll: RegExp | undefined;
  private readonly addedRegexNonSpecial: RegExp | undefined;
  private readonly normalizer: Normalizer | undefined;
  private readonly preTokenizer: PreTokenizer | undefined;
  private readonly byteLevel: boolean;
  private readonly bpe: BpeModel;
  private readonly decoder: Decoder;
  private readonly pieceCache = new Map<string, number[]>();
  /**
   * SentencePiece-style tokenizers have no pre-tokenizer: a whole message would be one BPE word. When
   * no vocabulary entry has "▁" after another character, no merge can cross a word start, so words
   * can be encoded (and cached) one by one with identical results.
   */
  private readonly metaspaceWords: RegExp | undefined;

  constructor(o: HfTokenizerOptions) {
    const tj = o.tokenizerJson;
    const where = o.file ?? o.name;
    this.name = o.name;
    this.tokenizerConfig = o.tokenizerConfig ?? {};
    const model = tj.model as Json | undefined;
    if (!model || model.type !== "BPE")
      throw unsupported(where, `model type ${JSON.stringify(model?.type)}`, "only BPE tokenizers are supported");
    if (model.dropout || model.continuing_subword_prefix || model.end_of_word_suffix)
      throw unsupported(where, "BPE with dropout or subword prefix/suffix", "only plain BPE tokenizers are supported");

    this.vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    this.added = ((tj.added_tokens ?? []) as Json[]).map((t) => ({
      id: t.id,
      content: t.content,
      special: Boolean(t.special),
      lstrip: Boolean(t.lstrip),
      rstrip: Boolean(t.rstrip),
      singleWord: Boolean(t.single_word),
    }));
    let maxId = -1;
    for (const id of this.vocab.values()) maxId = Math.max(maxId, id);
    for (const t of this.added) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.idToTok = new Array(this.vocabSize);
    for (const [tok, id] of this.vocab) this.idToTok[id] = tok;
    for (const t of this.added) {
      this.idToTok[t.id] = t.content;
      this.addedById.set(t.id, t);
      this.addedByContent.set(t.content, t);
      if (t.special) this.specialIds.add(t.id);
    }
    this.addedRegexAll = addedTokenRegex(this.added);
    this.addedRegexNonSpecial = addedTokenRegex(this.added.filter((t) => !t.special));

    const merges = ((model.merges ?? []) as (string | [string, string])[]).map((m) =>
      typeof m === "string" ? (splitMerge(m) as [string, string]) : m,
    );
    const unk = typeof model.unk_token === "string" ? this.vocab.get(model.unk_token) : undefined;
    this.normalizer = buildNormalizer(tj.normalizer, where);
    const pre = buildPreTokenizer(tj.pre_tokenizer, where);
    this.preTokenizer = pre?.fn;
    this.byteLevel = pre?.byteLevel ?? false;
    this.bpe = new BpeModel({
      vocab: this.vocab,
      merges,
      byteFallback: Boolean(model.byte_fallback),
      unkTokenId: unk,
      fuseUnk: Boolean(model.fuse_unk),
      ignoreMerges: Boolean(model.ignore_merges),
    });
    this.decoder = buildDecoder(tj.decoder, where);
    if (this.preTokenizer === undefined && !this.byteLevel) {
      const rep = "\u2581";
      let crossing = false;
      for (const tok of this.vocab.keys()) {
        const k = tok.indexOf(rep, 1);
        if (k > 0 && /[^\u2581]\u2581/u.test(tok)) {
          crossing = true;
          break;
        }
      }
      if (!crossing) this.metaspaceWords = /\u2581*[^\u2581]+|\u2581+/gu;
    }

    // Special tokens: tokenizer_config first, then config.json / generation_config.json ids.
    const cfg = this.tokenizerConfig;
    this.specialTokens = {
      bos: tokenName(cfg.bos_token),
      eos: tokenName(cfg.eos_token),
      pad: tokenName(cfg.pad_token),
      unk: tokenName(cfg.unk_token),
    };
    const idOf = (s: string | undefined) => (s === undefined ? undefined : this.tokenToId(s));
    const firstId = (v: unknown) => (Array.isArray(v) ? (v[0] as number | undefined) : typeof v === "number" ? v : undefined);
    this.bosTokenId = idOf(this.specialTokens.bos) ?? firstId(o.generationConfig?.bos_token_id) ?? firstId(o.modelConfig?.bos_token_id);
    this.eosTokenId = idOf(this.specialTokens.eos) ?? firstId(o.generationConfig?.eos_token_id) ?? firstId(o.modelConfig?.eos_token_id);
    this.padTokenId = idOf(this.specialTokens.pad) ?? firstId(o.modelConfig?.pad_token_id);
    if (this.specialTokens.bos === undefined && this.bosTokenId !== undefined) this.specialTokens.bos = this.idToToken(this.bosTokenId);
    if (this.specialTokens.eos === undefined && this.eosTokenId !== undefined) this.specialTokens.eos = this.idToToken(this.eosTokenId);

    const stops = new Set<number>();
    if (this.eosTokenId !== undefined) stops.add(this.eosTokenId);
    for (const src of [o.generationConfig?.eos_token_id, o.modelConfig?.eos_token_id])
      for (const id of Array.isArray(src) ? src : typeof src === "number" ? [src] : []) stops.add(id);
    for (const t of KNOWN_END_OF_TURN) {
      const a = this.added.find((x) => x.content === t && x.special);
      if (a) stops.add(a.id);
    }
    this.stopTokenIds = [...stops];

    const post = postProcessorIds(tj.post_processor, (s) => this.tokenToId(s));
    let prefix = post.prefix;
    let suffix = post.suffix;
    // transformers rebuilds the template from these flags when the config sets them.
    if (typeof cfg.add_bos_token === "boolean") prefix = cfg.add_bos_token && this.bosTokenId !== undefined ? [this.bosTokenId] : [];
    if (typeof cfg.add_eos_token === "boolean") suffix = cfg.add_eos_token && this.eosTokenId !== undefined ? [this.eosTokenId] : [];
    this.prefixIds = prefix;
    this.suffixIds = suffix;
    this.chatTemplate = o.chatTemplate ?? (cfg.chat_template as string | Record<string, string> | undefined);
    if (Array.isArray(this.chatTemplate)) {
      // [{name, template}] in tokenizer_config.json
      const named: Record<string, string> = {};
      for (const t of this.chatTemplate as Json[]) if (typeof t?.name === "string") named[t.name] = String(t.template);
      this.chatTemplate = named;
    }
  }

  /** Whether the model reads bytes as GPT-2-style byte-level characters. */
  get isByteLevel(): boolean {
    return this.byteLevel;
  }

  encode(text: string, options: { addSpecialTokens?: boolean; allowSpecial?: boolean } = {}): number[] {
    const out: number[] = options.addSpecialTokens ? [...this.prefixIds] : [];
    const re = options.allowSpecial ? this.addedRegexAll : this.addedRegexNonSpecial;
    if (re === undefined) {
      this.encodeSection(text, true, out);
    } else {
      let last = 0;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        const tok = this.addedByContent.get(m[0])!;
        let start = m.index;
        let end = start + m[0].length;
        if (tok.singleWord && (isWordChar(text[start - 1]) || isWordChar(text[end]))) {
          re.lastIndex = start + 1;
          continue;
        }
        if (tok.lstrip) while (start > last && /\s/.test(text[start - 1])) start--;
        if (tok.rstrip) while (end < text.length && /\s/.test(text[end])) end++;
        if (start > last) {
          // Metaspace's prepend_scheme "first" prepends only to text at the very start of the input.
          this.encodeSection(text.slice(last, start), last === 0, out);
        }
        out.push(tok.id);
        last = end;
        re.lastIndex = end;
      }
      if (last < text.length) this.encodeSection(text.slice(last), last === 0, out);
    }
    if (options.addSpecialTokens) out.push(...this.suffixIds);
    return out;
  }

  /** Encodes text that holds no added tokens: normalise, pre-tokenise, BPE per piece. */
  private encodeSection(section: string, firstSection: boolean, out: number[]): void {
    if (section.length === 0) return;
    const normalized = this.normalizer ? this.normalizer(section) : section;
    if (normalized.length === 0) return;
    if (this.metaspaceWords !== undefined) {
      forEachMatch(normalized, this.metaspaceWords, (a, b) => {
        for (const id of this.bpe.encodeWord(normalized.slice(a, b))) out.push(id);
      });
      return;
    }
    if (this.preTokenizer === undefined) {
      for (const id of this.encodePiece(normalized)) out.push(id);
      return;
    }
    this.preTokenizer(normalized, firstSection, (p) => {
      if (p.length > 0) for (const id of this.encodePiece(p)) out.push(id);
    });
  }

  private encodePiece(piece: string): number[] {
    if (!this.byteLevel) return this.bpe.encodeWord(piece);
    const cached = this.pieceCache.get(piece);
    if (cached !== undefined) return cached;
    const ids = this.bpe.encodeWord(toByteLevel(piece));
    if (piece.length <= 64) {
      if (this.pieceCache.size >= 100_000) this.pieceCache.clear();
      this.pieceCache.set(piece.length > 12 ? (JSON.parse(JSON.stringify(piece)) as string) : piece, ids);
    }
    return ids;
  }

  count(text: string): number {
    if (this.addedRegexNonSpecial === undefined && this.preTokenizer !== undefined) {
      // Fast path: no encode() array for the whole text.
      const normalized = this.normalizer ? this.normalizer(text) : text;
      if (normalized.length === 0) return 0;
      let n = 0;
      this.preTokenizer(normalized, true, (p) => {
        if (p.length > 0) n += this.encodePiece(p).length;
      });
      return n;
    }
    return this.encode(text).length;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      const t = this.idToTok[id];
      if (t !== undefined) tokens.push(t);
    }
    return this.decoder(tokens).join("");
  }

  tokenToId(token: string): number | undefined {
    const a = this.addedByContent.get(token);
    if (a) return a.id;
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTok[id];
  }

  /** Whether `id` is a special added token (BOS, EOS, <|im_start|>, ...). */
  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}_]/u.test(c);
}

function tokenName(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as Json).content === "string") return (v as Json).content;
  return undefined;
}

function splitMerge(m: string): [string, string] {
  const i = m.indexOf(" ", 1);
  return [m.slice(0, i), m.slice(i + 1)];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function addedTokenRegex(tokens: AddedToken[]): RegExp | undefined {
  if (tokens.length === 0) return undefined;
  const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length);
  return new RegExp(sorted.map((t) => escapeRegex(t.content)).join("|"), "gu");
}

function unsupported(where: string, what: string, hint: string): TunekitError {
  return new TunekitError("unsupported_tokenizer", `${where}: unsupported tokenizer component: ${what}`, { file: where, hint });
}

// ---------------------------------------------------------------------------------------------
// Normalizers

function buildNormalizer(n: Json | null | undefined, where: string): Normalizer | undefined {
  if (!n) return undefined;
  switch (n.type) {
    case "Sequence": {
      const parts = (n.normalizers as Json[]).map((x) => buildNormalizer(x, where)).filter((x): x is Normalizer => x !== undefined);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case "Prepend":
      return (s) => (s.length > 0 ? n.prepend + s : s);
    case "Replace": {
      const content = String(n.content);
      if (typeof n.pattern?.String === "string") {
        const from = n.pattern.String as string;
        return (s) => s.split(from).join(content);
      }
      const re = patternRegex(n.pattern, where);
      return (s) => s.replace(re, () => content);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return (s) => s.normalize(n.type);
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Strip":
      return (s) => {
        let r = s;
        if (n.strip_left !== false) r = r.replace(/^\s+/u, "");
        if (n.strip_right !== false) r = r.replace(/\s+$/u, "");
        return r;
      };
    default:
      throw unsupported(where, `normalizer ${JSON.stringify(n.type)}`, "supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip");
  }
}

/** A `{String: ...}` or `{Regex: ...}` pattern as a global JS regex. */
function patternRegex(p: Json, where: string): RegExp {
  if (typeof p?.String === "string") return new RegExp(escapeRegex(p.String), "gu");
  if (typeof p?.Regex === "string") return new RegExp(translateOniguruma(p.Regex, where), "gu");
  throw unsupported(where, `pattern ${JSON.stringify(p)}`, "patterns are {String} or {Regex}");
}

/**
 * Oniguruma (what `tokenizers` compiles) to JavaScript: `(?i:...)` groups of plain letters become
 * case classes ([sS]). Other inline flags and constructs JavaScript lacks (possessive quantifiers,
 * atomic groups) are refused with a clear error.
 */
export function translateOniguruma(src: string, where = "tokenizer.json"): string {
  let out = src.replace(/\(\?i:([^()]*)\)/g, (_m, body: string) => {
    if (!/^[\p{L}'|]*$/u.test(body)) throw unsupported(where, `case-insensitive regex group (?i:${body})`, "only letters are supported in (?i:...)");
    const expanded = body.replace(/\p{L}/gu, (c) => (c.toLowerCase() === c.toUpperCase() ? c : `[${c.toLowerCase()}${c.toUpperCase()}]`));
    return `(?:${expanded})`;
  });
  if (/\(\?[imsx-]+[:)]/.test(out)) throw unsupported(where, `regex inline flags in ${src}`, "only (?i:...) is supported");
  try {
    new RegExp(out, "u");
  } catch (e) {
    throw unsupported(where, `regex ${src} (${(e as Error).message})`, "this pattern cannot be translated to JavaScript");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers

function buildPreTokenizer(p: Json | null | undefined, where: string): { fn: PreTokenizer; byteLevel: boolean } | undefined {
  if (!p) return undefined;
  switch (p.type) {
    case "Sequence": {
      const parts = (p.pretokenizers as Json[]).map((x) => buildPreTokenizer(x, where)).filter((x) => x !== undefined);
      const last: PreTokenizer = (s, atStart, emit) => emit(s, atStart);
      const chain = parts.reduceRight<PreTokenizer>((next, part) => (s, atStart, emit) => part!.fn(s, atStart, (q, qa) => next(q, qa, emit)), last);
      return { fn: chain, byteLevel: parts.some((x) => x!.byteLevel) };
    }
    case "ByteLevel": {
      // The byte-to-character mapping itself happens just before BPE (encodePiece), so caches can be
      // keyed by the raw text.
      const addPrefix = Boolean(p.add_prefix_space);
      const useRegex = p.use_regex !== false;
      const re = new RegExp(GPT2_SPLIT.source, "gu");
      return {
        byteLevel: true,
        fn: (piece, atStart, emit) => {
          if (addPrefix && !piece.startsWith(" ")) piece = " " + piece;
          if (!useRegex) emit(piece, atStart);
          else emitMatches(piece, re, atStart, emit);
        },
      };
    }
    case "Digits": {
      const re = p.individual_digits ? /\p{N}/gu : /\p{N}+/gu;
      return { byteLevel: false, fn: (s, atStart, emit) => splitIsolated(s, re, atStart, emit) };
    }
    case "Split": {
      const re = patternRegex(p.pattern, where);
      const behavior = String(p.behavior);
      if (p.invert) throw unsupported(where, "Split with invert", "Split with invert: false is supported");
      const fns: Record<string, PreTokenizer> = {
        Isolated: (s, a, emit) => splitIsolated(s, re, a, emit),
        Removed: (s, a, emit) => splitRemoved(s, re, a, emit),
        MergedWithPrevious: (s, a, emit) => splitMerged(s, re, "previous", a, emit),
        MergedWithNext: (s, a, emit) => splitMerged(s, re, "next", a, emit),
      };
      const f = fns[behavior];
      if (!f) throw unsupported(where, `Split behavior ${behavior}`, "supported: Isolated, Removed, MergedWithPrevious, MergedWithNext");
      return { byteLevel: false, fn: f };
    }
    case "Metaspace": {
      const rep = String(p.replacement ?? "\u2581");
      const scheme: string = p.prepend_scheme ?? (p.add_prefix_space === false ? "never" : "always");
      const split = p.split !== false;
      return {
        byteLevel: false,
        fn: (s, atStart, emit) => {
          let t = s.split(" ").join(rep);
          // "first": only text at the very start of the input gets the prefix.
          const prepend = scheme === "always" || (scheme === "first" && atStart);
          if (prepend && !t.startsWith(rep)) t = rep + t;
          if (!split) return emit(t, atStart);
          let begin = 0;
          for (let k = 1; k < t.length; k++) {
            if (t.startsWith(rep, k)) {
              emit(t.slice(begin, k), atStart && begin === 0);
              begin = k;
            }
          }
          emit(t.slice(begin), atStart && begin === 0);
        },
      };
    }
    case "Whitespace": {
      const re = /\w+|[^\w\s]+/gu;
      return { byteLevel: false, fn: (s, a, emit) => emitMatches(s, re, a, emit) };
    }
    case "WhitespaceSplit": {
      const re = /\S+/gu;
      return { byteLevel: false, fn: (s, a, emit) => emitMatches(s, re, a, emit) };
    }
    default:
      throw unsupported(where, `pre-tokenizer ${JSON.stringify(p.type)}`, "supported: Sequence, ByteLevel, Digits, Split, Metaspace, Whitespace, WhitespaceSplit");
  }
}

/**
 * Runs `re` (global) over s and calls `fn(start, end)` for each non-empty match, in order. The regex
 * position is kept in a local, so a callback that reuses the same regex cannot disturb the loop.
 */
function forEachMatch(s: string, re: RegExp, fn: (start: number, end: number) => void): void {
  let pos = 0;
  while (pos <= s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) break;
    const end = m.index + m[0].length;
    if (end === m.index) {
      pos = end + 1;
      continue;
    }
    pos = end;
    fn(m.index, end);
  }
}

function emitMatches(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  forEachMatch(s, re, (a, b) => emit(a === 0 && b === s.length ? s : s.slice(a, b), atStart && a === 0));
}

function splitIsolated(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (a > last) emit(s.slice(last, a), atStart && last === 0);
    emit(s.slice(a, b), atStart && a === 0);
    last = b;
  });
  if (last < s.length) emit(last === 0 ? s : s.slice(last), atStart && last === 0);
}

function splitRemoved(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (a > last) emit(s.slice(last, a), atStart && last === 0);
    last = b;
  });
  if (last < s.length) emit(last === 0 ? s : s.slice(last), atStart && last === 0);
}

function splitMerged(s: string, re: RegExp, side: "previous" | "next", atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (side === "previous") {
      emit(s.slice(last, b), atStart && last === 0);
      last = b;
    } else {
      if (a > last) emit(s.slice(last, a), atStart && last === 0);
      last = a;
    }
  });
  if (last < s.length) emit(s.slice(last), atStart && last === 0);
}

// ---------------------------------------------------------------------------------------------
// Post-processor: which special ids surround a single sequence

function postProcessorIds(p: Json | null | undefined, idOf: (s: string) => number | undefined): { prefix: number[]; suffix: number[] } {
  const none = { prefix: [], suffix: [] };
  if (!p) return none;
  if (p.type === "Sequence") {
    const r = { prefix: [] as number[], suffix: [] as number[] };
    for (const x of p.processors as Json[]) {
      const s = postProcessorIds(x, idOf);
      r.prefix.push(...s.prefix);
      r.suffix.push(...s.suffix);
    }
    return r;
  }
  if (p.type === "TemplateProcessing") {
    const prefix: number[] = [];
    const suffix: number[] = [];
    let seen = false;
    for (const item of p.single as Json[]) {
      if (item.Sequence) {
        seen = true;
        continue;
      }
      const name = item.SpecialToken?.id as string;
      const ids: number[] = p.special_tokens?.[name]?.ids ?? [idOf(name)].filter((x) => x !== undefined);
      (seen ? suffix : prefix).push(...ids);
    }
    return { prefix, suffix };
  }
  if (p.type === "BertProcessing" || p.type === "RobertaProcessing") {
    return { prefix: [p.cls[1]], suffix: [p.sep[1]] };
  }
  return none; // ByteLevel post-processing only adjusts offsets
}

// ---------------------------------------------------------------------------------------------
// Decoders: token strings -> text pieces

const utf8 = new TextDecoder("utf-8");

function buildDecoder(d: Json | null | undefined, where: string): Decoder {
  if (!d) return (tokens) => tokens;
  switch (d.type) {
    case "Sequence": {
      const parts = (d.decoders as Json[]).map((x) => buildDecoder(x, where));
      return (tokens) => parts.reduce((acc, f) => f(acc), tokens);
    }
    case "ByteLevel":
      return (tokens) => {
        const bytes: number[] = [];
        for (const t of tokens) {
          const start = bytes.length;
          let ok = true;
          for (const ch of t) {
            const b = CHAR_TO_BYTE.get(ch);
            if (b === undefined) {
              ok = false;
              break;
            }
            bytes.push(b);
          }
          if (!ok) {
            // A token outside the byte table (some added tokens) stands for its own UTF-8 text.
            bytes.length = start;
            for (const b of Buffer.from(t, "utf8")) bytes.push(b);
          }
        }
        return [utf8.decode(Uint8Array.from(bytes))];
      };
    case "Replace": {
      const re = patternRegex(d.pattern, where);
      const content = String(d.content);
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case "ByteFallback":
      return (tokens) => {
        const out: string[] = [];
        let pending: number[] = [];
        const flush = () => {
          if (pending.length === 0) return;
          // Invalid UTF-8 becomes one U+FFFD per byte, as `tokenizers` does.
          const bytes = Uint8Array.from(pending);
          const text = new TextDecoder("utf-8", { fatal: true });
          try {
            out.push(text.decode(bytes));
          } catch {
            out.push("\uFFFD".repeat(pending.length));
          }
          pending = [];
        };
        for (const t of tokens) {
          const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
          if (m) pending.push(parseInt(m[1], 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const c = String(d.content);
      const start = Number(d.start ?? 0);
      const stop = Number(d.stop ?? 0);
      return (tokens) =>
        tokens.map((t) => {
          let s = t;
          for (let k = 0; k < start && s.startsWith(c); k++) s = s.slice(c.length);
          for (let k = 0; k < stop && s.endsWith(c); k++) s = s.slice(0, s.length - c.length);
          return s;
        });
    }
    case "Metaspace": {
      const rep = String(d.replacement ?? "▁");
      const scheme: string = d.prepend_scheme ?? (d.add_prefix_space === false ? "never" : "always");
      return (tokens) =>
        tokens.map((t, i) => {
          let s = t.split(rep).join(" ");
          if (i === 0 && scheme !== "never" && s.startsWith(" ")) s = s.slice(1);
          return s;
        });
    }
    default:
      throw unsupported(where, `decoder ${JSON.stringify(d.type)}`, "supported: ByteLevel, Metaspace, Sequence, Replace, ByteFallback, Fuse, Strip");
  }
}

// ---------------------------------------------------------------------------------------------
// Loading a folder

function readJsonFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw fsError(e, file);
  }
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new TunekitError("invalid_json", `${file} is not valid JSON: ${(e as Error).message}`, { file, hint: "the file may be truncated; download it again" });
  }
}

/**
 * Loads the tokenizer of a Hugging Face model folder. Needs `tokenizer.json`; reads
 * `tokenizer_config.json`, `chat_template.jinja`, `chat_template.json`, `config.json` and
 * `generation_config.json` when present.
 */
export async function loadTokenizerFromDir(dir: string): Promise<HfTokenizer> {
  const tjPath = join(dir, "tokenizer.json");
  if (!existsSync(dir)) throw new TunekitError("model_not_found", `no such folder: ${dir}`, { file: dir, hint: "pass a Hugging Face model folder or hub id" });
  if (!existsSync(tjPath))
    throw new TunekitError("missing_tokenizer", `${dir} has no tokenizer.json`, {
      file: tjPath,
      hint: "tunekit reads the fast-tokenizer file tokenizer.json; models that ship only tokenizer.model (SentencePiece) need it converted with transformers first",
    });
  const optional = (name: string) => (existsSync(join(dir, name)) ? readJsonFile(join(dir, name)) : undefined);
  let chatTemplate: string | Record<string, string> | undefined;
  const jinja = join(dir, "chat_template.jinja");
  if (existsSync(jinja)) chatTemplate = readFileSync(jinja, "utf8");
  else {
    const ct = optional("chat_template.json");
    if (ct && ct.chat_template !== undefined) chatTemplate = ct.chat_template;
  }
  return new HfTokenizer({
    name: dir,
    file: tjPath,
    tokenizerJson: readJsonFile(tjPath),
    tokenizerConfig: optional("tokenizer_config.json"),
    chatTemplate,
    modelConfig: optional("config.json"),
    generationConfig: optional("generation_config.json"),
  });
}
