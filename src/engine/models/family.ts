/**
 * What a model family is: one file in models/families/ that reads its config.json into a ModelConfig
 * (the decoder description the shared runtime builds from), names its tensors, offers its LoRA targets
 * with their PEFT names, and carries its GGUF names. The registry (families/index.ts) lists them.
 *
 * The helpers below are the config.json reading that several families share: every error names the
 * field, and anything the engine does not implement is refused by name (never run a model wrong).
 */
import { TunekitError } from "../../util/errors.js";
import type { LayerSpec, LoraModuleSpec, ModelConfig, RopeSpec, TensorRole } from "../types.js";

/**
 * llama.cpp's names for a family (general.architecture and tensor names) and what llama.cpp's graph for
 * that architecture can express, for the GGUF writer (src/export/gguf/). The rest follows from the
 * ModelConfig: `norm: "rms_one_plus"` norms are stored as 1 + w (Gemma), `headDim` != hidden/heads
 * needs the key/value lengths, a tied head has no `output` tensor, each layer's rope and window
 * (DESIGN.md, GGUF). Values are from gguf-py's names and llama.cpp's model loader; the export tests
 * run every family's file in llama.cpp.
 */
export interface GgufNames {
  /** `general.architecture`, e.g. "llama", "qwen3", "gemma3". */
  architecture: string;
  /** llama.cpp tensor name of each role, without ".weight"/".bias"; `{i}` is the layer index. */
  tensors: Partial<Record<TensorRole, string>>;
  /** llama.cpp's rotary layout for `llama` needs q and k rows permuted (see DESIGN.md, GGUF). */
  permuteQK?: boolean;
  /** llama.cpp's graph reads llama3 rope scaling as a `rope_freqs` tensor (the `llama` graph does; others have no such input). */
  ropeFreqsTensor?: boolean;
  /** llama.cpp's graph loads an output-projection bias (`attn_output.bias`). */
  outputBias?: boolean;
  /**
   * llama.cpp runs sliding-window layers for this architecture, from `attention.sliding_window` and a
   * period `attention.sliding_window_pattern` (layer i slides when i % p < p - 1), sliding layers with
   * `rope.freq_base_swa`. Without this, llama.cpp attends to the whole context in every layer.
   */
  slidingWindowPattern?: boolean;
  /** llama.cpp's graph leaves RoPE out of every n-th layer (layer i when (i + 1) % n == 0); no key sets it. */
  noRopeEvery?: number;
}

/** What a family's parseConfig returns: the ModelConfig less what the registry fills in. */
export type DecoderDescription = Omit<ModelConfig, "family" | "lora">;

export interface ModelFamily {
  /** Registry id, stored in ModelConfig.family. */
  readonly id: string;
  /** For messages and docs, e.g. "Qwen3ForCausalLM (Qwen3)". */
  readonly label: string;
  /** Hugging Face class names in config.json "architectures" that this family reads. */
  readonly architectures: readonly string[];
  /** config.json "model_type" values (used when "architectures" is absent). */
  readonly modelTypes: readonly string[];
  /** The LoRA targets the family offers (user names, the layers they adapt, PEFT module names), in parameter order. */
  readonly loraTargets: readonly LoraModuleSpec[];
  /**
   * config.json -> the decoder (ModelConfig without `family` and `lora`, which the registry adds from
   * this object); refuses what it cannot run with `unsupported_architecture`, naming the field.
   */
  parseConfig(raw: Record<string, unknown>, file?: string): DecoderDescription;
  /** llama.cpp's names; absent until a GGUF mapping is written for the family. */
  readonly gguf?: GgufNames;
}

/** A family llama.cpp and tunekit know by name but the engine cannot run yet. */
export interface RefusedFamily {
  readonly name: string;
  readonly architectures: readonly string[];
  readonly modelTypes: readonly string[];
  /** Why, and what to do instead. */
  readonly reason: string;
}

// ---------------------------------------------------------------- names shared by most families

/** Hugging Face's Llama-style tensor names (Llama, Mistral, Qwen2/3, SmolLM3 and Gemma 3's text model). */
export const HF_DECODER_TENSORS: Partial<Record<TensorRole, string>> = {
  embed: "model.embed_tokens.weight",
  finalNorm: "model.norm.weight",
  lmHead: "lm_head.weight",
  attnNorm: "model.layers.{i}.input_layernorm.weight",
  q: "model.layers.{i}.self_attn.q_proj.weight",
  k: "model.layers.{i}.self_attn.k_proj.weight",
  v: "model.layers.{i}.self_attn.v_proj.weight",
  o: "model.layers.{i}.self_attn.o_proj.weight",
  qBias: "model.layers.{i}.self_attn.q_proj.bias",
  kBias: "model.layers.{i}.self_attn.k_proj.bias",
  vBias: "model.layers.{i}.self_attn.v_proj.bias",
  oBias: "model.layers.{i}.self_attn.o_proj.bias",
  qNorm: "model.layers.{i}.self_attn.q_norm.weight",
  kNorm: "model.layers.{i}.self_attn.k_norm.weight",
  mlpNorm: "model.layers.{i}.post_attention_layernorm.weight",
  gate: "model.layers.{i}.mlp.gate_proj.weight",
  up: "model.layers.{i}.mlp.up_proj.weight",
  down: "model.layers.{i}.mlp.down_proj.weight",
};

/** LoRA on every linear layer of the attention and the gated MLP, under PEFT's module names. */
export const PROJECTION_LORA_TARGETS: LoraModuleSpec[] = [
  { target: "q", role: "q", peft: "q_proj" },
  { target: "k", role: "k", peft: "k_proj" },
  { target: "v", role: "v", peft: "v_proj" },
  { target: "o", role: "o", peft: "o_proj" },
  { target: "gate", role: "gate", peft: "gate_proj" },
  { target: "up", role: "up", peft: "up_proj" },
  { target: "down", role: "down", peft: "down_proj" },
];

/** llama.cpp's tensor names for the roles (gguf-py's constants; DESIGN.md, GGUF). */
export const LLAMA_CPP_TENSORS: Partial<Record<TensorRole, string>> = {
  embed: "token_embd",
  finalNorm: "output_norm",
  lmHead: "output",
  attnNorm: "blk.{i}.attn_norm",
  q: "blk.{i}.attn_q",
  k: "blk.{i}.attn_k",
  v: "blk.{i}.attn_v",
  o: "blk.{i}.attn_output",
  qBias: "blk.{i}.attn_q",
  kBias: "blk.{i}.attn_k",
  vBias: "blk.{i}.attn_v",
  oBias: "blk.{i}.attn_output",
  qNorm: "blk.{i}.attn_q_norm",
  kNorm: "blk.{i}.attn_k_norm",
  mlpNorm: "blk.{i}.ffn_norm",
  gate: "blk.{i}.ffn_gate",
  up: "blk.{i}.ffn_up",
  down: "blk.{i}.ffn_down",
};

// ---------------------------------------------------------------- config.json reading

/** Reads config.json fields; every error names the field (and the file). */
export class ConfigReader {
  constructor(
    readonly raw: Record<string, unknown>,
    /** For messages: "Qwen3", "Gemma 3". */
    readonly what: string,
    readonly file?: string,
  ) {}

  bad(message: string): TunekitError {
    return new TunekitError("invalid_model_config", message, { file: this.file, hint: "check the model's config.json" });
  }

  /** Refuses a configuration the engine does not implement, naming the field. */
  refuse(field: string, message: string, hint?: string): TunekitError {
    return new TunekitError("unsupported_architecture", `${this.what}: ${message} (config.json "${field}")`, {
      file: this.file,
      hint: hint ?? "tunekit's local engine does not implement this; use a hosted provider for this model",
    });
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw this.bad(`config.json: "${key}" must be a positive integer, got ${JSON.stringify(this.raw[key])}`);
    }
    return v;
  }

  num(key: string, fallback: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) throw this.bad(`config.json: "${key}" must be a number`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") throw this.bad(`config.json: "${key}" must be true or false`);
    return v;
  }

  /** Refuses a field that is set to anything but null/false/0 (an unimplemented feature turned on). */
  refuseIfSet(key: string, what: string): void {
    const v = this.raw[key];
    if (v === undefined || v === null || v === false || v === 0) return;
    throw this.refuse(key, `${what} (${JSON.stringify(v)}) is not implemented`);
  }

  /** The activation (hidden_act / hidden_activation) must be one of `allowed`. */
  activation<T extends string>(allowed: Record<string, T>, fallback: T): T {
    const key = this.has("hidden_activation") ? "hidden_activation" : "hidden_act";
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    const got = typeof v === "string" ? allowed[v] : undefined;
    if (!got) throw this.refuse(key, `activation ${JSON.stringify(v)} is not supported (supported: ${Object.keys(allowed).join(", ")})`);
    return got;
  }
}

/** The fields every decoder family reads the same way, with the family's defaults. */
export function readDecoderBasics(r: ConfigReader, defaults: { tieWordEmbeddings: boolean; maxPositionEmbeddings?: number; rmsNormEps?: number; headDim?: number }) {
  const hiddenSize = r.int("hidden_size");
  const numHeads = r.int("num_attention_heads");
  const numKvHeads = r.int("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw r.bad(`config.json: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = r.has("head_dim") ? r.int("head_dim") : (defaults.headDim ?? hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw r.bad(`config.json: head dimension ${headDim} must be an even integer (hidden_size / num_attention_heads)`);
  }
  r.refuseIfSet("mlp_bias", "MLP biases (mlp_bias)");
  r.refuseIfSet("attn_logit_softcapping", "attention-logit soft-capping");
  r.refuseIfSet("final_logit_softcapping", "final-logit soft-capping");
  r.refuseIfSet("use_bidirectional_attention", "bidirectional attention");
  const partial = r.raw.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    throw r.refuse("partial_rotary_factor", `partial rotary embeddings (factor ${JSON.stringify(partial)}) are not implemented`);
  }
  const eos = r.raw.eos_token_id;
  return {
    vocabSize: r.int("vocab_size"),
    hiddenSize,
    intermediateSize: r.int("intermediate_size"),
    numLayers: r.int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: r.num("rms_norm_eps", defaults.rmsNormEps ?? 1e-6),
    maxPositionEmbeddings: r.int("max_position_embeddings", defaults.maxPositionEmbeddings ?? 2048),
    tieWordEmbeddings: r.bool("tie_word_embeddings", defaults.tieWordEmbeddings),
    ...(typeof r.raw.bos_token_id === "number" ? { bosTokenId: r.raw.bos_token_id } : {}),
    ...(typeof eos === "number" || (Array.isArray(eos) && eos.every((x) => typeof x === "number")) ? { eosTokenId: eos as number | number[] } : {}),
  };
}

/**
 * The decoder most families are: Llama's layers (RMSNorm before attention and MLP, a SiLU-gated MLP,
 * attention scaled by 1/sqrt(head_dim), no q/k norms) under Hugging Face's tensor names. A family gives
 * its sizes, its layers and the biases or q/k norms it adds.
 */
export function llamaStyleDecoder(
  r: ConfigReader,
  basics: ReturnType<typeof readDecoderBasics>,
  o: { layers: LayerSpec[]; qkvBias: boolean; oBias: boolean; qkNorm?: boolean },
): DecoderDescription {
  return {
    ...basics,
    qkvBias: o.qkvBias,
    oBias: o.oBias,
    qkNorm: o.qkNorm ?? false,
    sandwichNorms: false,
    norm: "rms",
    activation: r.activation({ silu: "silu", swish: "silu" }, "silu"),
    attentionScale: 1 / Math.sqrt(basics.headDim),
    layers: o.layers,
    tensorNames: HF_DECODER_TENSORS,
    raw: r.raw,
  };
}

/** The rope types the engine implements. */
const ROPE_TYPES = ["default", "llama3", "linear"];

/** One rope parameter set ({rope_type, rope_theta?, factor, ...}) -> RopeSpec; `field` names it in errors. */
export function ropeFrom(r: ConfigReader, params: Record<string, unknown> | null | undefined, theta: number, field: string): RopeSpec {
  if (!params) return { theta };
  const type = params.rope_type ?? params.type ?? "default";
  const t = typeof params.rope_theta === "number" ? params.rope_theta : theta;
  const f = (k: string): number => {
    const v = params[k];
    if (typeof v !== "number" || !Number.isFinite(v)) throw r.bad(`config.json: ${field}.${k} must be a number`);
    return v;
  };
  switch (type) {
    case "default":
      return { theta: t };
    case "linear":
      return { theta: t, scaling: { type: "linear", factor: f("factor") } };
    case "llama3":
      return {
        theta: t,
        scaling: {
          type: "llama3",
          factor: f("factor"),
          lowFreqFactor: f("low_freq_factor"),
          highFreqFactor: f("high_freq_factor"),
          originalMaxPositionEmbeddings: f("original_max_position_embeddings"),
        },
      };
    default:
      throw r.refuse(`${field}.rope_type`, `rope type ${JSON.stringify(type)} is not implemented (supported: ${ROPE_TYPES.join(", ")})`, "tunekit supports plain rotary embeddings and llama3 / linear rope scaling");
  }
}

/**
 * The rotary embedding of a model with one rope for all layers: `rope_parameters` (newer
 * transformers: {rope_type, rope_theta, ...}) or `rope_theta` + `rope_scaling` (older).
 */
export function readRope(r: ConfigReader, thetaDefault: number): RopeSpec {
  const theta = r.num("rope_theta", thetaDefault);
  const rp = r.raw.rope_parameters;
  if (rp && typeof rp === "object" && !Array.isArray(rp)) return ropeFrom(r, rp as Record<string, unknown>, theta, "rope_parameters");
  const rs = r.raw.rope_scaling;
  if (rs && typeof rs === "object" && !Array.isArray(rs)) return ropeFrom(r, rs as Record<string, unknown>, theta, "rope_scaling");
  return { theta };
}

/** `layer_types` ("full_attention" / "sliding_attention" per layer) when present, validated. */
export function readLayerTypes(r: ConfigReader, numLayers: number): ("full_attention" | "sliding_attention")[] | undefined {
  const lt = r.raw.layer_types;
  if (lt === undefined || lt === null) return undefined;
  if (!Array.isArray(lt) || lt.length < numLayers) throw r.bad(`config.json: "layer_types" must list a type for each of the ${numLayers} layers`);
  return lt.slice(0, numLayers).map((t, i) => {
    if (t === "full_attention" || t === "sliding_attention") return t;
    throw r.refuse("layer_types", `layer ${i} has type ${JSON.stringify(t)}; tunekit runs full_attention and sliding_attention layers`);
  });
}

/** Tensor name of `role` in layer `layer` (or the model-wide name). */
export function tensorName(c: Pick<ModelConfig, "tensorNames">, role: TensorRole, layer?: number): string {
  const t = c.tensorNames[role];
  if (t === undefined) throw new Error(`the model has no ${role} tensor`);
  return layer === undefined ? t : t.replace("{i}", String(layer));
}

/**
 * Qwen2/Qwen3's sliding windows: none unless use_sliding_window; then sliding_window on the layers
 * layer_types marks "sliding_attention" (by default the layers from max_window_layers on).
 */
export function readQwenWindows(r: ConfigReader, numLayers: number): (number | undefined)[] {
  const window = r.bool("use_sliding_window", false) && r.has("sliding_window") ? r.int("sliding_window") : undefined;
  const types = readLayerTypes(r, numLayers);
  const firstSliding = r.num("max_window_layers", 28);
  return Array.from({ length: numLayers }, (_, i) => {
    if (window === undefined) return undefined;
    const sliding = types ? types[i] === "sliding_attention" : i >= firstSliding;
    return sliding ? window : undefined;
  });
}

/** Whether the model has recurrent (linear-attention) layers, whose state runs through a whole row. */
export function hasRecurrentLayers(c: ModelConfig): boolean {
  return c.layers.some((l) => l.mixer === "linear_attention");
}

/** The error for packed rows on a model with recurrent layers (the state would carry from one example into the next). */
export function packingRefused(c: ModelConfig): TunekitError {
  return new TunekitError("unsupported_packing", `${c.family} models have recurrent (Gated DeltaNet) layers: packed rows would carry the state from one example into the next, and rows must not start with padding`, {
    hint: "train without --packing (one example per row)",
  });
}
