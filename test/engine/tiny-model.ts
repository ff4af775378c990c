/** Tiny random models for engine tests (no files needed), of any family: a config.json read by its family. */
import { parseModelConfig } from "../../src/engine/io/config.js";
import { expectedTensorShapes } from "../../src/engine/models/tensors.js";
import type { ModelConfig, Tensor } from "../../src/engine/types.js";
import type { TrainBatch } from "../../src/engine/models/causal-lm.js";
import { rng } from "./gradcheck.js";

/** A tiny Llama config.json (vocab 37, hidden 16, 2 layers, 4/2 heads of 4), with `over` applied. */
export function tinyRaw(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 64,
    tie_word_embeddings: false,
    ...over,
  };
}

export function tinyConfig(over: Record<string, unknown> = {}): ModelConfig {
  return parseModelConfig(tinyRaw(over));
}

/** Random weights for every tensor the config implies; norms near 1 (near 0 for zero-centred norms). */
export function tinyWeights(c: ModelConfig, seed = 3): Map<string, Tensor> {
  const r = rng(seed);
  const W = new Map<string, Tensor>();
  const normCentre = c.norm === "rms_one_plus" ? 0 : 1;
  for (const [name, shape] of expectedTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = /norm\.weight$/.test(name);
    const scale = isNorm ? 0.2 : name.includes("embed_tokens") ? 1 : name.startsWith("lm_head") ? 0.5 : 0.3;
    const offset = isNorm ? normCentre : 0;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (r() * 2 - 1) * scale;
    W.set(name, { shape, data });
  }
  return W;
}

export function randomParams(shapes: { name: string; shape: [number, number] }[], seed = 5, scale = 0.2): Map<string, Float32Array> {
  const r = rng(seed);
  const m = new Map<string, Float32Array>();
  for (const s of shapes) m.set(s.name, Float32Array.from({ length: s.shape[0] * s.shape[1] }, () => (r() * 2 - 1) * scale));
  return m;
}

/**
 * Two rows of 7 tokens for the tiny models: packed segments in row 0 (with a padding position), an
 * ignored target (-100), and loss weights of 0, 0.5, 1 and 2.
 */
export const PACKED_BATCH: TrainBatch = {
  batchSize: 2,
  seqLen: 7,
  inputIds: [1, 5, 9, 3, 8, 2, 0, 4, 4, 7, 30, 36, 2, 11],
  targets: [5, 9, 3, -100, 2, 6, 0, 4, 7, 30, 36, 2, 11, 12],
  lossWeights: [1, 1, 0.5, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 2],
  segmentIds: [1, 1, 1, 2, 2, 2, 0, 1, 1, 1, 1, 1, 1, 1],
};
