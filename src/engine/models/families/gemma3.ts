/**
 * Gemma 3 text (Gemma3ForCausalLM, model_type gemma3_text; 270M, 1B), and the language model inside
 * Gemma3ForConditionalGeneration checkpoints (4B+; text only: the vision tower is not loaded). Read
 * from transformers' modeling_gemma3.py / configuration_gemma3.py:
 * - RMSNorm in fp32 scaled by (1 + w) (weights stored zero-centred), four per layer: input, on the
 *   attention output before the residual add (post_attention_layernorm), pre-feedforward, and on the
 *   MLP output (post_feedforward_layernorm); per-head q_norm / k_norm before RoPE;
 * - GeGLU MLP with gelu_pytorch_tanh; input embeddings times sqrt(hidden_size), cast to the weights'
 *   dtype first (so bf16 checkpoints use sqrt(640) = 25.25, not 25.298);
 * - attention scale query_pre_attn_scalar ** -0.5;
 * - sliding-window and full-attention layers by layer_types (older configs: every
 *   sliding_window_pattern-th layer is full), each type with its own RoPE: rope_local_base_freq for
 *   sliding layers, rope_theta (+ rope_scaling, e.g. linear x8 on 4B+) for full ones, or
 *   rope_parameters keyed by layer type in newer configs.
 * Soft-capping (Gemma 2's) and bidirectional attention (embedding variants) are refused.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, HF_DECODER_TENSORS, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, readDecoderBasics, readLayerTypes, ropeFrom } from "../family.js";
import type { LayerSpec, RopeSpec } from "../../types.js";

/** Gemma3TextConfig's defaults: multimodal checkpoints' text_config relies on them. */
const TEXT_DEFAULTS: Record<string, unknown> = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  hidden_activation: "gelu_pytorch_tanh",
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-6,
  bos_token_id: 2,
  eos_token_id: 1,
  tie_word_embeddings: true,
  rope_theta: 1000000,
  attention_bias: false,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  rope_local_base_freq: 10000,
};

/** Rounds to the precision transformers casts sqrt(hidden) to: the dtype the weights are loaded in. */
function roundToDtype(x: number, dtype: unknown): number {
  const f = Math.fround(x);
  if (dtype === "bfloat16") {
    const b = new Float32Array([f]);
    const u = new Uint32Array(b.buffer);
    u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000; // round to nearest even
    return b[0];
  }
  if (dtype === "float16") {
    const exp = Math.floor(Math.log2(Math.abs(f)));
    const step = 2 ** (exp - 10);
    return Math.round(f / step) * step;
  }
  return f;
}

export const gemma3: ModelFamily = {
  id: "gemma3",
  label: "Gemma3ForCausalLM (Gemma 3 270M, 1B; and the text model of Gemma3ForConditionalGeneration)",
  architectures: ["Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"],
  modelTypes: ["gemma3_text", "gemma3"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: {
    architecture: "gemma3",
    tensors: { ...LLAMA_CPP_TENSORS, attnOutNorm: "blk.{i}.post_attention_norm", mlpNorm: "blk.{i}.ffn_norm", mlpOutNorm: "blk.{i}.post_ffw_norm" },
  },
  parseConfig(raw, file) {
    const multimodal = raw.model_type === "gemma3" || (Array.isArray(raw.architectures) && raw.architectures.includes("Gemma3ForConditionalGeneration"));
    const text = multimodal ? (raw.text_config as Record<string, unknown> | undefined) : raw;
    const top = new ConfigReader(raw, "Gemma 3", file);
    if (!text || typeof text !== "object") throw top.bad(`config.json: a Gemma3ForConditionalGeneration config needs "text_config"`);
    // The text config with transformers' defaults filled in; the outer config's token ids, dtype and
    // tying apply when the text config has none.
    const merged: Record<string, unknown> = { ...TEXT_DEFAULTS };
    for (const k of ["bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype", "dtype"]) if (multimodal && raw[k] !== undefined && raw[k] !== null) merged[k] = raw[k];
    for (const [k, v] of Object.entries(text)) if (v !== undefined) merged[k] = v;
    const r = new ConfigReader(merged, "Gemma 3", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: true, maxPositionEmbeddings: 131072, headDim: 256 });
    const activation = r.activation({ gelu_pytorch_tanh: "gelu_tanh", gelu_new: "gelu_tanh" }, "gelu_tanh");
    const n = basics.numLayers;
    const pattern = r.has("sliding_window_pattern") ? r.int("sliding_window_pattern") : r.has("_sliding_window_pattern") ? r.int("_sliding_window_pattern") : 6;
    const types = readLayerTypes(r, n) ?? Array.from({ length: n }, (_, i) => ((i + 1) % pattern !== 0 ? "sliding_attention" : "full_attention"));
    const window = types.includes("sliding_attention") ? r.int("sliding_window") : undefined;

    const fullTheta = r.num("rope_theta", 1000000);
    const localTheta = r.num("rope_local_base_freq", 10000);
    let full: RopeSpec;
    let local: RopeSpec;
    const rp = merged.rope_parameters as Record<string, unknown> | null | undefined;
    if (rp && typeof rp === "object" && ("full_attention" in rp || "sliding_attention" in rp)) {
      full = ropeFrom(r, rp.full_attention as Record<string, unknown> | undefined, fullTheta, "rope_parameters.full_attention");
      local = ropeFrom(r, rp.sliding_attention as Record<string, unknown> | undefined, localTheta, "rope_parameters.sliding_attention");
    } else {
      const scaling = rp && typeof rp === "object" ? rp : (merged.rope_scaling as Record<string, unknown> | null | undefined);
      full = ropeFrom(r, scaling ?? undefined, fullTheta, rp ? "rope_parameters" : "rope_scaling");
      local = { theta: localTheta };
    }
    const layers: LayerSpec[] = types.map((t) => (t === "sliding_attention" ? { rope: local, slidingWindow: window } : { rope: full }));
    const bias = r.bool("attention_bias", false);
    const dtype = merged.torch_dtype ?? merged.dtype;
    const exportRaw = multimodal ? { ...text, architectures: ["Gemma3ForCausalLM"], model_type: "gemma3_text", ...pick(merged, ["bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype"]) } : raw;
    return {
      ...basics,
      qkvBias: bias,
      oBias: bias,
      qkNorm: true,
      sandwichNorms: true,
      norm: "rms_one_plus",
      activation,
      embedScale: roundToDtype(Math.sqrt(basics.hiddenSize), dtype),
      attentionScale: r.num("query_pre_attn_scalar", 256) ** -0.5,
      layers,
      tensorNames: {
        ...HF_DECODER_TENSORS,
        attnOutNorm: "model.layers.{i}.post_attention_layernorm.weight",
        mlpNorm: "model.layers.{i}.pre_feedforward_layernorm.weight",
        mlpOutNorm: "model.layers.{i}.post_feedforward_layernorm.weight",
      },
      ...(multimodal
        ? {
            // transformers < 4.52 saved language_model.model.*; later versions model.language_model.*.
            checkpointPrefixes: [
              { prefix: "model.", alternatives: ["language_model.model.", "model.language_model."] },
              { prefix: "lm_head.", alternatives: ["language_model.lm_head."] },
            ],
            peftPrefix: "model.language_model.",
          }
        : {}),
      raw: exportRaw,
    };
  },
};

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
