/**
 * What the training loop needs from a model: the LoRA parameter shapes, one forward+backward over a
 * batch returning the SUMMED loss over weighted tokens and its gradients, and a gradient-free held-out
 * loss. The ONNX-backed implementation wraps the engine's training-step graph (models/causal-lm.ts);
 * the loop itself does not care how the numbers are computed.
 */
import type { StepBatch } from "./batches.js";
import type { LoraParamShape } from "./lora-init.js";

export type { LoraSpec, LoraTarget } from "../models/lora.js";

export interface StepResult {
  /** Sum over weighted target tokens of -log p(target). */
  lossSum: number;
  /** Sum of the loss weights (assistant tokens counted). */
  tokenCount: number;
  /** d(lossSum)/d(param) for every LoRA parameter: new arrays the caller owns (the training loop keeps and scales them). */
  grads: Map<string, Float32Array>;
}

export interface TrainStepEngine {
  /** Every LoRA parameter, in a stable order: names like "layers.0.self_attn.q_proj.lora_A". */
  readonly paramShapes: LoraParamShape[];
  run(batch: StepBatch, params: Map<string, Float32Array>, options?: { dropoutSeed?: number }): Promise<StepResult>;
  evalLoss(batch: StepBatch, params: Map<string, Float32Array>): Promise<{ lossSum: number; tokenCount: number }>;
  dispose(): Promise<void> | void;
}
