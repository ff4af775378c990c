/**
 * Paired bootstrap comparisons: two models scored on the same examples; resample the examples with
 * replacement (seeded, so a report is reproducible), take the mean difference each time, and read the
 * 95% interval off the percentiles. The verdict says "beats" only when the interval excludes zero.
 */
import { seededRandom } from "../util/random.js";

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
  /** Two-sided confidence level (default 0.95). */
  confidence?: number;
}

export interface PairedInterval {
  /** Mean of a - b over the examples both scored. */
  delta: number;
  low: number;
  high: number;
  /** Examples used (pairs where both scores are numbers). */
  n: number;
  meanA: number;
  meanB: number;
}

/** Percentile with linear interpolation between order statistics (numpy's default). */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Paired bootstrap of mean(a) - mean(b). Pairs with a null on either side are dropped (a metric that
 * does not apply to an example). Returns null when no pair remains.
 */
export function pairedBootstrap(
  a: (number | null)[],
  b: (number | null)[],
  options: BootstrapOptions = {},
): PairedInterval | null {
  if (a.length !== b.length) throw new Error(`paired bootstrap needs equal lengths (${a.length} vs ${b.length})`);
  const diffs: number[] = [];
  let sumA = 0;
  let sumB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) continue;
    diffs.push(x - y);
    sumA += x;
    sumB += y;
  }
  const n = diffs.length;
  if (n === 0) return null;
  const resamples = options.resamples ?? 2000;
  const rand = seededRandom(options.seed ?? 1234);
  const means = new Array<number>(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += diffs[Math.floor(rand() * n)];
    means[r] = s / n;
  }
  means.sort((x, y) => x - y);
  const alpha = 1 - (options.confidence ?? 0.95);
  return {
    delta: (sumA - sumB) / n,
    low: percentile(means, alpha / 2),
    high: percentile(means, 1 - alpha / 2),
    n,
    meanA: sumA / n,
    meanB: sumB / n,
  };
}

export type VerdictKind = "better" | "worse" | "no_clear_difference";

export interface Verdict {
  kind: VerdictKind;
  text: string;
}

export interface VerdictOptions {
  /** Metric name for the sentence, e.g. "format compliance". */
  metric: string;
  /** True for metrics where smaller is better (latency, cost). */
  lowerIsBetter?: boolean;
  /** How to print a delta: points (x100, default) or a raw value with a unit. */
  unit?: "points" | { suffix: string; digits: number; scale?: number };
}

function fmt(v: number, unit: VerdictOptions["unit"], signed: boolean, digits: number): string {
  let s: string;
  if (unit === undefined || unit === "points") s = (v * 100).toFixed(digits);
  else s = (v * (unit.scale ?? 1)).toFixed(unit.digits);
  if (/^-0(\.0+)?$/.test(s)) s = s.slice(1);
  return signed && !s.startsWith("-") ? `+${s}` : s;
}

/** "tuned beats base on format compliance by +41 points [35, 47]" or "no clear difference ...". */
export function verdictText(nameA: string, nameB: string, ci: PairedInterval, options: VerdictOptions): Verdict {
  const unitWord = options.unit === undefined || options.unit === "points" ? " points" : options.unit.suffix;
  // One decimal when any of the three numbers is small (under 10 points), so they read alike.
  const digits = [ci.delta, ci.low, ci.high].some((v) => v !== 0 && Math.abs(v * 100) < 9.95) ? 1 : 0;
  const interval = `[${fmt(ci.low, options.unit, false, digits)}, ${fmt(ci.high, options.unit, false, digits)}]`;
  const delta = `${fmt(ci.delta, options.unit, true, digits)}${unitWord}`;
  const aHigher = ci.low > 0;
  const bHigher = ci.high < 0;
  if (!aHigher && !bHigher) {
    return {
      kind: "no_clear_difference",
      text: `no clear difference between ${nameA} and ${nameB} on ${options.metric} (${delta} ${interval}, n=${ci.n})`,
    };
  }
  const aWins = options.lowerIsBetter ? bHigher : aHigher;
  const verb = aWins ? "beats" : "is worse than";
  return { kind: aWins ? "better" : "worse", text: `${nameA} ${verb} ${nameB} on ${options.metric} by ${delta} ${interval}` };
}
