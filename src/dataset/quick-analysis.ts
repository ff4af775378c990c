/**
 * The quick analysis behind `validate --quick`: structural checks plus real token counts (the
 * per-example limit, token statistics) without the duplicate, consistency and fact-injection analysis,
 * which costs far more per example than reading. For very large files and CI gates.
 */
import type { DatasetIssue, SourcedExample } from "./types.js";
import type { DatasetAnalysis } from "./validate.js";
import { createFeatureContext, type ExampleTokenCounter } from "./analysis/index.js";
import { describeNumbers, NumberColumn } from "./analysis/distribution.js";

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
  private readonly messages = new NumberColumn();
  private readonly tokens = new NumberColumn();
  private readonly assistant = new NumberColumn();
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
    const stats: Record<string, unknown> = { analysis: "quick", messages: describeNumbers(this.messages.values()) };
    if (this.opts.model !== undefined) {
      stats.tokenizerModel = this.opts.model;
      stats.tokens = describeNumbers(this.tokens.values());
      stats.assistantTokens = describeNumbers(this.assistant.values());
      stats.overTokenLimit = this.overLimit;
      if (this.opts.tokenLimit !== undefined) stats.tokenLimit = this.opts.tokenLimit;
    }
    return { issues: this.issues, stats };
  }
}

/** The quick analysis as a DatasetAnalysis for the in-thread path. */
export function createQuickAnalysis(options: { model?: string; tokenCounter?: ExampleTokenCounter } = {}): DatasetAnalysis {
  const ctx = createFeatureContext(options);
  const agg = new QuickAggregator({ tokenLimit: ctx.tokenLimit, model: options.model });
  return {
    add: (ex) => agg.add(quickFeatures(ex, ctx.countTokens)),
    finish: () => agg.finish(),
  };
}
