/**
 * The one interface every model is evaluated through: an OpenAI-compatible endpoint, a hosted
 * fine-tuned model, or the local engine. Failures come back as data (`error`), never as a throw, so
 * one bad call is a row in the report rather than a crashed evaluation.
 */
import type { ChatMessage } from "../../dataset/types.js";

export interface GenerationParams {
  /** 0 (default) for reproducible comparisons. */
  temperature?: number;
  maxTokens?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
}

export interface Generation {
  text: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  costUsd?: number;
  /** Set when the call failed for good (after retries); `text` is then "". */
  error?: string;
  /**
   * What kind of failure `error` is: auth, permission, not_found, invalid_request (HTTP 4xx), rate_limit,
   * server (429 / 5xx after retries), connection (unreachable, timed out, dropped), bad_response (the
   * server's answer is not a chat completion), prompt (this prompt cannot be run: longer than the
   * model's context), unknown.
   */
  errorCode?: string;
  /** Why generation ended, as the model reported it: "stop", "length" (hit maxTokens), ... */
  finishReason?: string;
  /** True when served from the generation cache. */
  cached?: boolean;
}

export interface ModelRunner {
  /** Stable identity for caching: what produces the text (endpoint + model, model folder + adapter). */
  id: string;
  /** Short display name. */
  label: string;
  generate(messages: ChatMessage[], params: GenerationParams): Promise<Generation>;
  /** Several prompts at once, when the runner batches better than it parallelises (the local engine). */
  generateBatch?(list: ChatMessage[][], params: GenerationParams): Promise<Generation[]>;
  /** Frees sessions or sockets. */
  close?(): Promise<void>;
}

/** USD per 1M tokens. */
export interface Price {
  inputPerM: number;
  outputPerM: number;
}

export function costOf(price: Price | undefined, tokensIn: number, tokensOut: number): number | undefined {
  if (!price) return undefined;
  return (tokensIn * price.inputPerM + tokensOut * price.outputPerM) / 1e6;
}
