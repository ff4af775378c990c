/**
 * What OpenAI's fine-tuning offers and costs, and when its models retire: the facts tunekit states and
 * plans with. Azure OpenAI runs the same API (src/providers/azure) on Azure's own calendar.
 */
import type { TrainerCapabilities } from "../types.js";
import type { InferencePrice, Retirement, TrainingPrice } from "../prices.js";

export const openaiCapabilities: TrainerCapabilities = {
  hosted: true,
  methods: ["supervised"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data", auto: true, integer: true, min: 1, max: 50 },
    batch_size: { description: "examples per step", auto: true, integer: true, min: 1, max: 256 },
    learning_rate_multiplier: { description: "scales OpenAI's default learning rate", auto: true, integer: false, min: 0.00001, max: 50 },
  },
  maxFileBytes: 512 * 1024 * 1024,
  minExamples: 10,
  suffix: true,
  seed: true,
};

const LIST = "openai.com/api/pricing";

/** USD per 1M trained tokens; unchanged from the 2025-06 list through the wind-down. */
export const OPENAI_TRAINING_PRICES: readonly TrainingPrice[] = [
  { match: "gpt-4o-mini", perMTok: 3, covers: "gpt-4o-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4o", perMTok: 25, covers: "gpt-4o", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1", perMTok: 25, covers: "gpt-4.1", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-mini", perMTok: 5, covers: "gpt-4.1-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-nano", perMTok: 1.5, covers: "gpt-4.1-nano", asOf: "2025-06", source: LIST },
  { match: "gpt-3.5-turbo", perMTok: 8, covers: "gpt-3.5-turbo", asOf: "2025-06", source: LIST },
];

/** USD per 1M tokens; `ft:` rows are the fine-tuned rates. */
export const OPENAI_INFERENCE_PRICES: readonly InferencePrice[] = [
  { match: "gpt-4o-mini", inputPerM: 0.15, outputPerM: 0.6, covers: "gpt-4o-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4o", inputPerM: 2.5, outputPerM: 10, covers: "gpt-4o", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1", inputPerM: 2, outputPerM: 8, covers: "gpt-4.1", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-mini", inputPerM: 0.4, outputPerM: 1.6, covers: "gpt-4.1-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-nano", inputPerM: 0.1, outputPerM: 0.4, covers: "gpt-4.1-nano", asOf: "2025-06", source: LIST },
  { match: "gpt-3.5-turbo", inputPerM: 0.5, outputPerM: 1.5, covers: "gpt-3.5-turbo", asOf: "2025-06", source: LIST },
];
export const OPENAI_FINE_TUNED_INFERENCE_PRICES: readonly InferencePrice[] = [
  { match: "gpt-4o-mini", inputPerM: 0.3, outputPerM: 1.2, covers: "fine-tuned gpt-4o-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4o", inputPerM: 3.75, outputPerM: 15, covers: "fine-tuned gpt-4o", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1", inputPerM: 3, outputPerM: 12, covers: "fine-tuned gpt-4.1", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-mini", inputPerM: 0.8, outputPerM: 3.2, covers: "fine-tuned gpt-4.1-mini", asOf: "2025-06", source: LIST },
  { match: "gpt-4.1-nano", inputPerM: 0.2, outputPerM: 0.8, covers: "fine-tuned gpt-4.1-nano", asOf: "2025-06", source: LIST },
  { match: "gpt-3.5-turbo", inputPerM: 3, outputPerM: 6, covers: "fine-tuned gpt-3.5-turbo", asOf: "2025-06", source: LIST },
];

const DEPRECATIONS = "platform.openai.com/docs/deprecations";

/**
 * Shutdown dates of the base models people fine-tuned (their fine-tunes stop with them). Used when the
 * models endpoint does not report a `shutdown_date` itself.
 */
export const OPENAI_RETIREMENTS: readonly Retirement[] = [
  { match: /^gpt-4o-mini(-2024-07-18)?$/, shutdownDate: "2027-01-14", covers: "gpt-4o-mini-2024-07-18", asOf: "2026-12-06", source: DEPRECATIONS },
  { match: /^gpt-4o(-2024-08-06|-2024-11-20)?$/, shutdownDate: "2027-01-14", covers: "gpt-4o (2024-08-06, 2024-11-20)", asOf: "2026-12-06", source: DEPRECATIONS },
  { match: /^gpt-4\.1(-mini)?(-2025-04-14)?$/, shutdownDate: "2027-01-14", covers: "gpt-4.1 and gpt-4.1-mini", asOf: "2026-12-06", source: DEPRECATIONS },
  { match: /^gpt-4\.1-nano(-2025-04-14)?$/, shutdownDate: "2026-10-23", covers: "gpt-4.1-nano", asOf: "2026-12-06", source: DEPRECATIONS },
];

/** From this day OpenAI creates no new fine-tuning jobs for anyone. */
export const OPENAI_NEW_JOBS_END = "2027-01-06";
