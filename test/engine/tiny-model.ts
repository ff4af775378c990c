/** Tiny random Llama-family models for engine tests (no files needed). */
import type { ModelConfig, Tensor } from "../../src/engine/types.js";
import { rng } from "./gradcheck.js";

export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    architecture: "llama",
    vocabSize: 37,
    hiddenSize: 16,
    intermediateSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 4,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: false,
    attentionBias: false,
    raw: {},
    ...over,
  };
}

export function tinyWeights(c: ModelConfig, seed = 3): Map<string, Tensor> {
  const r = rng(seed);
  const W = new Map<string, Tensor>();
  const add = (name: string, shape: number[], scale = 0.3, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (r() * 2 - 1) * scale;
    W.set(name, { shape, data });
  };
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  add("model.embed_tokens.weight", [c.vocabSize, H], 1);
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    add(p + "input_layernorm.weight", [H], 0.2, 1);
    add(p + "post_attention_layernorm.weight", [H], 0.2, 1);
    add(p + "self_attn.q_proj.weight", [q, H]);
    add(p + "self_attn.k_proj.weight", [kv, H]);
    add(p + "self_attn.v_proj.weight", [kv, H]);
    add(p + "self_attn.o_proj.weight", [H, q]);
    if (c.attentionBias) {
      add(p + "self_attn.q_proj.bias", [q]);
      add(p + "self_attn.k_proj.bias", [kv]);
      add(p + "self_attn.v_proj.bias", [kv]);
    }
    add(p + "mlp.gate_proj.weight", [c.intermediateSize, H]);
    add(p + "mlp.up_proj.weight", [c.intermediateSize, H]);
    add(p + "mlp.down_proj.weight", [H, c.intermediateSize]);
  }
  add("model.norm.weight", [H], 0.2, 1);
  if (!c.tieWordEmbeddings) add("lm_head.weight", [c.vocabSize, H], 0.5);
  return W;
}

export function randomParams(shapes: { name: string; shape: [number, number] }[], seed = 5, scale = 0.2): Map<string, Float32Array> {
  const r = rng(seed);
  const m = new Map<string, Float32Array>();
  for (const s of shapes) m.set(s.name, Float32Array.from({ length: s.shape[0] * s.shape[1] }, () => (r() * 2 - 1) * scale));
  return m;
}
