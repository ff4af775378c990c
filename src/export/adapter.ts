/**
 * The run's LoRA adapter in PEFT's layout (adapter_config.json + adapter_model.safetensors), written
 * through the engine's PEFT module so every tool that reads PEFT adapters (PEFT, llama.cpp's
 * convert_lora_to_gguf.py, Ollama, tunekit) can use it. Only LoRA matrices are stored: no embedding
 * copies, which some exporters reject.
 */
import { writePeftAdapter } from "../engine/io/peft.js";
import type { LoraSpec } from "../engine/train/engine.js";
import type { ModelConfig } from "../engine/types.js";

export async function writeAdapter(dir: string, params: Map<string, Float32Array>, config: ModelConfig, spec: LoraSpec, baseModel: string): Promise<void> {
  await writePeftAdapter(dir, {
    config,
    spec: { r: spec.r, alpha: spec.alpha, dropout: spec.dropout, rslora: spec.rslora, targets: spec.targets },
    params,
    baseModel,
  });
}
