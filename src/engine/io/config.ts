/**
 * Hugging Face config.json -> ModelConfig for the Llama family (Llama 2/3, SmolLM/SmolLM2, Mistral,
 * Qwen2/2.5). Anything else is refused with a message naming what is supported.
 */
import { promises as fsp } from "node:fs";
import { TunekitError, fsError } from "../../util/errors.js";
import type { Architecture, ModelConfig } from "../types.js";

const ARCHITECTURES: Record<string, Architecture> = {
  LlamaForCausalLM: "llama",
  MistralForCausalLM: "mistral",
  Qwen2ForCausalLM: "qwen2",
};
const MODEL_TYPES: Record<string, Architecture> = { llama: "llama", mistral: "mistral", qwen2: "qwen2" };

export const SUPPORTED_ARCHITECTURES_TEXT =
  "LlamaForCausalLM (Llama 2/3, SmolLM, SmolLM2, TinyLlama), MistralForCausalLM, Qwen2ForCausalLM (Qwen2/2.5)";

function bad(file: string | undefined, message: string, hint?: string): TunekitError {
  return new TunekitError("invalid_model_config", message, { file, hint: hint ?? "check the model's config.json" });
}

/** Normalises a parsed config.json. `file` is used in error messages. */
export function parseModelConfig(raw: Record<string, unknown>, file?: string): ModelConfig {
  const archs = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]).map(String) : [];
  const modelType = typeof raw.model_type === "string" ? raw.model_type : undefined;
  let architecture: Architecture | undefined;
  for (const a of archs) architecture ??= ARCHITECTURES[a];
  if (archs.length === 0 && modelType) architecture = MODEL_TYPES[modelType];
  if (archs.length > 0 && !architecture) architecture = undefined;
  if (!architecture) {
    const what = archs.length ? archs.join(", ") : modelType ? `model_type "${modelType}"` : "no architecture given";
    throw new TunekitError("unsupported_architecture", `unsupported model architecture: ${what}`, {
      file,
      hint: `tunekit's local engine supports ${SUPPORTED_ARCHITECTURES_TEXT}; for other models use a hosted provider`,
    });
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw bad(file, `config.json: "${key}" must be a positive integer, got ${JSON.stringify(raw[key])}`);
    }
    return v;
  };
  const numOr = (key: string, fallback: number): number => {
    const v = raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) throw bad(file, `config.json: "${key}" must be a number`);
    return v;
  };
  const act = raw.hidden_act ?? raw.hidden_activation;
  if (act !== undefined && act !== "silu" && act !== "swish") {
    throw new TunekitError("unsupported_architecture", `unsupported activation "${String(act)}" (tunekit supports silu)`, { file });
  }
  if (raw.mlp_bias === true) {
    throw new TunekitError("unsupported_architecture", "models with MLP biases (mlp_bias: true) are not supported", { file });
  }
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numKvHeads = int("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw bad(file, `config.json: num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = raw.head_dim === undefined || raw.head_dim === null ? hiddenSize / numHeads : int("head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw bad(file, `config.json: head dimension ${headDim} must be an even integer (hidden_size / num_attention_heads)`);
  }

  let ropeScaling: ModelConfig["ropeScaling"];
  const rs = raw.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs && typeof rs === "object") {
    const type = rs.rope_type ?? rs.type;
    if (type === "llama3") {
      const f = (k: string): number => {
        const v = rs[k];
        if (typeof v !== "number") throw bad(file, `config.json: rope_scaling.${k} must be a number`);
        return v;
      };
      ropeScaling = {
        type: "llama3",
        factor: f("factor"),
        lowFreqFactor: f("low_freq_factor"),
        highFreqFactor: f("high_freq_factor"),
        originalMaxPositionEmbeddings: f("original_max_position_embeddings"),
      };
    } else if (type !== "default" && type !== undefined) {
      throw new TunekitError("unsupported_architecture", `unsupported rope_scaling type "${String(type)}"`, {
        file,
        hint: "tunekit supports plain rotary embeddings and llama3 rope scaling",
      });
    }
  }

  const tie = raw.tie_word_embeddings;
  // Qwen2 always has q/k/v biases; Llama/Mistral only with attention_bias.
  const attentionBias = architecture === "qwen2" ? true : raw.attention_bias === true;
  let slidingWindow: number | undefined;
  const sw = raw.sliding_window;
  if (typeof sw === "number" && sw > 0) {
    // Qwen2 configs carry sliding_window but only apply it when use_sliding_window is true.
    if (architecture !== "qwen2" || raw.use_sliding_window === true) slidingWindow = sw;
  }
  const eos = raw.eos_token_id;
  return {
    architecture,
    vocabSize: int("vocab_size"),
    hiddenSize,
    intermediateSize: int("intermediate_size"),
    numLayers: int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: numOr("rms_norm_eps", 1e-6),
    ropeTheta: numOr("rope_theta", 10000),
    ...(ropeScaling ? { ropeScaling } : {}),
    maxPositionEmbeddings: int("max_position_embeddings", 2048),
    // transformers' Llama/Mistral/Qwen2 configs default tie_word_embeddings to false.
    tieWordEmbeddings: tie === true,
    attentionBias,
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(typeof raw.bos_token_id === "number" ? { bosTokenId: raw.bos_token_id } : {}),
    ...(typeof eos === "number" || (Array.isArray(eos) && eos.every((x) => typeof x === "number"))
      ? { eosTokenId: eos as number | number[] }
      : {}),
    raw,
  };
}

/** Reads and normalises `config.json` at `path`. */
export async function readModelConfig(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (e) {
    const err = fsError(e, path);
    if (err instanceof TunekitError && err.code === "file_not_found") {
      throw new TunekitError("missing_model_file", `the model folder has no config.json (${path})`, {
        file: path,
        hint: "a Hugging Face model folder needs config.json, model.safetensors (or an index) and tokenizer.json",
      });
    }
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(path, `${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw bad(path, `${path} must hold a JSON object`);
  return parseModelConfig(raw as Record<string, unknown>, path);
}
