/**
 * What each model costs to run: tokens per call, cost per 1,000 calls (from a price table), latency,
 * and the call volume at which a fine-tune pays for itself (training cost / per-call savings).
 */
import type { Price } from "./runner/types.js";

/**
 * USD per 1M tokens for common OpenAI models (public list prices, 2025; override with
 * price_in/price_out on --model). Fine-tuned models ("ft:BASE:...") use the fine-tuned rates.
 */
export const PRICE_TABLE: Record<string, Price> = {
  "gpt-4o-mini": { inputPerM: 0.15, outputPerM: 0.6 },
  "gpt-4o": { inputPerM: 2.5, outputPerM: 10 },
  "gpt-4.1": { inputPerM: 2, outputPerM: 8 },
  "gpt-4.1-mini": { inputPerM: 0.4, outputPerM: 1.6 },
  "gpt-4.1-nano": { inputPerM: 0.1, outputPerM: 0.4 },
  "gpt-3.5-turbo": { inputPerM: 0.5, outputPerM: 1.5 },
  "ft:gpt-4o-mini": { inputPerM: 0.3, outputPerM: 1.2 },
  "ft:gpt-4o": { inputPerM: 3.75, outputPerM: 15 },
  "ft:gpt-4.1": { inputPerM: 3, outputPerM: 12 },
  "ft:gpt-4.1-mini": { inputPerM: 0.8, outputPerM: 3.2 },
  "ft:gpt-4.1-nano": { inputPerM: 0.2, outputPerM: 0.8 },
  "ft:gpt-3.5-turbo": { inputPerM: 3, outputPerM: 6 },
};

/** Training price, USD per 1M trained tokens (tokens x epochs). */
export const TRAINING_PRICE_TABLE: Record<string, number> = {
  "gpt-4o-mini": 3,
  "gpt-4o": 25,
  "gpt-4.1": 25,
  "gpt-4.1-mini": 5,
  "gpt-4.1-nano": 1.5,
  "gpt-3.5-turbo": 8,
};

/** The list price of a hosted model id, undefined when unknown. Dated snapshots match their family. */
export function lookupPrice(model: string): Price | undefined {
  let key = model;
  if (model.startsWith("ft:")) key = "ft:" + model.slice(3).split(":")[0];
  key = key.replace(/-\d{4}-\d{2}-\d{2}$/, "");
  return PRICE_TABLE[key];
}

export interface UsageRecord {
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  costUsd?: number;
  error?: string;
}

export interface ModelEconomics {
  calls: number;
  failedCalls: number;
  meanTokensIn: number;
  meanTokensOut: number;
  /** null when the model has no price. */
  costPer1kCalls: number | null;
  latencyMsP50: number;
  latencyMsP95: number;
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.ceil(pos)] - s[lo]) * (pos - lo);
}

export function summarizeUsage(records: UsageRecord[], price?: Price): ModelEconomics {
  const ok = records.filter((r) => !r.error);
  const n = ok.length;
  const meanIn = n ? ok.reduce((s, r) => s + r.tokensIn, 0) / n : 0;
  const meanOut = n ? ok.reduce((s, r) => s + r.tokensOut, 0) / n : 0;
  return {
    calls: records.length,
    failedCalls: records.length - n,
    meanTokensIn: meanIn,
    meanTokensOut: meanOut,
    costPer1kCalls: price ? ((meanIn * price.inputPerM + meanOut * price.outputPerM) / 1e6) * 1000 : null,
    latencyMsP50: quantile(ok.map((r) => r.latencyMs), 0.5),
    latencyMsP95: quantile(ok.map((r) => r.latencyMs), 0.95),
  };
}

export interface BreakEven {
  /** Saved per 1,000 calls by the tuned model (negative: it costs more). */
  savingsPer1kCalls: number;
  trainingCostUsd: number;
  /** Calls after which training has paid for itself; null when it never does. */
  calls: number | null;
  text: string;
}

export function breakEven(trainingCostUsd: number, baselineCostPer1k: number, tunedCostPer1k: number, names = { baseline: "the baseline", tuned: "the tuned model" }): BreakEven {
  const savings = baselineCostPer1k - tunedCostPer1k;
  if (savings <= 0) {
    return {
      savingsPer1kCalls: savings,
      trainingCostUsd,
      calls: null,
      text: `${names.tuned} costs ${savings === 0 ? "the same as" : "more per call than"} ${names.baseline}, so training never pays for itself on cost alone`,
    };
  }
  const calls = Math.ceil((trainingCostUsd / savings) * 1000);
  return {
    savingsPer1kCalls: savings,
    trainingCostUsd,
    calls,
    text: `training ($${trainingCostUsd.toFixed(2)}) pays for itself after ${calls.toLocaleString("en-US")} calls ($${savings.toFixed(4)} saved per 1,000 calls against ${names.baseline})`,
  };
}
