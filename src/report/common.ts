/** What every report format shares: which metric leads, which models compare, per-example deltas. */
import type { EvalResult, ModelResult } from "../eval/evaluate.js";
import { HEADLINE_ORDER, PER_EXAMPLE_METRICS, type PerExampleMetric } from "../eval/metrics.js";

/** The metric that sorts examples: format compliance when the references have a format, else facts, else chrF. */
export function primaryMetric(r: EvalResult): PerExampleMetric {
  for (const m of HEADLINE_ORDER) {
    if (r.models.some((x) => typeof x.aggregate[m] === "number")) return m;
  }
  return "chrf";
}

/** Metrics that have a value for at least one model, in headline order, plus length ratio. */
export function shownMetrics(r: EvalResult): PerExampleMetric[] {
  return [...HEADLINE_ORDER, "length_ratio" as const].filter((m) => r.models.some((x) => typeof x.aggregate[m] === "number"));
}

export function metricLabel(m: string): string {
  return (PER_EXAMPLE_METRICS as Record<string, { label: string }>)[m]?.label ?? m.replace(/_/g, " ");
}

export { headlineComparisons, headlineBreakEven } from "../eval/evaluate.js";

/** Per example: candidate (last model) minus baseline (first) on the primary metric, chrF breaking ties. */
export function exampleDeltas(r: EvalResult): { index: number; delta: number; tie: number }[] {
  const base = r.models[0];
  const cand = r.models[r.models.length - 1];
  const pm = primaryMetric(r);
  return r.items.map((_, i) => {
    const d = (m: ModelResult, k: PerExampleMetric) => m.examples[i].scores[k];
    const a = d(cand, pm);
    // With a single model there is nothing to regress from: its failures (score below full marks) come first.
    const b = r.models.length === 1 ? (a === null ? null : 1) : d(base, pm);
    const tieBase = r.models.length === 1 ? 1 : (d(base, "chrf") ?? 0);
    return { index: i, delta: a !== null && b !== null ? a - b : 0, tie: (d(cand, "chrf") ?? 0) - tieBase };
  });
}

/** Example order for the side-by-side view: worst regressions first. */
export function worstFirst(r: EvalResult): number[] {
  return exampleDeltas(r)
    .sort((x, y) => x.delta - y.delta || x.tie - y.tie || x.index - y.index)
    .map((x) => x.index);
}

export function pts(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? "n/a" : (v * 100).toFixed(digits);
}

export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined) return "n/a";
  if (v === 0) return "$0";
  return v < 0.01 ? `$${v.toPrecision(2)}` : `$${v.toFixed(2)}`;
}
