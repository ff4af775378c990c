/** The TrainStepEngine backed by the engine's ONNX training-step graph (models/causal-lm.ts). */
import { createTrainStep } from "../models/causal-lm.js";
import type { ModelConfig, Tensor } from "../types.js";
import type { EngineChoices } from "./backend.js";
import type { LoraSpec, TrainStepEngine } from "./engine.js";

export async function createOnnxTrainEngine(
  config: ModelConfig,
  weights: Map<string, Tensor>,
  spec: LoraSpec,
  options: EngineChoices = {},
): Promise<TrainStepEngine> {
  const step = await createTrainStep(config, weights, spec, options);
  return {
    paramShapes: step.paramShapes,
    run: (batch, params, o) => step.run(batch, params, o),
    evalLoss: (batch, params) => step.evalLoss(batch, params),
    dispose: () => step.dispose(),
  };
}
