/**
 * Qwen3.5 (Qwen3_5ForCausalLM, model_type qwen3_5_text; and the text model of
 * Qwen3_5ForConditionalGeneration, the 0.8B/2B/4B releases): a hybrid. Per `layer_types` (by default
 * three of every four, full_attention_interval 4), a layer's token mixer is Gated DeltaNet linear
 * attention (models/gated-deltanet.ts); the others are full attention with a sigmoid output gate (the
 * query projection is twice as wide: per head [q, gate]), per-head q/k norms, head_dim 256 and rotary
 * embeddings on the first partial_rotary_factor (0.25) of each head. Every RMSNorm scales by (1 + w)
 * except the Gated DeltaNet's output norm (plain w, gated by silu(z)). Text positions are the same on
 * the three multi-section rotary axes, so the sections do not change a text model's rotation. Read from
 * transformers' modeling_qwen3_5.py / configuration_qwen3_5.py. Vision weights (model.visual.*) and the
 * multi-token-prediction head (mtp.*) are left out with a note (io/model.ts).
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, HF_DECODER_TENSORS, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, readDecoderBasics, readRope } from "../family.js";
import type { LayerSpec, LoraModuleSpec } from "../../types.js";

/** Qwen3_5TextConfig's defaults that the engine reads. */
const TEXT_DEFAULTS: Record<string, unknown> = {
  hidden_act: "silu",
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  head_dim: 256,
  linear_conv_kernel_dim: 4,
  linear_key_head_dim: 128,
  linear_value_head_dim: 128,
  linear_num_key_heads: 16,
  linear_num_value_heads: 32,
  tie_word_embeddings: false,
};

/** LoRA targets: the attention and MLP projections, plus the Gated DeltaNet q/k/v, z and output projections. */
export const QWEN3_5_LORA_TARGETS: LoraModuleSpec[] = [
  ...PROJECTION_LORA_TARGETS,
  { target: "lin_qkv", role: "linQkv", peft: "in_proj_qkv" },
  { target: "lin_z", role: "linZ", peft: "in_proj_z" },
  { target: "lin_out", role: "linOut", peft: "out_proj" },
];

const LIN = "model.layers.{i}.linear_attn.";

export const qwen3_5: ModelFamily = {
  id: "qwen3_5",
  label: "Qwen3_5ForCausalLM (Qwen3.5; and the text model of Qwen3_5ForConditionalGeneration)",
  architectures: ["Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration"],
  modelTypes: ["qwen3_5_text", "qwen3_5"],
  loraTargets: QWEN3_5_LORA_TARGETS,
  // llama.cpp's qwen35 graph; its Gated DeltaNet tensors' layout is export/gguf/linear-attention.ts.
  gguf: {
    architecture: "qwen35",
    tensors: {
      ...LLAMA_CPP_TENSORS,
      mlpNorm: "blk.{i}.post_attention_norm",
      linQkv: "blk.{i}.attn_qkv",
      linZ: "blk.{i}.attn_gate",
      linB: "blk.{i}.ssm_beta",
      linA: "blk.{i}.ssm_alpha",
      linConv: "blk.{i}.ssm_conv1d",
      linDtBias: "blk.{i}.ssm_dt",
      linALog: "blk.{i}.ssm_a",
      linNorm: "blk.{i}.ssm_norm",
      linOut: "blk.{i}.ssm_out",
    },
  },
  parseConfig(raw, file) {
    const multimodal = raw.model_type === "qwen3_5" || (Array.isArray(raw.architectures) && raw.architectures.includes("Qwen3_5ForConditionalGeneration"));
    const text = multimodal ? (raw.text_config as Record<string, unknown> | undefined) : raw;
    const top = new ConfigReader(raw, "Qwen3.5", file);
    if (!text || typeof text !== "object") throw top.bad(`config.json: a Qwen3_5ForConditionalGeneration config needs "text_config"`);
    const merged: Record<string, unknown> = { ...TEXT_DEFAULTS };
    for (const k of ["bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype", "dtype"]) if (multimodal && raw[k] !== undefined && raw[k] !== null) merged[k] = raw[k];
    for (const [k, v] of Object.entries(text)) if (v !== undefined && v !== null) merged[k] = v;
    const rp = (merged.rope_parameters ?? {}) as Record<string, unknown>;
    const partial = typeof rp.partial_rotary_factor === "number" ? rp.partial_rotary_factor : typeof merged.partial_rotary_factor === "number" ? merged.partial_rotary_factor : 0.25;
    delete merged.partial_rotary_factor; // read here; readDecoderBasics refuses it for the other families
    const r = new ConfigReader(merged, "Qwen3.5", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: false, maxPositionEmbeddings: 32768, headDim: 256 });
    const rotaryDim = Math.round(basics.headDim * partial);
    if (!(partial > 0 && partial <= 1) || rotaryDim % 2 !== 0) throw r.bad(`config.json: partial_rotary_factor ${partial} must give an even number of rotary dims of head_dim ${basics.headDim}`);
    const rope = readRope(r, 10000000);
    const n = basics.numLayers;
    const lt = merged.layer_types;
    let types: string[];
    if (lt === undefined || lt === null) {
      const interval = r.int("full_attention_interval", 4);
      types = Array.from({ length: n }, (_, i) => ((i + 1) % interval !== 0 ? "linear_attention" : "full_attention"));
    } else {
      if (!Array.isArray(lt) || lt.length < n) throw r.bad(`config.json: "layer_types" must list a type for each of the ${n} layers`);
      types = lt.slice(0, n).map((t, i) => {
        if (t === "linear_attention" || t === "full_attention") return t;
        throw r.refuse("layer_types", `layer ${i} has type ${JSON.stringify(t)}; Qwen3.5 layers are linear_attention or full_attention`);
      });
    }
    const linearAttention = {
      numKeyHeads: r.int("linear_num_key_heads"),
      numValueHeads: r.int("linear_num_value_heads"),
      keyHeadDim: r.int("linear_key_head_dim"),
      valueHeadDim: r.int("linear_value_head_dim"),
      convKernel: r.int("linear_conv_kernel_dim"),
    };
    if (linearAttention.numValueHeads % linearAttention.numKeyHeads !== 0) {
      throw r.bad(`config.json: linear_num_value_heads (${linearAttention.numValueHeads}) is not a multiple of linear_num_key_heads (${linearAttention.numKeyHeads})`);
    }
    const layers: LayerSpec[] = types.map((t) => (t === "linear_attention" ? { mixer: "linear_attention" } : { rope }));
    const bias = r.bool("attention_bias", false);
    if (bias) throw r.refuse("attention_bias", "attention biases are not implemented for Qwen3.5");
    return {
      ...basics,
      qkvBias: false,
      oBias: false,
      qkNorm: true,
      sandwichNorms: false,
      norm: "rms_one_plus",
      activation: r.activation({ silu: "silu", swish: "silu" }, "silu"),
      attentionScale: 1 / Math.sqrt(basics.headDim),
      attnOutputGate: true,
      rotaryDim,
      linearAttention,
      layers,
      tensorNames: {
        ...HF_DECODER_TENSORS,
        linQkv: LIN + "in_proj_qkv.weight",
        linZ: LIN + "in_proj_z.weight",
        linB: LIN + "in_proj_b.weight",
        linA: LIN + "in_proj_a.weight",
        linConv: LIN + "conv1d.weight",
        linDtBias: LIN + "dt_bias",
        linALog: LIN + "A_log",
        linNorm: LIN + "norm.weight",
        linOut: LIN + "out_proj.weight",
      },
      ...(multimodal
        ? {
            checkpointPrefixes: [{ prefix: "model.", alternatives: ["model.language_model."] }],
            peftPrefix: "model.language_model.",
          }
        : {}),
      raw: multimodal ? { ...text, architectures: ["Qwen3_5ForCausalLM"], model_type: "qwen3_5_text", tie_word_embeddings: merged.tie_word_embeddings } : raw,
    };
  },
};
