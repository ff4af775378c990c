/** Summary statistics of a list of numbers, as every tunekit report shows them. */

export interface Distribution {
  count: number;
  min: number;
  mean: number;
  median: number;
  p5: number;
  p95: number;
  max: number;
  sum: number;
}

/** Linear-interpolated quantile of an ascending-sorted array (q in [0, 1]). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function describeNumbers(values: ArrayLike<number>): Distribution {
  const n = values.length;
  if (n === 0) return { count: 0, min: 0, mean: 0, median: 0, p5: 0, p95: 0, max: 0, sum: 0 };
  return describeCounts(values) ?? describeSorted(Float64Array.from(values as ArrayLike<number>).sort());
}

function describeSorted(sorted: Float64Array): Distribution {
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  return {
    count: n,
    min: sorted[0],
    mean: sum / n,
    median: quantileSorted(sorted, 0.5),
    p5: quantileSorted(sorted, 0.05),
    p95: quantileSorted(sorted, 0.95),
    max: sorted[n - 1],
    sum,
  };
}

/**
 * The same statistics for small non-negative integers (token and message counts) from a count of each
 * value instead of a sort: linear time. A big file's report needs several such summaries of hundreds
 * of thousands of values, after all other work is done. Undefined for other data.
 */
function describeCounts(values: ArrayLike<number>): Distribution | undefined {
  const n = values.length;
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= COUNTING_LIMIT) || v !== Math.floor(v)) return undefined;
    if (v > max) max = v;
    sum += v;
  }
  if (max > 4 * n + 1024) return undefined; // sparse: sorting is cheaper than walking the counts
  const counts = new Int32Array(max + 1);
  for (let i = 0; i < n; i++) counts[values[i]]++;
  // The value at each sorted index quantileSorted() needs, found in one walk over the counts.
  const at = (q: number) => (n - 1) * q;
  const wanted = [0.05, 0.5, 0.95].flatMap((q) => [Math.floor(at(q)), Math.min(n - 1, Math.floor(at(q)) + 1)]);
  const order = [...new Set(wanted)].sort((a, b) => a - b);
  const valueAt = new Map<number, number>();
  let seen = 0;
  let k = 0;
  let min = -1;
  for (let v = 0; v <= max && k < order.length; v++) {
    const c = counts[v];
    if (c === 0) continue;
    if (min < 0) min = v;
    seen += c;
    while (k < order.length && order[k] < seen) valueAt.set(order[k++], v);
  }
  const quantile = (q: number) => {
    const pos = at(q);
    const lo = Math.floor(pos);
    const a = valueAt.get(lo)!;
    const b = valueAt.get(Math.min(n - 1, lo + 1))!;
    return a + (b - a) * (pos - lo);
  };
  return { count: n, min, mean: sum / n, median: quantile(0.5), p5: quantile(0.05), p95: quantile(0.95), max, sum };
}

const COUNTING_LIMIT = 1 << 22;

export interface HistogramBin {
  /** Inclusive lower edge. */
  from: number;
  /** Exclusive upper edge (inclusive for the last bin). */
  to: number;
  count: number;
}

/** Equal-width bins over [min, max] (integer edges when the data are integers). */
export function histogram(values: ArrayLike<number>, bins = 10): HistogramBin[] {
  const n = values.length;
  if (n === 0) return [];
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (!Number.isInteger(v)) integers = false;
  }
  if (min === max) return [{ from: min, to: max, count: n }];
  let width = (max - min) / bins;
  if (integers) width = Math.max(1, Math.ceil(width));
  const k = Math.max(1, Math.ceil((max - min) / width + (integers ? 1e-9 : 0)));
  const out: HistogramBin[] = [];
  for (let b = 0; b < k; b++) out.push({ from: min + b * width, to: min + (b + 1) * width, count: 0 });
  for (let i = 0; i < n; i++) {
    let b = Math.floor((values[i] - min) / width);
    if (b >= k) b = k - 1;
    out[b].count++;
  }
  return out;
}

/**
 * A growable typed array of numbers: compact per-example storage for big files. "f64" holds any
 * number (53-bit hashes too); "i32" halves the size for counts and ids.
 */
export class NumberColumn {
  private static readonly BLOCK = 65_536;
  private readonly blocks: (Float64Array | Int32Array)[] = [];
  private readonly type: "f64" | "i32";
  length = 0;
  /** `capacity` is accepted for compatibility; storage grows in fixed blocks (no doubling copies). */
  constructor(_capacity = 1024, type: "f64" | "i32" = "f64") {
    this.type = type;
  }
  push(v: number): void {
    const b = Math.floor(this.length / NumberColumn.BLOCK);
    if (b === this.blocks.length) this.blocks.push(this.type === "i32" ? new Int32Array(NumberColumn.BLOCK) : new Float64Array(NumberColumn.BLOCK));
    this.blocks[b][this.length % NumberColumn.BLOCK] = v;
    this.length++;
  }
  get(i: number): number {
    return this.blocks[Math.floor(i / NumberColumn.BLOCK)][i % NumberColumn.BLOCK];
  }
  /** All values in one array (a fresh copy when the column spans several blocks). */
  values(): Float64Array | Int32Array {
    if (this.blocks.length <= 1) return (this.blocks[0] ?? new Float64Array(0)).subarray(0, this.length);
    const out = this.type === "i32" ? new Int32Array(this.length) : new Float64Array(this.length);
    for (let b = 0; b < this.blocks.length; b++) {
      const start = b * NumberColumn.BLOCK;
      out.set(this.blocks[b].subarray(0, Math.min(NumberColumn.BLOCK, this.length - start)), start);
    }
    return out;
  }
}
