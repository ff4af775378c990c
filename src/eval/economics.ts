/**
 * What each model costs to run: tokens per call, cost per 1,000 calls (from a price table), latency,
 * and the call volume at which a fine-tune pays for itself (training cost / per-call savings).
 */
import type { Price } from "./runner/types.js";
import { inferencePrice } from "../providers/catalog.js";

/**
 * The inference price of a model id (USD per 1M tokens), undefined when unknown. Prices live with the
 * providers (src/providers/catalog.ts): OpenAI's names and their `ft:` fine-tunes anywhere; other
 * providers' models when `provider` names them. Override per model with price_in/price_out.
 */
export function lookupPrice(model: string, provider?: string): Price | undefined {
  const p = inferencePrice(model, provider);
  return p ? { inputPerM: p.inputPerM, outputPerM: p.outputPerM } : undefined;
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
