/**
 * Writes a LoRA adapter in PEFT's layout, which PEFT, llama.cpp's convert_lora_to_gguf.py, Ollama and
 * tunekit itself read: adapter_config.json + adapter_model.safetensors with names like
 * base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight ([r, in]) and ...lora_B.weight ([out, r]).
 * Only the LoRA matrices are stored (no embedding copies, which some exporters reject).
 */
import { join } from "node:path";
import { writeSafetensors } from "../engine/io/safetensors.js";
import { TARGET_MODULES, type LoraSpec } from "../engine/train/engine.js";
import type { LoraParamShape } from "../engine/train/lora-init.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";

/** "layers.0.self_attn.q_proj.lora_A" -> "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" */
export function peftTensorName(paramName: string): string {
  return `base_model.model.model.${paramName}.weight`;
}

export function adapterConfig(spec: LoraSpec, baseModel: string): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: spec.r,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    target_modules: spec.targets.map((t) => TARGET_MODULES[t]),
    bias: "none",
    base_model_name_or_path: baseModel,
    fan_in_fan_out: false,
    use_rslora: spec.rslora,
    use_dora: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    revision: null,
    library_name: "tunekit",
  };
}

/** Writes the adapter folder (each file atomically; weights first, config last). */
export async function writeAdapter(
  dir: string,
  params: Map<string, Float32Array>,
  shapes: LoraParamShape[],
  spec: LoraSpec,
  baseModel: string,
): Promise<void> {
  await ensureDir(dir);
  const tensors = shapes.map(({ name, shape }) => ({ name: peftTensorName(name), shape: [...shape], data: params.get(name)! }));
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), tensors, { format: "pt" });
  await writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(adapterConfig(spec, baseModel), null, 2) + "\n");
}
