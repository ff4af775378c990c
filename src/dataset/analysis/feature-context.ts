/**
 * Builds the FeatureContext from plain options (so a worker thread can build its own): the token
 * counter and per-example limit of the chosen model. Kept apart from features.ts because loading the
 * tokenizers takes a moment that split and leakage do not need to pay.
 */
import type { FeatureContext } from "./features.js";
import { isOpenAiModel, openAiExampleTokenCounter, openAiExampleTokenLimit, type ExampleTokenCounter } from "./tokens.js";
import { TunekitError } from "../../util/errors.js";

export interface FeatureOptions {
  /** OpenAI model or encoding name for token counts (open models: pass `tokenCounter`). */
  model?: string;
  /** Overrides the counter derived from `model`. */
  tokenCounter?: ExampleTokenCounter;
  /** Per-example token limit; defaults to the OpenAI model's training limit. */
  tokenLimit?: number;
}

/** Builds the context from plain options (works inside a worker thread). */
export function createFeatureContext(options: FeatureOptions = {}): FeatureContext {
  let countTokens = options.tokenCounter;
  if (!countTokens && options.model !== undefined) {
    if (!isOpenAiModel(options.model)) {
      throw new TunekitError("unknown_model", `cannot count tokens for model "${options.model}"`, {
        hint: "use an OpenAI model name (e.g. gpt-4o-mini-2024-07-18) or pass a token counter for open models",
      });
    }
    countTokens = openAiExampleTokenCounter(options.model);
  }
  const tokenLimit = options.tokenLimit ?? (options.model !== undefined ? openAiExampleTokenLimit(options.model) : undefined);
  return { model: options.model, countTokens, tokenLimit };
}

