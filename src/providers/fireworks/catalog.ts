/** What Fireworks' supervised fine-tuning offers and costs. */
import type { TrainerCapabilities } from "../types.js";
import type { InferencePrice, TrainingPrice } from "../prices.js";

export const fireworksCapabilities: TrainerCapabilities = {
  hosted: true,
  methods: ["supervised-lora"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data (auto: Fireworks' default)", auto: true, integer: true, min: 1, max: 100 },
    batch_size: { description: "tokens per packed batch (auto: Fireworks' default)", auto: true, integer: true, min: 1, max: 1_048_576 },
    learning_rate: { description: "learning rate (auto: Fireworks' default)", auto: true, integer: false, min: 1e-8, max: 0.1 },
  },
  // Datasets up to 150 MB go in one request; larger ones through a signed upload URL.
  maxFileBytes: 50 * 2 ** 30,
  minExamples: 3,
  suffix: false,
  seed: false,
  lora: true,
  maxContextLength: true,
};

export const FIREWORKS_DEFAULT_MODEL = "accounts/fireworks/models/qwen3-8b";

const PRICING = "fireworks.ai/pricing";

/** "Fireworks charges based on the total number of tokens in your fine-tuning dataset (dataset size * number of epochs)." */
export const FIREWORKS_TRAINING_PRICES: readonly TrainingPrice[] = [
  { match: /(^|[^\dp])(0p\d+|[1-9]|1[0-6])(p\d+)?b\b/, perMTok: 0.5, covers: "models up to 16B", asOf: "2026-12-06", source: PRICING },
  { match: /(^|[^\dp])(1[7-9]|[2-7]\d|80)(p\d+)?b\b/, perMTok: 3.0, covers: "models of 16.1B-80B", asOf: "2026-12-06", source: PRICING },
];

/** LoRA models on serverless inference cost what their base model costs. */
export const FIREWORKS_INFERENCE_PRICES: readonly InferencePrice[] = [
  { match: /(^|[^\dp])(0p\d+|[1-9]|1[0-6])(p\d+)?b\b/, inputPerM: 0.2, outputPerM: 0.2, covers: "serverless models up to 16B (LoRA at the base model's rate)", asOf: "2026-12-06", source: PRICING },
];
