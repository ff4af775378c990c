/**
 * Model folders and training-run folders for GGUF export tests, built in the test: tiny random
 * decoders of every family tunekit loads (weights scaled so greedy decoding has clear margins) with the
 * test tokenizers (test-tokenizers.ts), a run folder around a PEFT adapter, and tunekit's own greedy
 * decoding with the margin between its two best logits.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
import { projectRoot } from "./cli.js";
import type { TokenizerFiles } from "./test-tokenizers.js";

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** SmolLM2-Instruct's chat template: ChatML with a default system prompt. */
export const SMOLLM2_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A chat template from test/fixtures/chat-templates (Qwen3, SmolLM3, Gemma 3's format). */
export function chatTemplateFixture(name: string): string {
  return readFileSync(join(projectRoot, "test", "fixtures", "chat-templates", name), "utf8");
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
    // The Gated DeltaNet's output norm scales by w, not 1 + w.
    const isNorm = /norm\.weight$/.test(name) && !/linear_attn\.norm\.weight$/.test(name);
    const isPlainNorm = /linear_attn\.norm\.weight$/.test(name);
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
      else if (isPlainNorm) data[i] = 1 + 0.1 * z;
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

/**
 * Writes config.json, model.safetensors and the tokenizer files of a model folder. `stored` renames
 * tensors as a checkpoint stores them (a multimodal checkpoint's text model), `extra` adds others.
 */
export async function writeModelFolder(
  dir: string,
  raw: Record<string, unknown>,
  tok: Pick<TokenizerFiles, "tokenizerJson" | "tokenizerConfig">,
  seed = 7,
  opts: { stored?: (name: string) => string; extra?: { name: string; shape: number[]; data: Float32Array }[] } = {},
): Promise<TinyModel> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizerJson));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.tokenizerConfig));
  const config = parseModelConfig(raw);
  const tensors = saneWeights(config, seed).map((t) => ({ ...t, name: opts.stored ? opts.stored(t.name) : t.name }));
  await writeSafetensors(join(dir, "model.safetensors"), [...tensors, ...(opts.extra ?? [])]);
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
    // A multimodal checkpoint (Gemma3ForConditionalGeneration, 4B+): the text model under text_config
    "gemma3-multimodal": {
      architectures: ["Gemma3ForConditionalGeneration"],
      model_type: "gemma3",
      torch_dtype: "float32",
      bos_token_id: 2,
      eos_token_id: 1,
      text_config: {
        model_type: "gemma3_text",
        vocab_size: gemmaVocab,
        hidden_size: 64,
        intermediate_size: 96,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 16,
        query_pre_attn_scalar: 16,
        sliding_window: 8,
        sliding_window_pattern: 2,
        max_position_embeddings: 512,
        rope_scaling: { rope_type: "linear", factor: 8 },
      },
      vision_config: { model_type: "siglip_vision_model" },
    },
    // Gated DeltaNet layers with 2 key / 4 value heads (value heads reordered), a gated full-attention layer
    // with partial rotary embeddings, 1 + w norms
    qwen35: {
      ...base(vocab),
      architectures: ["Qwen3_5ForCausalLM"],
      model_type: "qwen3_5_text",
      num_hidden_layers: 4,
      head_dim: 32,
      linear_num_key_heads: 2,
      linear_num_value_heads: 4,
      linear_key_head_dim: 16,
      linear_value_head_dim: 16,
      linear_conv_kernel_dim: 4,
      rope_theta: 10000000,
      partial_rotary_factor: 0.25,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
    },
    // A Qwen3_5ForConditionalGeneration checkpoint: the text model under text_config (untied here)
    "qwen35-multimodal": {
      architectures: ["Qwen3_5ForConditionalGeneration"],
      model_type: "qwen3_5",
      torch_dtype: "float32",
      tie_word_embeddings: false,
      text_config: {
        model_type: "qwen3_5_text",
        vocab_size: vocab,
        hidden_size: 64,
        intermediate_size: 96,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 32,
        linear_num_key_heads: 2,
        linear_num_value_heads: 4,
        linear_key_head_dim: 16,
        linear_value_head_dim: 16,
        max_position_embeddings: 512,
        rms_norm_eps: 1e-6,
        rope_parameters: { rope_type: "default", rope_theta: 10000000, partial_rotary_factor: 0.25, mrope_section: [11, 11, 10] },
      },
      vision_config: { model_type: "qwen3_5" },
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
