/**
 * The quick analysis behind `validate --quick`: structural checks plus real token counts (the
 * per-example limit, token statistics) without the duplicate, consistency and fact-injection analysis,
 * which costs far more per example than reading. For very large files and CI gates.
 */
import { xorshift32 } from "../../util/random.js";
import type { DatasetIssue, SourcedExample } from "../types.js";
import { createFeatureContext, type ExampleTokenCounter } from "../analysis/index.js";
import { describeNumbers, quantileSorted, type Distribution } from "../../util/distribution.js";
import type { DatasetAnalysis } from "./types.js";

/**
 * Exact count/min/max/sum/mean of integers, and quantiles from all values up to `capacity` (exactly
 * what describeNumbers gives) or from a uniform sample of that size beyond it: memory stays bounded
 * whatever the file size (4 bytes per kept value).
 */
export class BoundedIntStats {
  private values: Int32Array;
  private kept = 0;
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;
  private state = 88172645;
  constructor(private readonly capacity = 2_000_000) {
    this.values = new Int32Array(Math.min(capacity, 1024));
  }
  push(v: number): void {
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (this.kept < this.capacity) {
      if (this.kept === this.values.length) {
        const grown = new Int32Array(Math.min(this.capacity, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.kept++] = v;
      return;
    }
    this.state = xorshift32(this.state);
    const j = Math.floor((this.state / 4294967296) * this.count);
    if (j < this.capacity) this.values[j] = v;
  }
  describe(): Distribution {
    if (this.count <= this.capacity) return describeNumbers(this.values.subarray(0, this.kept));
    const sorted = Float64Array.from(this.values.subarray(0, this.kept)).sort();
    return {
      count: this.count,
      min: this.min,
      mean: this.sum / this.count,
      median: quantileSorted(sorted, 0.5),
      p5: quantileSorted(sorted, 0.05),
      p95: quantileSorted(sorted, 0.95),
      max: this.max,
      sum: this.sum,
    };
  }
}

/** What one example contributes (small and structured-clone-able, computed in workers). */
export interface QuickFeatures {
  line: number;
  messages: number;
  tokens?: number;
  assistantTokens?: number;
}

export function quickFeatures(ex: SourcedExample, countTokens: ExampleTokenCounter | undefined): QuickFeatures {
  const f: QuickFeatures = { line: ex.line, messages: ex.example.messages.length };
  if (countTokens) {
    const c = countTokens(ex.example);
    f.tokens = c.total;
    f.assistantTokens = c.assistant;
  }
  return f;
}

export class QuickAggregator {
  private readonly messages = new BoundedIntStats();
  private readonly tokens = new BoundedIntStats();
  private readonly assistant = new BoundedIntStats();
  private readonly issues: DatasetIssue[] = [];
  private overLimit = 0;
  private n = 0;
  constructor(private readonly opts: { tokenLimit?: number; model?: string; maxIssues?: number } = {}) {}

  add(f: QuickFeatures): void {
    this.n++;
    this.messages.push(f.messages);
    if (f.tokens === undefined) return;
    this.tokens.push(f.tokens);
    this.assistant.push(f.assistantTokens ?? 0);
    const limit = this.opts.tokenLimit;
    if (limit !== undefined && f.tokens > limit) {
      if (this.overLimit++ < (this.opts.maxIssues ?? 10_000)) {
        this.issues.push({
          line: f.line,
          code: "too_many_tokens",
          severity: "error",
          message: `example has ${f.tokens} tokens, over the ${limit}-token limit${this.opts.model ? ` of ${this.opts.model}` : ""} (it would be truncated)`,
          details: { tokens: f.tokens, limit },
        });
      }
    }
  }

  finish(): { issues: DatasetIssue[]; stats: Record<string, unknown> } {
    const stats: Record<string, unknown> = { analysis: "quick", messages: this.messages.describe() };
    if (this.opts.model !== undefined) {
      stats.tokenizerModel = this.opts.model;
      stats.tokens = this.tokens.describe();
      stats.assistantTokens = this.assistant.describe();
      stats.overTokenLimit = this.overLimit;
      if (this.opts.tokenLimit !== undefined) stats.tokenLimit = this.opts.tokenLimit;
    }
    return { issues: this.issues, stats };
  }
}

/** The quick analysis as a DatasetAnalysis for the in-thread path. */
export function createQuickAnalysis(options: { model?: string; tokenCounter?: ExampleTokenCounter; tokenLimit?: number } = {}): DatasetAnalysis {
  const ctx = createFeatureContext(options);
  const agg = new QuickAggregator({ tokenLimit: ctx.tokenLimit, model: options.model });
  return {
    add: (ex) => agg.add(quickFeatures(ex, ctx.countTokens)),
    finish: () => agg.finish(),
  };
}
