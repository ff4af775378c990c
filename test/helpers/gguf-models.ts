/**
 * Model folders and training-run folders for GGUF export tests, built in the test: tiny random
 * decoders of every family tunekit loads (weights scaled so greedy decoding has clear margins), with a
 * real byte-level tokenizer (ChatML tokens) or a Gemma-style SentencePiece one, a run folder around a
 * PEFT adapter, and tunekit's own greedy decoding with the margin between its two best logits.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { expectedTensorShapes } from "../../src/engine/io/model.js";
import { writePeftAdapter } from "../../src/engine/io/peft.js";
import { writeSafetensors } from "../../src/engine/io/safetensors.js";
import { generateBatchFromIds } from "../../src/engine/generate/generate.js";
import type { TextGenerator } from "../../src/engine/generate/generator.js";
import type { DecoderModel } from "../../src/engine/generate/types.js";
import { loraParamShapes, type LoraSpec } from "../../src/engine/models/lora.js";
import type { ModelConfig } from "../../src/engine/types.js";
import { writeRunRecord, type RunRecord } from "../../src/engine/train/run-dir.js";
import { Rng } from "../../src/engine/train/rng.js";

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** SmolLM2-Instruct's chat template: ChatML with a default system prompt. */
export const SMOLLM2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Gemma 3's chat template (text): the system message folded into the first user turn, "model" for the assistant. */
export const GEMMA_TEMPLATE =
  "{{ bos_token }}{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set first_user_prefix = \"\" -%}{%- set loop_messages = messages -%}{%- endif -%}" +
  "{%- for message in loop_messages -%}{%- if (message['role'] == 'assistant') -%}{%- set role = \"model\" -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}" +
  "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}";

/** A GPT-2-style byte-level BPE tokenizer with no merges plus ChatML's special tokens: 259 tokens. */
export function byteLevelTokenizer(chatTemplate: string | undefined = CHATML_TEMPLATE): { tokenizer: object; config: object; size: number } {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let k = 0;
  for (let b = 0; b < 256; b++) vocab[printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + k++)] = b;
  const added = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map((content, i) => ({ id: 256 + i, content, special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }));
  return {
    tokenizer: {
      version: "1.0",
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
    },
    config: { eos_token: "<|im_end|>", bos_token: null, pad_token: "<|endoftext|>", ...(chatTemplate !== undefined ? { chat_template: chatTemplate } : {}) },
    size: 259,
  };
}

/**
 * A tokenizer.json in Gemma's layout: SentencePiece-style BPE with byte fallback, " " normalised to
 * "▁" (no prefix space), <pad> <eos> <bos> <unk>, the byte tokens, a few merges, and
 * <start_of_turn> / <end_of_turn>; BOS added by the post-processor.
 */
export function gemmaStyleTokenizer(chatTemplate = GEMMA_TEMPLATE): { tokenizer: object; config: object; size: number } {
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
    ["▁", "a"],
    ["i", "n"],
    ["▁", "s"],
  ];
  for (const p of pieces) vocab[p] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (vocab[a + b] === undefined) vocab[a + b] = Object.keys(vocab).length;
  const start = Object.keys(vocab).length;
  return {
    size: start + 2,
    tokenizer: {
      version: "1.0",
      added_tokens: [
        { id: 0, content: "<pad>", special: true },
        { id: 1, content: "<eos>", special: true },
        { id: 2, content: "<bos>", special: true },
        { id: 3, content: "<unk>", special: true },
        { id: start, content: "<start_of_turn>", special: true },
        { id: start + 1, content: "<end_of_turn>", special: true },
      ].map((t) => ({ single_word: false, lstrip: false, rstrip: false, normalized: false, ...t })),
      normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
      pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false },
      post_processor: {
        type: "TemplateProcessing",
        single: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
        pair: [{ SpecialToken: { id: "<bos>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
        special_tokens: { "<bos>": { id: "<bos>", ids: [2], tokens: ["<bos>"] } },
      },
      decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }] },
      model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges },
    },
    config: { bos_token: "<bos>", eos_token: "<eos>", pad_token: "<pad>", unk_token: "<unk>", add_bos_token: true, add_eos_token: false, chat_template: chatTemplate },
  };
}

/** Approximately normal numbers (sum of uniforms), seeded. */
function gaussian(rng: Rng): () => number {
  return () => {
    let s = 0;
    for (let i = 0; i < 4; i++) s += rng.nextFloat();
    return (s - 2) * Math.sqrt(3);
  };
}

/**
 * Random weights a decoder can run on with clear greedy margins and varied output: embeddings
 * N(0, 0.5), linear weights N(0, 1/fan_in) so activations keep their size, the projections back into
 * the residual stream (o, down) `gain` times larger so the layers, not the input embedding, decide
 * the next token (a tied head otherwise repeats the input token), norms near 1 (stored zero-centred:
 * near 0, and Gemma's norms after attention and MLP near `gain` - 1), small biases.
 */
export function saneWeights(config: ModelConfig, seed: number, gain = 3): { name: string; shape: number[]; data: Float32Array }[] {
  const g = gaussian(new Rng(seed));
  const zeroCentred = config.norm === "rms_one_plus";
  return [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm\.weight$/.test(name);
    const isFinalNorm = name === "model.norm.weight";
    const isPostNorm = /post_(attention|feedforward)_layernorm\.weight$/.test(name) && zeroCentred;
    const isBias = /\.bias$/.test(name);
    const isEmbed = /embed_tokens|lm_head/.test(name);
    const isOut = /(o_proj|down_proj)\.weight$/.test(name);
    for (let i = 0; i < n; i++) {
      const z = g();
      if (isPostNorm) data[i] = gain - 1 + 0.1 * z;
      else if (isFinalNorm) data[i] = (zeroCentred ? 4 : 5) + 0.1 * z;
      else if (isNorm) data[i] = (zeroCentred ? 0 : 1) + 0.1 * z;
      else if (isBias) data[i] = 0.1 * z;
      else if (isEmbed) data[i] = 0.1 * z;
      else data[i] = ((isOut ? gain : 1) * z) / Math.sqrt(shape[shape.length - 1]);
    }
    return { name, shape, data };
  });
}

export interface TinyModel {
  dir: string;
  config: ModelConfig;
}

/** Writes config.json, model.safetensors and the tokenizer files of a model folder. */
export async function writeModelFolder(dir: string, raw: Record<string, unknown>, tok: { tokenizer: object; config: object }, seed = 7): Promise<TinyModel> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.config));
  const config = parseModelConfig(raw);
  await writeSafetensors(join(dir, "model.safetensors"), saneWeights(config, seed));
  return { dir, config };
}

const base = (vocab: number) => ({
  vocab_size: vocab,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  hidden_act: "silu",
  torch_dtype: "float32",
});

/** config.json of a tiny model of each family tunekit loads, exercising what its GGUF mapping must handle. */
export function familyConfigs(vocab: number, gemmaVocab: number): Record<string, Record<string, unknown>> {
  return {
    // llama3 rope scaling (rope_freqs tensor) and attention biases (q/k biases permuted, o bias)
    llama: {
      ...base(vocab),
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      rope_theta: 500000,
      rope_scaling: { rope_type: "llama3", factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
      attention_bias: true,
      tie_word_embeddings: false,
    },
    mistral: { ...base(vocab), architectures: ["MistralForCausalLM"], model_type: "mistral", rope_theta: 1000000, sliding_window: 4096, tie_word_embeddings: false },
    // q/k/v biases, tied head
    qwen2: { ...base(vocab), architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", rope_theta: 1000000, tie_word_embeddings: true, use_sliding_window: false },
    // head_dim 32 != hidden / heads (key_length / value_length), q/k norms
    qwen3: { ...base(vocab), architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", head_dim: 32, rope_theta: 1000000, tie_word_embeddings: true },
    // 1 + w norms, sandwich norms, GeGLU, a sliding window shorter than the test's sequence, two rope bases, scaled embeddings
    gemma3: {
      ...base(gemmaVocab),
      architectures: ["Gemma3ForCausalLM"],
      model_type: "gemma3_text",
      hidden_act: undefined,
      hidden_activation: "gelu_pytorch_tanh",
      num_hidden_layers: 3,
      num_key_value_heads: 1,
      head_dim: 32,
      query_pre_attn_scalar: 32,
      layer_types: ["sliding_attention", "sliding_attention", "full_attention"],
      sliding_window: 8,
      rope_theta: 1000000,
      rope_local_base_freq: 10000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
      bos_token_id: 2,
      eos_token_id: 1,
    },
    // NoPE in every 4th layer
    smollm3: { ...base(vocab), architectures: ["SmolLM3ForCausalLM"], model_type: "smollm3", num_hidden_layers: 4, rope_theta: 2000000, no_rope_layer_interval: 4, tie_word_embeddings: true },
  };
}

/** A PEFT adapter with non-zero B for `config`, as training leaves one. */
export async function writeAdapter(dir: string, config: ModelConfig, spec: LoraSpec, baseModel: string, seed = 11): Promise<void> {
  const g = gaussian(new Rng(seed));
  const params = new Map(loraParamShapes(config, spec).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => 0.15 * g())]));
  await writePeftAdapter(dir, { config, spec, params, baseModel });
}

/** A completed training-run folder around an adapter (what `tunekit train -o DIR` leaves). */
export async function writeRun(runDir: string, modelDir: string, config: ModelConfig, spec: LoraSpec, seed = 11): Promise<void> {
  mkdirSync(runDir, { recursive: true });
  await writeAdapter(join(runDir, "adapter"), config, spec, modelDir, seed);
  const now = new Date().toISOString();
  const rec = {
    tunekitRun: 1,
    createdAt: now,
    updatedAt: now,
    model: modelDir,
    modelDir,
    data: { path: "train.jsonl", sha256: "0".repeat(64), examples: 1 },
    heldOut: { kind: "none" },
    template: { name: "jinja:model", plain: false },
    options: {},
    status: "completed",
  } as unknown as RunRecord;
  await writeRunRecord(runDir, rec);
}

/** A decoder that records, for every logits row it returns, the margin between the two best logits and the row. */
function recording(inner: DecoderModel, margins: number[], rows: Float32Array[]): DecoderModel {
  const note = (ls: Float32Array[]) => {
    for (const l of ls) {
      let a = -Infinity;
      let b = -Infinity;
      for (const x of l) {
        if (x > a) {
          b = a;
          a = x;
        } else if (x > b) b = x;
      }
      margins.push(a - b);
      rows.push(Float32Array.from(l));
    }
    return ls;
  };
  return {
    config: inner.config,
    maxContext: inner.maxContext,
    async start(r) {
      const { logits, batch } = await inner.start(r);
      return {
        logits: note(logits),
        batch: { get length() { return batch.length; }, next: async (t) => note(await batch.next(t)), release: () => batch.release() },
      };
    },
  };
}

/**
 * tunekit's greedy continuation of `ids` through the same path `tunekit generate` takes (the
 * generator's decoder and generateBatchFromIds), `n` tokens with no stop token, plus the margin
 * between the two best logits and the logits at each step.
 */
export async function tunekitGreedy(gen: TextGenerator, ids: number[], n: number): Promise<{ tokens: number[]; margins: number[]; logits: Float32Array[] }> {
  const margins: number[] = [];
  const logits: Float32Array[] = [];
  const [r] = await generateBatchFromIds(recording(gen.decoder, margins, logits), gen.tokenizer, [ids], { maxTokens: n, temperature: 0, stopTokenIds: [] });
  return { tokens: r.tokens, margins: margins.slice(0, n), logits: logits.slice(0, n) };
}

export function softmax(logits: Float32Array): Float64Array {
  let m = -Infinity;
  for (const x of logits) m = Math.max(m, x);
  const p = new Float64Array(logits.length);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp(logits[i] - m);
  for (let i = 0; i < p.length; i++) p[i] /= s;
  return p;
}

/** tunekit's logits after `ids` and after each token of `reference` fed in turn (the decoder generation uses). */
export async function tunekitTeacherForced(gen: TextGenerator, ids: number[], reference: number[]): Promise<Float32Array[]> {
  const { logits, batch } = await gen.decoder.start([ids]);
  const out = [Float32Array.from(logits[0])];
  try {
    for (let i = 0; i + 1 < reference.length; i++) out.push(Float32Array.from((await batch.next([reference[i]]))[0]));
  } finally {
    batch.release();
  }
  return out;
}

/** Largest |p - q| between tunekit's softmax and llama.cpp's probabilities (tokens llama.cpp leaves out count as 0). */
export function maxProbDiff(logits: Float32Array, probs: Map<number, number>): number {
  const p = softmax(logits);
  let worst = 0;
  for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i] - (probs.get(i) ?? 0)));
  return worst;
}

export const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};
