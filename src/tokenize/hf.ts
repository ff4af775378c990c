/**
 * Hugging Face tokenizers from a model folder: `tokenizer.json` (the `tokenizers` library's format)
 * plus `tokenizer_config.json` (special tokens, add_bos_token/add_eos_token, chat template, also read
 * from `chat_template.jinja` / `chat_template.json`).
 *
 * Our own implementation: the pure-JS @huggingface/tokenizers package encodes correctly but far too
 * slowly for dataset statistics (figures in docs/tokenizers.md). Supported (what Llama 2/3, Mistral,
 * Qwen2, SmolLM, GPT-2-style and SentencePiece-converted tokenizers use):
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
import { toByteLevel } from "./byteLevel.js";
import { buildDecoder } from "./hf/decoders.js";
import { buildNormalizer } from "./hf/normalizers.js";
import { escapeRegex } from "./hf/patterns.js";
import { postProcessorIds } from "./hf/post-processor.js";
import { buildPreTokenizer, forEachMatch } from "./hf/pre-tokenizers.js";
import { unsupported, type Decoder, type Json, type Normalizer, type PreTokenizer } from "./hf/stage.js";
import type { Tokenizer } from "./types.js";

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
}

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

function addedTokenRegex(tokens: AddedToken[]): RegExp | undefined {
  if (tokens.length === 0) return undefined;
  const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length);
  return new RegExp(sorted.map((t) => escapeRegex(t.content)).join("|"), "gu");
}

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
