/**
 * Per-example token counts for dataset statistics and the per-example limit check, through the
 * tokenize area: OpenAI models with their real encoding and the cookbook's chat rule
 * (countChatTokensDetailed); open models can plug in a counter built from their tokenizer + template.
 */
import type { ChatExample } from "../types.js";
import { openAiEncodingForModel, openAiTokenizerForModel } from "../../tokenize/openai.js";
import { countChatTokensDetailed } from "../../tokenize/chatTokens.js";
import { fineTuneTokenLimit } from "../../tokenize/limits.js";

export interface ExampleTokenCounts {
  /** Tokens of the whole example as the model sees it. */
  total: number;
  /** Tokens of the assistant messages that are trained on (weight not 0). */
  assistant: number;
}

export type ExampleTokenCounter = (ex: ChatExample) => ExampleTokenCounts;

/** OpenAI's per-example training limit for `model` (undefined when unknown). */
export function openAiExampleTokenLimit(model: string): number | undefined {
  return fineTuneTokenLimit(model);
}

/** Whether `model` names something tunekit can count for OpenAI (a model or an encoding name). */
export function isOpenAiModel(model: string): boolean {
  return model === "o200k_base" || model === "cl100k_base" || openAiEncodingForModel(model) !== undefined;
}

/** A counter for an OpenAI model name; throws TunekitError("unknown_model") otherwise. */
export function openAiExampleTokenCounter(model: string): ExampleTokenCounter {
  const tok = openAiTokenizerForModel(model);
  return (ex) => {
    const c = countChatTokensDetailed(ex, tok);
    return { total: c.total, assistant: c.trainedAssistant };
  };
}
