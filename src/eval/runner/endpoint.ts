/**
 * A model behind any OpenAI-compatible chat completions endpoint (OpenAI, Ollama, vLLM, llama.cpp
 * server), called through the official `openai` SDK. Retries live here rather than in the SDK so the
 * policy is explicit: 429 waits for the server's retry-after, 5xx / 408 / connection errors back off
 * exponentially with jitter, other 4xx fail at once. The API key is read from the environment by the
 * caller and only ever handed to the SDK.
 */
import OpenAI from "openai";
import type { ChatMessage } from "../../dataset/types.js";
import { redactSecret, toTrainerError } from "../../providers/errors.js";
import { costOf, type Generation, type GenerationParams, type ModelRunner, type Price } from "./types.js";

export interface EndpointRunnerOptions {
  /** e.g. "https://api.openai.com/v1", "http://127.0.0.1:11434/v1". */
  baseUrl: string;
  model: string;
  /** Display name. */
  label?: string;
  /** The key itself (read from env by the caller); endpoints without auth get a placeholder. */
  apiKey?: string;
  price?: Price;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff in ms, doubled each retry (default 500). */
  backoffMs?: number;
  /** Longest single wait, also for retry-after (default 60 s). */
  maxWaitMs?: number;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Replaceable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Told before each wait between attempts (for a progress line). */
  onRetry?: (info: { attempt: number; waitMs: number; error: string; errorCode: string }) => void;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const v = (headers as Record<string, unknown>)[name];
  return typeof v === "string" ? v : undefined;
}

/** The wait a 429/503 asks for, in ms: retry-after-ms, retry-after seconds, or retry-after HTTP date. */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  const ms = header(headers, "retry-after-ms");
  if (ms !== undefined && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = header(headers, "retry-after");
  if (ra === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) return Number(ra) * 1000;
  const t = Date.parse(ra);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

function retryable(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Message text without anything that could carry a secret (the key is masked should a server echo it). */
function describeError(e: unknown, secret: string | undefined): string {
  const text = e instanceof OpenAI.APIError ? (e.status ? `HTTP ${e.status}: ${e.message.replace(/^\d{3}\s*/, "")}` : e.message) : ((e as Error)?.message ?? String(e));
  return redactSecret(text, secret);
}

/** A JSON body that is not JSON surfaces from the SDK as a SyntaxError: the server's fault, like a 5xx. */
class BadResponse extends Error {}

/** The reply of a chat completion, or why the body is not one (an HTML error page answered with 200, ...). */
function readCompletion(res: unknown): { text: string; finishReason?: string; tokensIn: number; tokensOut: number } {
  const r = res as OpenAI.Chat.ChatCompletion | undefined;
  if (!r || typeof r !== "object" || !Array.isArray(r.choices)) {
    throw new BadResponse(`the server's answer is not a chat completion (${typeof res === "string" ? `text: ${JSON.stringify(res.slice(0, 80))}` : "no choices"})`);
  }
  const choice = r.choices[0];
  const content = choice?.message?.content;
  return {
    text: typeof content === "string" ? content : "",
    ...(typeof choice?.finish_reason === "string" ? { finishReason: choice.finish_reason } : {}),
    tokensIn: r.usage?.prompt_tokens ?? 0,
    tokensOut: r.usage?.completion_tokens ?? 0,
  };
}

/** The error's kind (auth, rate_limit, server, connection, ...) as the providers' errors name it. */
function errorCodeOf(e: unknown): string {
  if (e instanceof BadResponse || e instanceof SyntaxError) return "bad_response";
  return toTrainerError(e, "the endpoint").code;
}

export function endpointModelId(baseUrl: string, model: string): string {
  return `endpoint:${baseUrl.replace(/\/+$/, "")}|${model}`;
}

export function createEndpointRunner(options: EndpointRunnerOptions): ModelRunner {
  const client = new OpenAI({
    baseURL: options.baseUrl,
    apiKey: options.apiKey ?? "no-key",
    maxRetries: 0,
    timeout: options.timeoutMs ?? 120_000,
  });
  const sleep = options.sleep ?? defaultSleep;
  const maxRetries = options.maxRetries ?? 5;
  const backoff = options.backoffMs ?? 500;
  const maxWait = options.maxWaitMs ?? 60_000;

  return {
    id: endpointModelId(options.baseUrl, options.model),
    label: options.label ?? options.model,
    async generate(messages: ChatMessage[], params: GenerationParams): Promise<Generation> {
      let lastError = "";
      let lastCode = "unknown";
      let badBodies = 0;
      for (let attempt = 0; attempt <= maxRetries; attempt++) {
        const started = performance.now();
        try {
          const res = await client.chat.completions.create({
            model: options.model,
            messages: messages as OpenAI.Chat.ChatCompletionMessageParam[],
            temperature: params.temperature ?? 0,
            ...(params.maxTokens !== undefined ? { max_tokens: params.maxTokens } : {}),
            ...(params.topP !== undefined ? { top_p: params.topP } : {}),
            ...(params.seed !== undefined ? { seed: params.seed } : {}),
            ...(params.stop !== undefined ? { stop: params.stop } : {}),
          });
          const latencyMs = performance.now() - started;
          const { text, finishReason, tokensIn, tokensOut } = readCompletion(res);
          return { text, tokensIn, tokensOut, latencyMs, costUsd: costOf(options.price, tokensIn, tokensOut), ...(finishReason ? { finishReason } : {}) };
        } catch (e) {
          lastError = describeError(e, options.apiKey);
          lastCode = errorCodeOf(e);
          const status = e instanceof OpenAI.APIError ? e.status : undefined;
          // A body that is not a completion is retried once (a proxy's glitch), not for the whole backoff schedule.
          if (lastCode === "bad_response" && badBodies++ >= 1) break;
          if (!retryable(status) || attempt === maxRetries) break;
          const asked = e instanceof OpenAI.APIError ? retryAfterMs(e.headers) : undefined;
          const wait = Math.min(asked ?? backoff * 2 ** attempt * (0.75 + Math.random() * 0.5), maxWait);
          options.onRetry?.({ attempt: attempt + 1, waitMs: wait, error: lastError, errorCode: lastCode });
          await sleep(wait);
        }
      }
      return { text: "", tokensIn: 0, tokensOut: 0, latencyMs: 0, error: lastError, errorCode: lastCode };
    },
  };
}
