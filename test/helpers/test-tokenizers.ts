/**
 * Small real tokenizers built for tests (no real Gemma or Qwen tokenizer files can be downloaded here):
 * the HfTokenizer reads them exactly as it reads a model folder's tokenizer.json.
 */
import { HfTokenizer } from "../../src/tokenize/hf.js";

/** tokenizer.json and tokenizer_config.json contents, as a model folder holds them. */
export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Tokens in all (the model's vocab_size). */
  size: number;
}

const load = (name: string, f: TokenizerFiles) => new HfTokenizer({ name, tokenizerJson: f.tokenizerJson, tokenizerConfig: f.tokenizerConfig });

/**
 * A byte-level BPE tokenizer with no merges (one token per byte), like GPT-2/Qwen/SmolLM tokenizers
 * minus their merges, with the given added tokens after the 256 bytes: masks can be checked by
 * counting bytes.
 */
export function byteLevelTokenizerFiles(o: { added: { content: string; special: boolean }[]; eos?: string; bos?: string | null; chatTemplate?: string }): TokenizerFiles {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let k = 0;
  for (let b = 0; b < 256; b++) vocab[printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + k++)] = b;
  return {
    tokenizerJson: {
      added_tokens: o.added.map((t, i) => ({ id: 256 + i, content: t.content, special: t.special })),
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
      decoder: { type: "ByteLevel" },
      model: { type: "BPE", vocab, merges: [] },
    },
    tokenizerConfig: { eos_token: o.eos ?? null, bos_token: o.bos ?? null, chat_template: o.chatTemplate },
    size: 256 + o.added.length,
  };
}

export function byteLevelTokenizer(o: Parameters<typeof byteLevelTokenizerFiles>[0]): HfTokenizer {
  return load("bytes", byteLevelTokenizerFiles(o));
}

/** ChatML special tokens (SmolLM2/SmolLM3/Qwen), plus Qwen3's <think> and </think> (added, not special). */
export function chatmlTokenizerFiles(chatTemplate?: string): TokenizerFiles {
  return byteLevelTokenizerFiles({
    added: [
      { content: "<|endoftext|>", special: true },
      { content: "<|im_start|>", special: true },
      { content: "<|im_end|>", special: true },
      { content: "<think>", special: false },
      { content: "</think>", special: false },
    ],
    eos: "<|im_end|>",
    chatTemplate,
  });
}

export function chatmlTokenizer(chatTemplate?: string): HfTokenizer {
  return load("chatml-bytes", chatmlTokenizerFiles(chatTemplate));
}

/**
 * A tokenizer.json in Gemma's layout (transformers' GemmaConverter): SentencePiece-style BPE with byte
 * fallback, the normalizer turning " " into "▁", a Split on " " (merged with the previous piece), the
 * Replace / ByteFallback / Fuse decoder, <bos> added by the post-processor; ids 0-3 <pad> <eos> <bos>
 * <unk>, then the 256 byte tokens <0x00>..<0xFF>, a small vocabulary with merges, and
 * <start_of_turn> / <end_of_turn> as special added tokens.
 */
export function gemmaStyleTokenizer(chatTemplate?: string): HfTokenizer {
  return load("gemma-style", gemmaStyleTokenizerFiles(chatTemplate));
}

export function gemmaStyleTokenizerFiles(chatTemplate?: string): TokenizerFiles {
  const vocab: Record<string, number> = { "<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 4 + b;
  const pieces = ["▁", "\n", ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?:'"];
  const merges: [string, string][] = [
    ["▁", "t"],
    ["h", "e"],
    ["▁t", "he"],
    ["\n", "\n"],
    ["u", "s"],
    ["e", "r"],
    ["us", "er"],
    ["m", "o"],
    ["d", "e"],
    ["mo", "de"],
    ["mode", "l"],
  ];
  for (const p of pieces) vocab[p] = Object.keys(vocab).length;
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  const start = Object.keys(vocab).length;
  return {
    size: start + 2,
    tokenizerJson: {
      added_tokens: [
        { id: 0, content: "<pad>", special: true },
        { id: 1, content: "<eos>", special: true },
        { id: 2, content: "<bos>", special: true },
        { id: 3, content: "<unk>", special: true },
        { id: start, content: "<start_of_turn>", special: true },
        { id: start + 1, content: "<end_of_turn>", special: true },
      ],
      normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
      pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] } },
      },
      decoder: {
        type: "Sequence",
        decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
      },
      model: {
        type: "BPE",
        dropout: null,
        unk_token: "<unk>",
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        ignore_merges: false,
        vocab,
        merges: merges.map(([a, b]) => [a, b]),
      },
    },
    tokenizerConfig: { bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", unk_token: "<unk>", add_bos_token: true, add_eos_token: false, chat_template: chatTemplate },
  };
}
