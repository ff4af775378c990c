/** What Together AI's fine-tuning offers and costs (the API's own price estimate is asked for before a job). */
import type { TrainerCapabilities } from "../types.js";
import type { InferencePrice, TrainingPrice } from "../prices.js";

export const togetherCapabilities: TrainerCapabilities = {
  hosted: true,
  methods: ["supervised-lora", "supervised-full"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data (auto: Together's default, 1)", auto: true, integer: true, min: 1, max: 20 },
    batch_size: { description: "examples per step (auto: the largest the model allows)", auto: true, integer: true, min: 1, max: 1024 },
    learning_rate: { description: "peak learning rate (auto: Together's default)", auto: true, integer: false, min: 1e-8, max: 0.01 },
  },
  maxFileBytes: Math.floor(4.9 * 2 ** 30),
  minExamples: 1,
  suffix: true,
  seed: true,
  lora: true,
  autoEpochs: 1,
};

/** A small open model Together fine-tunes (its fine-tuning quickstart uses it). */
export const TOGETHER_DEFAULT_MODEL = "Qwen/Qwen3-8B";

const THIRD_PARTY = "aitot.net fine-tuning cost guide 2026 (an 8B LoRA job: $15 for 15M trained tokens); together.ai/pricing lists the current rate";

/** Rates by model size; the bracket comes from the parameter count in the model id. */
export const TOGETHER_TRAINING_PRICES: readonly TrainingPrice[] = [
  { match: /(^|[^\d.])(0?\.\d+|[1-9]|1[0-6])(\.\d+)?b\b/, perMTok: 1.0, covers: "LoRA fine-tuning of models up to 16B", asOf: "2026-12-06", source: THIRD_PARTY },
];

export const TOGETHER_INFERENCE_PRICES: readonly InferencePrice[] = [
  { match: /(^|[^\d.])(0?\.\d+|[1-9])(\.\d+)?b\b/, inputPerM: 0.2, outputPerM: 0.6, covers: "serverless models up to 9B (Llama 3.1 8B's rate)", asOf: "2026-12-06", source: "theneuralbase.com, Together AI Llama 3.1 8B pricing (2026)" },
];
