/**
 * The generation loop: prefill the prompt, then sample one token at a time until EOS / a stop token,
 * a stop string, max new tokens or the end of the context. Stop strings are matched on the decoded
 * text, so a stop string split across tokens (or a token that holds a stop string plus more) is found,
 * and the returned text is cut right before it.
 */
import { TunekitError } from "../../util/errors.js";
import type { Tokenizer } from "../../tokenize/types.js";
import { SeededRng, sampleToken, type SamplingParams } from "./sampling.js";
import type { DecoderModel } from "./types.js";

export interface GenerationParams {
  /** New tokens at most (default 256). */
  maxTokens?: number;
  /** 0 = greedy (default). */
  temperature?: number;
  /** 0 = off (default). */
  topK?: number;
  /** 1 = off (default). */
  topP?: number;
  /** 1 = off (default). */
  repetitionPenalty?: number;
  /** PRNG seed for sampling (default 0, so runs are reproducible). */
  seed?: number;
  /** Stop strings: generation ends when the text contains one; the text is cut before it. */
  stop?: string[];
  /** Token ids that end generation; default: the tokenizer's stop tokens and the config's EOS ids. */
  stopTokenIds?: number[];
}

export type FinishReason = "stop" | "length" | "context";

export interface GenerationTimings {
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
  /** Prompt tokens per second of prefill. */
  prefillTokensPerSecond: number;
  /** Generated tokens per second after the first. */
  decodeTokensPerSecond: number;
}

export interface GenerationResult {
  text: string;
  /** Generated ids (a final stop token included). */
  tokens: number[];
  promptTokens: number;
  completionTokens: number;
  /** stop: EOS / stop token / stop string; length: max tokens; context: the model's context is full. */
  finishReason: FinishReason;
  /** The stop string or token id that ended generation. */
  stoppedBy?: string | number;
  timings: GenerationTimings;
}

export const GENERATION_DEFAULTS = { maxTokens: 256, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 } as const;

/** Checks parameter ranges; throws a usage TunekitError naming the bad one. */
export function validateGenerationParams(p: GenerationParams): void {
  const bad = (name: string, why: string) =>
    new TunekitError("usage", `${name} ${why}`, { hint: "see `tunekit generate --help`" });
  if (p.maxTokens !== undefined && (!Number.isInteger(p.maxTokens) || p.maxTokens < 0)) throw bad("max tokens", "must be an integer >= 0");
  if (p.temperature !== undefined && !(p.temperature >= 0)) throw bad("temperature", "must be >= 0");
  if (p.topK !== undefined && (!Number.isInteger(p.topK) || p.topK < 0)) throw bad("top-k", "must be an integer >= 0");
  if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) throw bad("top-p", "must be in (0, 1]");
  if (p.repetitionPenalty !== undefined && !(p.repetitionPenalty > 0)) throw bad("repetition penalty", "must be > 0");
  if (p.stop?.some((s) => s === "")) throw bad("stop string", "must not be empty");
}

/** The default stop ids: the tokenizer's (EOS, end-of-turn) and config.json's eos_token_id. */
export function defaultStopTokenIds(model: DecoderModel, tokenizer: Pick<Tokenizer, "stopTokenIds" | "eosTokenId">): number[] {
  const ids = new Set<number>(tokenizer.stopTokenIds);
  if (tokenizer.eosTokenId !== undefined) ids.add(tokenizer.eosTokenId);
  const eos = model.config.eosTokenId;
  for (const id of Array.isArray(eos) ? eos : eos !== undefined ? [eos] : []) ids.add(id);
  return [...ids];
}

/** Earliest occurrence of any stop string in `text` at or after `from`. */
export function findStop(text: string, stops: string[], from: number): { index: number; stop: string } | undefined {
  let best: { index: number; stop: string } | undefined;
  for (const s of stops) {
    const i = text.indexOf(s, Math.max(0, from));
    if (i >= 0 && (!best || i < best.index)) best = { index: i, stop: s };
  }
  return best;
}

export interface GenerationHooks {
  /** Each sampled token of each row, as it is chosen (stop tokens included). */
  onToken?: (row: number, id: number) => void;
  /** After every decoding step, with the number of steps so far. */
  onStep?: (steps: number) => void;
}

interface RowState {
  out: number[];
  seen: number[];
  text: string;
  rng: SeededRng;
  done: boolean;
  finishReason: FinishReason;
  stoppedBy?: string | number;
}

/**
 * Generates completions for a batch of already-tokenised prompts, decoding all rows together. Each
 * row has its own PRNG seeded with `seed`, so a prompt gets the same completion alone or in a batch
 * (up to float rounding). Timings are the batch's.
 */
export async function generateBatchFromIds(
  model: DecoderModel,
  tokenizer: Pick<Tokenizer, "decode" | "stopTokenIds" | "eosTokenId">,
  prompts: number[][],
  params: GenerationParams = {},
  hooks: GenerationHooks = {},
): Promise<GenerationResult[]> {
  validateGenerationParams(params);
  if (prompts.length === 0) return [];
  const maxTokens = params.maxTokens ?? GENERATION_DEFAULTS.maxTokens;
  const sampling: SamplingParams = {
    temperature: params.temperature ?? GENERATION_DEFAULTS.temperature,
    topK: params.topK ?? GENERATION_DEFAULTS.topK,
    topP: params.topP ?? GENERATION_DEFAULTS.topP,
    repetitionPenalty: params.repetitionPenalty ?? GENERATION_DEFAULTS.repetitionPenalty,
  };
  for (const p of prompts) {
    if (p.length === 0) {
      throw new TunekitError("empty_prompt", "the prompt is empty and the model has no BOS token to start from", {
        hint: "give a non-empty prompt",
      });
    }
    if (p.length >= model.maxContext) {
      throw new TunekitError(
        "prompt_too_long",
        `the prompt is ${p.length} tokens, but the model's context holds ${model.maxContext} (and generation needs at least one more)`,
        { hint: "shorten the prompt", exitCode: 1 },
      );
    }
  }
  const stopIds = new Set(params.stopTokenIds ?? defaultStopTokenIds(model, tokenizer));
  const stops = params.stop ?? [];
  const longestStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
  const rows: RowState[] = prompts.map((p) => ({
    out: [],
    seen: [...p],
    text: "",
    rng: new SeededRng(params.seed ?? GENERATION_DEFAULTS.seed),
    done: maxTokens === 0,
    finishReason: "length",
  }));
  const t0 = performance.now();
  let prefillMs = 0;
  let decodeMs = 0;
  if (maxTokens > 0) {
    const { logits: first, batch } = await model.start(prompts);
    prefillMs = performance.now() - t0;
    const tDecode = performance.now();
    // A token every finished row keeps feeding so the batch stays rectangular; its logits are ignored.
    const filler = [...stopIds][0] ?? 0;
    try {
      let logits = first;
      for (let step = 0; ; step++) {
        const fed: number[] = [];
        rows.forEach((r, b) => {
          if (r.done) return void fed.push(filler);
          const id = sampleToken(logits[b], sampling, r.rng, r.seen);
          r.out.push(id);
          r.seen.push(id);
          fed.push(id);
          hooks.onToken?.(b, id);
          if (stopIds.has(id)) {
            r.done = true;
            r.finishReason = "stop";
            r.stoppedBy = id;
            return;
          }
          if (stops.length > 0) {
            const prevLen = r.text.length;
            r.text = tokenizer.decode(r.out, { skipSpecialTokens: true });
            const hit = findStop(r.text, stops, prevLen - longestStop);
            if (hit) {
              r.text = r.text.slice(0, hit.index);
              r.done = true;
              r.finishReason = "stop";
              r.stoppedBy = hit.stop;
              return;
            }
          }
          if (r.out.length >= maxTokens) r.done = true;
        });
        hooks.onStep?.(step + 1);
        if (rows.every((r) => r.done)) break;
        if (batch.length >= model.maxContext) {
          for (const r of rows) {
            if (!r.done) {
              r.done = true;
              r.finishReason = "context";
            }
          }
          break;
        }
        logits = await batch.next(fed);
      }
    } finally {
      batch.release();
    }
    decodeMs = performance.now() - tDecode;
  }
  const generated = rows.reduce((n, r) => n + r.out.length, 0);
  const timings: GenerationTimings = {
    prefillMs,
    decodeMs,
    totalMs: prefillMs + decodeMs,
    prefillTokensPerSecond: prefillMs > 0 ? (prompts.reduce((n, p) => n + p.length, 0) / prefillMs) * 1000 : 0,
    decodeTokensPerSecond: decodeMs > 0 && generated > rows.length ? ((generated - rows.length) / decodeMs) * 1000 : 0,
  };
  return rows.map((r, b) => {
    if (typeof r.stoppedBy !== "string") {
      const ids = r.stoppedBy !== undefined ? r.out.slice(0, -1) : r.out;
      r.text = tokenizer.decode(ids, { skipSpecialTokens: true });
    }
    return {
      text: r.text,
      tokens: r.out,
      promptTokens: prompts[b].length,
      completionTokens: r.out.length,
      finishReason: r.finishReason,
      ...(r.stoppedBy !== undefined ? { stoppedBy: r.stoppedBy } : {}),
      timings,
    };
  });
}

/** Generates a completion for one already-tokenised prompt. */
export async function generateFromIds(
  model: DecoderModel,
  tokenizer: Pick<Tokenizer, "decode" | "stopTokenIds" | "eosTokenId">,
  promptIds: number[],
  params: GenerationParams = {},
  hooks: GenerationHooks = {},
): Promise<GenerationResult> {
  return (await generateBatchFromIds(model, tokenizer, [promptIds], params, hooks))[0];
}
