/**
 * LoRA parameter initialisation. A [r, in] is drawn like PyTorch's kaiming_uniform_(a = sqrt(5)),
 * which PEFT uses: gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), bound = gain * sqrt(3 / fan_in)
 * = 1 / sqrt(fan_in). B [out, r] is zero, so the adapted model starts exactly at the base model.
 */
import type { Rng } from "./rng.js";

export interface LoraParamShape {
  /** e.g. "layers.0.self_attn.q_proj.lora_A" */
  name: string;
  shape: [number, number];
}

/** The uniform bound of kaiming_uniform_(a = sqrt(5)) for a weight whose fan-in is `fanIn`. */
export function kaimingUniformBound(fanIn: number): number {
  const a = Math.sqrt(5);
  const gain = Math.sqrt(2 / (1 + a * a));
  return gain * Math.sqrt(3 / fanIn);
}

/**
 * Fills every `*lora_A` with U(-bound, bound) (fan-in = its second dimension) and every `*lora_B` with
 * zeros, drawing in the order given so the same seed always gives the same adapter.
 */
export function initLoraParams(shapes: LoraParamShape[], rng: Rng): Map<string, Float32Array> {
  const params = new Map<string, Float32Array>();
  for (const { name, shape } of shapes) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (isLoraA(name)) {
      const bound = kaimingUniformBound(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = (rng.nextFloat() * 2 - 1) * bound;
    } else if (!isLoraB(name)) {
      throw new Error(`initLoraParams: ${name} is neither a lora_A nor a lora_B parameter`);
    }
    params.set(name, data);
  }
  return params;
}

export function isLoraA(name: string): boolean {
  return /lora_A(\.weight)?$/.test(name);
}
export function isLoraB(name: string): boolean {
  return /lora_B(\.weight)?$/.test(name);
}
