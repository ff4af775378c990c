/**
 * Builds the FeatureContext from plain options (so a worker thread can build its own): the token
 * counter and per-example limit of the chosen model. Kept apart from features.ts because loading the
 * tokenizers takes a moment that split and leakage do not need to pay.
 */
import type { FeatureContext } from "./features.js";
import { isOpenAiModel, openAiExampleTokenCounter, openAiExampleTokenLimit, type ExampleTokenCounter } from "./tokens.js";
import { TunekitError } from "../../util/errors.js";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

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
        hint: "use an OpenAI model or encoding name (e.g. o200k_base); open models (a model folder or hub id) need resolveFeatureContext",
      });
    }
    countTokens = openAiExampleTokenCounter(options.model);
  }
  const tokenLimit = options.tokenLimit ?? (options.model !== undefined ? openAiExampleTokenLimit(options.model) : undefined);
  return { model: options.model, countTokens, tokenLimit };
}


/**
 * Like createFeatureContext, for any `--model` tunekit can tokenize: OpenAI names as above, and open
 * models (a local Hugging Face folder or a hub id) counted by rendering their chat template with their
 * own tokenizer.json. The per-example limit of an open model is its context length
 * (max_position_embeddings in config.json) unless `tokenLimit` is given.
 */
export async function resolveFeatureContext(options: FeatureOptions & { offline?: boolean } = {}): Promise<FeatureContext> {
  if (options.tokenCounter || options.model === undefined || isOpenAiModel(options.model)) return createFeatureContext(options);
  const { resolveTokenizer } = await import("../../tokenize/resolve.js");
  const { chatTemplateFor } = await import("../../tokenize/chatTemplate.js");
  const { templateTokenCounter } = await import("../../tokenize/templateCount.js");
  const tok = await resolveTokenizer(options.model, { offline: options.offline });
  const template = chatTemplateFor(tok);
  return {
    model: options.model,
    countTokens: templateTokenCounter(tok, template),
    tokenLimit: options.tokenLimit ?? contextLength(options.model),
  };
}

function contextLength(model: string): number | undefined {
  const config = join(model, "config.json");
  if (!existsSync(config)) return undefined;
  try {
    const v = JSON.parse(readFileSync(config, "utf8")) as { max_position_embeddings?: unknown };
    return typeof v.max_position_embeddings === "number" ? v.max_position_embeddings : undefined;
  } catch {
    return undefined;
  }
}
