/**
 * The model families tunekit's engine runs: one line each. A family is one file in this folder
 * (see ../family.ts for what it provides); adding one is that file, its line here, and its tests.
 */
import { TunekitError } from "../../../util/errors.js";
import type { ModelFamily, RefusedFamily } from "../family.js";
import type { ModelConfig } from "../../types.js";
import { gemma3 } from "./gemma3.js";
import { llama } from "./llama.js";
import { mistral } from "./mistral.js";
import { qwen2 } from "./qwen2.js";
import { qwen3 } from "./qwen3.js";
import { qwen3_5 } from "./qwen3_5.js";
import { smollm3 } from "./smollm3.js";

export const FAMILIES: readonly ModelFamily[] = [
  llama,
  mistral,
  qwen2,
  qwen3,
  qwen3_5,
  gemma3,
  smollm3,
];

/** Architectures refused by name until the engine has their layers. */
export const REFUSED_FAMILIES: readonly RefusedFamily[] = [
  {
    name: "Qwen3-Next",
    architectures: ["Qwen3NextForCausalLM"],
    modelTypes: ["qwen3_next"],
    reason: "a mixture-of-experts hybrid, which tunekit's engine does not run; Qwen3.5 (e.g. Qwen/Qwen3.5-0.8B) and Qwen3 train locally",
  },
  {
    name: "Granite 4.0 H",
    architectures: ["GraniteMoeHybridForCausalLM"],
    modelTypes: ["granitemoehybrid"],
    reason: "a hybrid model with Mamba-2 layers, which tunekit's engine does not run",
  },
  {
    name: "LFM2",
    architectures: ["Lfm2ForCausalLM"],
    modelTypes: ["lfm2"],
    reason: "a hybrid model with short-convolution layers, which tunekit's engine does not run",
  },
];

/** "LlamaForCausalLM (...), MistralForCausalLM, ...": for messages and docs. */
export const SUPPORTED_ARCHITECTURES_TEXT = FAMILIES.map((f) => f.label).join(", ");

/** Parses config.json with its family (see familyFor). */
export function parseWithFamily(raw: Record<string, unknown>, file?: string): ModelConfig {
  const f = familyFor(raw, file);
  return { ...f.parseConfig(raw, file), family: f.id, lora: [...f.loraTargets] };
}

/** The family that reads a config.json; refuses hybrids by name and anything unknown. */
export function familyFor(raw: Record<string, unknown>, file?: string): ModelFamily {
  const archs = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]).map(String) : [];
  const modelType = typeof raw.model_type === "string" ? raw.model_type : undefined;
  const refused = REFUSED_FAMILIES.find((f) => archs.some((a) => f.architectures.includes(a)) || (modelType !== undefined && f.modelTypes.includes(modelType)));
  if (refused) {
    throw new TunekitError("unsupported_architecture", `${refused.name} (${archs[0] ?? modelType}) is ${refused.reason}`, {
      file,
      hint: `tunekit's local engine supports ${SUPPORTED_ARCHITECTURES_TEXT}; for other models use a hosted provider`,
    });
  }
  const family = archs.length > 0 ? FAMILIES.find((f) => archs.some((a) => f.architectures.includes(a))) : FAMILIES.find((f) => modelType !== undefined && f.modelTypes.includes(modelType));
  if (!family) {
    const what = archs.length ? archs.join(", ") : modelType ? `model_type "${modelType}"` : "no architecture given";
    throw new TunekitError("unsupported_architecture", `unsupported model architecture: ${what}`, {
      file,
      hint: `tunekit's local engine supports ${SUPPORTED_ARCHITECTURES_TEXT}; for other models use a hosted provider`,
    });
  }
  return family;
}

/** The family a parsed config belongs to. */
export function familyOf(c: Pick<ModelConfig, "family">): ModelFamily {
  const f = FAMILIES.find((x) => x.id === c.family);
  if (!f) throw new Error(`unknown model family ${c.family}`);
  return f;
}
