/**
 * `tokenizer.ggml.pre`: the name llama.cpp gives the pre-tokenizer (the regex splitting text before
 * BPE) of a byte-level BPE tokenizer. llama.cpp's converter identifies a tokenizer by the sha256 of
 * `str(tokenizer.encode(CHECK_TEXT))` (Python's list repr, special tokens added) and looks the hash up
 * in a table; tunekit computes the same hash with its own tokenizer and knows the hashes of the
 * tokenizers its families use. A tokenizer whose hash is not known is recognised by its pre-tokenizer
 * configuration when llama.cpp implements that exact regex under a name; anything else is refused
 * rather than written with a pre-tokenizer that would split text differently.
 */
import { createHash } from "node:crypto";
import type { HfTokenizer } from "../../tokenize/hf.js";

/** The text llama.cpp's convert_hf_to_gguf.py encodes to identify a tokenizer. */
export const PRE_TOKENIZER_CHECK_TEXT =
  "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

/** Hashes (as llama.cpp's converter computes them) of the tokenizers of the families tunekit runs. */
const KNOWN_HASHES: Record<string, string> = {
  // HuggingFaceTB/SmolLM-135M (SmolLM and SmolLM2 share this tokenizer)
  "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
  // meta-llama/Meta-Llama-3-8B (Llama 3.x)
  "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",
  // Qwen/Qwen1.5-7B (Qwen2, Qwen2.5)
  "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",
  // Qwen/Qwen3-Embedding-0.6B (Qwen3)
  "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",
  // openai-community/gpt2
  "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
};

/** Split regexes (as tokenizer.json writes them) that llama.cpp implements, by llama.cpp's name. */
const KNOWN_SPLIT_PATTERNS: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "llama-bpe",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "qwen2",
  // Qwen3.5: Qwen2's, with combining marks (\p{M}) kept with the letters before them.
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": "qwen35",
};

type Json = Record<string, unknown>;

/** The hash llama.cpp's converter computes for a tokenizer. */
export function preTokenizerHash(tok: HfTokenizer): string {
  const ids = tok.encode(PRE_TOKENIZER_CHECK_TEXT, { addSpecialTokens: true, allowSpecial: false });
  return createHash("sha256").update(`[${ids.join(", ")}]`).digest("hex");
}

const isByteLevel = (p: Json | undefined, useRegex: boolean) => p?.type === "ByteLevel" && (p.use_regex ?? true) === useRegex;

/** The pre-tokenizer name from tokenizer.json's pre_tokenizer, when llama.cpp has that exact one. */
function byStructure(pre: Json | undefined): string | undefined {
  if (!pre) return undefined;
  if (isByteLevel(pre, true)) return "gpt-2";
  if (pre.type !== "Sequence" || !Array.isArray(pre.pretokenizers)) return undefined;
  const parts = pre.pretokenizers as Json[];
  if (parts.length === 2 && parts[0].type === "Digits" && parts[0].individual_digits === true && isByteLevel(parts[1], true)) return "smollm";
  if (parts.length === 2 && parts[0].type === "Split" && isByteLevel(parts[1], false)) {
    const split = parts[0];
    const pattern = (split.pattern as Json | undefined)?.Regex;
    if (typeof pattern === "string" && split.behavior === "Isolated" && split.invert !== true) return KNOWN_SPLIT_PATTERNS[pattern];
  }
  return undefined;
}

export interface PreTokenizerChoice {
  /** llama.cpp's name, or undefined when the tokenizer is not one llama.cpp can reproduce. */
  name?: string;
  /** How it was found. */
  by?: "hash" | "structure";
  hash: string;
}

export function choosePreTokenizer(tok: HfTokenizer, tokenizerJson: Json): PreTokenizerChoice {
  const hash = preTokenizerHash(tok);
  const known = KNOWN_HASHES[hash];
  if (known) return { name: known, by: "hash", hash };
  const structural = byStructure(tokenizerJson.pre_tokenizer as Json | undefined);
  return structural ? { name: structural, by: "structure", hash } : { hash };
}
