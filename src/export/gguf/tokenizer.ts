/**
 * The tokenizer as GGUF metadata, from a model folder's tokenizer.json / tokenizer_config.json:
 *
 * - byte-level BPE (GPT-2 style: SmolLM2, Llama 3, Qwen): `tokenizer.ggml.model` = "gpt2", the tokens
 *   as tokenizer.json spells them, the merges, and `tokenizer.ggml.pre` (pre-tokenizer.ts);
 * - SentencePiece-style BPE with byte fallback (Llama 2, Mistral, Gemma, stories260K): "llama", with
 *   scores. llama.cpp's SentencePiece tokenizer repeatedly joins the adjacent pair whose joined text
 *   is the highest-scoring token, so each token scores minus the rank of the first merge that makes
 *   it: the same order the BPE merges apply in.
 *
 * Token types: 1 normal, 2 unknown, 3 control (special added tokens), 4 user-defined (other added
 * tokens), 5 unused (padding up to the model's vocab_size), 6 byte (<0x00>..<0xFF>). Special token
 * ids, add_bos / add_eos as transformers applies them, and the chat template used in training.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TunekitError } from "../../util/errors.js";
import type { HfTokenizer } from "../../tokenize/hf.js";
import { kv, type MetadataEntry } from "./container.js";
import { choosePreTokenizer } from "./pre-tokenizer.js";

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

type Json = Record<string, unknown>;

export interface GgufTokenizer {
  /** "gpt2" (byte-level BPE) or "llama" (SentencePiece-style). */
  model: "gpt2" | "llama";
  pre: string;
  metadata: MetadataEntry[];
  /** How the pre-tokenizer was identified, for the export summary. */
  preBy?: "hash" | "structure";
}

/** convert_hf_to_gguf's test for added tokens that behave as control tokens although not marked special. */
function looksSpecial(token: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(token) ||
    (token.startsWith("<|") && token.endsWith("|>")) ||
    (token.startsWith("<｜") && token.endsWith("｜>")) ||
    (token.startsWith("<unused") && token.endsWith(">"))
  );
}

function unsupported(dir: string, what: string): TunekitError {
  return new TunekitError("gguf_tokenizer_unsupported", `the tokenizer in ${dir} cannot be written to GGUF: ${what}`, {
    file: join(dir, "tokenizer.json"),
    hint: "GGUF export supports byte-level BPE tokenizers (GPT-2, Llama 3, Qwen, SmolLM) and SentencePiece-style BPE with byte fallback (Llama 2, Mistral, Gemma)",
  });
}

function mergePairs(model: Json): [string, string][] {
  const raw = (model.merges ?? []) as (string | [string, string])[];
  return raw.map((m) => {
    if (Array.isArray(m)) return [m[0], m[1]];
    const i = m.indexOf(" ", 1);
    return [m.slice(0, i), m.slice(i + 1)];
  });
}

/**
 * Tokenizer metadata for a model with `vocabSize` embedding rows. `chatTemplate` is the Jinja
 * template training rendered conversations with (stored as `tokenizer.chat_template`).
 */
export function ggufTokenizer(dir: string, tok: HfTokenizer, vocabSize: number, chatTemplate: string | undefined): GgufTokenizer {
  let tj: Json;
  try {
    tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as Json;
  } catch (e) {
    throw new TunekitError("missing_tokenizer", `cannot read ${join(dir, "tokenizer.json")}: ${(e as Error).message}`, { file: join(dir, "tokenizer.json") });
  }
  const model = (tj.model ?? {}) as Json;
  if (model.type !== "BPE") throw unsupported(dir, `model type ${JSON.stringify(model.type)}`);
  const vocab = model.vocab as Record<string, number>;
  if (tok.vocabSize > vocabSize) throw unsupported(dir, `it has ${tok.vocabSize} tokens but the model has only ${vocabSize} embedding rows`);

  const tokens: string[] = new Array(vocabSize);
  const types: number[] = new Array(vocabSize).fill(TOKEN_TYPE.normal);
  for (const [t, id] of Object.entries(vocab)) tokens[id] = t;
  for (const a of (tj.added_tokens ?? []) as Json[]) {
    const id = a.id as number;
    const content = String(a.content);
    tokens[id] = content;
    types[id] = a.special === true || looksSpecial(content) ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
    }
  }
  const seen = new Set<string>();
  for (let i = 0; i < vocabSize; i++) {
    if (seen.has(tokens[i])) throw unsupported(dir, `token ${JSON.stringify(tokens[i])} appears twice (llama.cpp needs unique tokens)`);
    seen.add(tokens[i]);
  }

  const metadata: MetadataEntry[] = [];
  let kind: GgufTokenizer["model"];
  let pre: string;
  let preBy: GgufTokenizer["preBy"];
  if (tok.isByteLevel) {
    kind = "gpt2";
    const choice = choosePreTokenizer(tok, tj);
    if (!choice.name) {
      throw new TunekitError("gguf_pretokenizer_unknown", `llama.cpp has no pre-tokenizer known to match this tokenizer (check hash ${choice.hash})`, {
        file: join(dir, "tokenizer.json"),
        hint: "tunekit recognises the tokenizers of SmolLM/SmolLM2, Llama 3, Qwen2/2.5/3 and GPT-2; other byte-level tokenizers would be split differently by llama.cpp",
      });
    }
    pre = choice.name;
    preBy = choice.by;
    metadata.push(kv.str("tokenizer.ggml.model", "gpt2"), kv.str("tokenizer.ggml.pre", pre), kv.strings("tokenizer.ggml.tokens", tokens), kv.i32s("tokenizer.ggml.token_type", types));
    metadata.push(kv.strings("tokenizer.ggml.merges", mergePairs(model).map(([a, b]) => `${a} ${b}`)));
  } else if (model.byte_fallback === true) {
    kind = "llama";
    pre = "default";
    const scores = new Array<number>(vocabSize).fill(0);
    const ranked = new Set<string>();
    mergePairs(model).forEach(([a, b], rank) => {
      const joined = a + b;
      const id = vocab[joined];
      if (id === undefined || ranked.has(joined)) return;
      ranked.add(joined);
      scores[id] = -(rank + 1);
    });
    const unk = typeof model.unk_token === "string" ? vocab[model.unk_token] : undefined;
    for (let i = 0; i < vocabSize; i++) {
      if (types[i] === TOKEN_TYPE.control || types[i] === TOKEN_TYPE.userDefined || types[i] === TOKEN_TYPE.unused) scores[i] = -1000;
      if (/^<0x[0-9A-F]{2}>$/.test(tokens[i]) && types[i] === TOKEN_TYPE.normal) types[i] = TOKEN_TYPE.byte;
    }
    if (unk !== undefined) types[unk] = TOKEN_TYPE.unknown;
    for (let b = 0; b < 256; b++) {
      const name = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      if (vocab[name] === undefined) throw unsupported(dir, `byte fallback without the byte token ${name}`);
    }
    metadata.push(
      kv.str("tokenizer.ggml.model", "llama"),
      kv.str("tokenizer.ggml.pre", pre),
      kv.strings("tokenizer.ggml.tokens", tokens),
      kv.f32s("tokenizer.ggml.scores", scores),
      kv.i32s("tokenizer.ggml.token_type", types),
      kv.bool("tokenizer.ggml.add_space_prefix", prependsSpace(tj)),
    );
    if (unk !== undefined) metadata.push(kv.u32("tokenizer.ggml.unknown_token_id", unk));
  } else {
    throw unsupported(dir, "a BPE model that is neither byte-level nor SentencePiece-style with byte fallback");
  }

  const ids: [string, number | undefined][] = [
    ["tokenizer.ggml.bos_token_id", tok.bosTokenId],
    ["tokenizer.ggml.eos_token_id", tok.eosTokenId],
    ["tokenizer.ggml.padding_token_id", tok.padTokenId],
  ];
  for (const [key, id] of ids) if (id !== undefined && id >= 0 && id < vocabSize) metadata.push(kv.u32(key, id));
  metadata.push(
    kv.bool("tokenizer.ggml.add_bos_token", tok.bosTokenId !== undefined && tok.prefixIds.includes(tok.bosTokenId)),
    kv.bool("tokenizer.ggml.add_eos_token", tok.eosTokenId !== undefined && tok.suffixIds.includes(tok.eosTokenId)),
  );
  if (chatTemplate !== undefined) metadata.push(kv.str("tokenizer.chat_template", chatTemplate));
  return { model: kind, pre, metadata, ...(preBy ? { preBy } : {}) };
}

/** Whether text gets a leading "▁" (a Prepend normalizer, or a Metaspace pre-tokenizer that prepends). */
function prependsSpace(tj: Json): boolean {
  const norms: Json[] = [];
  const n = tj.normalizer as Json | null | undefined;
  if (n) norms.push(...(n.type === "Sequence" ? ((n.normalizers ?? []) as Json[]) : [n]));
  if (norms.some((x) => x.type === "Prepend" && x.prepend === "\u2581")) return true;
  const pres: Json[] = [];
  const p = tj.pre_tokenizer as Json | null | undefined;
  if (p) pres.push(...(p.type === "Sequence" ? ((p.pretokenizers ?? []) as Json[]) : [p]));
  return pres.some((x) => x.type === "Metaspace" && (x.prepend_scheme === "always" || x.prepend_scheme === "first" || x.add_prefix_space === true));
}
