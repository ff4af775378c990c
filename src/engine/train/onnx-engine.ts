/** The TrainStepEngine backed by the engine's ONNX training-step graph (models/llama.ts). */
import { createTrainStep } from "../models/llama.js";
import type { ModelConfig, Tensor } from "../types.js";
import type { LoraSpec, TrainStepEngine } from "./engine.js";

export async function createOnnxTrainEngine(
  config: ModelConfig,
  weights: Map<string, Tensor>,
  spec: LoraSpec,
  options: { threads?: number } = {},
): Promise<TrainStepEngine> {
  const step = await createTrainStep(
    config,
    weights,
    { r: spec.r, alpha: spec.alpha, targets: spec.targets, rslora: spec.rslora, dropout: spec.dropout },
    options,
  );
  return {
    paramShapes: step.paramShapes,
    run: (batch, params, o) => step.run(batch, params, o),
    evalLoss: (batch, params) => step.evalLoss(batch, params),
    dispose: () => step.dispose(),
  };
}
