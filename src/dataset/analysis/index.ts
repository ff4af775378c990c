/**
 * Dataset analysis for library users: `analyzeExamples` runs features + aggregation over examples in
 * memory. Streaming callers (validate, stats) call extractFeatures per example and feed a
 * DatasetAggregator themselves.
 */
import type { SourcedExample } from "../types.js";
import { inferReplyShape, type ReplyShape } from "../../shape/index.js";
import { DatasetAggregator, type AggregatorOptions, type AnalysisResult } from "./aggregate.js";
import { extractFeatures } from "./features.js";
import { createFeatureContext, type FeatureOptions } from "./feature-context.js";

export * from "./aggregate.js";
export * from "./features.js";
export * from "./feature-context.js";
export * from "./facts.js";
export * from "./cost.js";
export * from "../../util/distribution.js";
export * from "./tokens.js";
export { ReplySampler, finalReply } from "./reply-sample.js";
import { ReplySampler, finalReply } from "./reply-sample.js";

export interface AnalyzeOptions extends FeatureOptions, Omit<AggregatorOptions, "tokenLimit"> {}

export interface FullAnalysis extends AnalysisResult {
  /** The reply shape inferred from (a sample of) the final replies, with JSON schema / template. */
  replyShape: ReplyShape;
}

export function analyzeExamples(examples: SourcedExample[], options: AnalyzeOptions = {}): FullAnalysis {
  const ctx = createFeatureContext(options);
  const agg = new DatasetAggregator({ ...options, tokenLimit: ctx.tokenLimit });
  const replies: string[] = [];
  for (const ex of examples) {
    agg.add(extractFeatures(ex, ctx));
    const r = finalReply(ex);
    if (r !== undefined) replies.push(r);
  }
  return { ...agg.finish(), replyShape: inferReplyShape(replies) };
}

/**
 * The analysis `validateFile` plugs in (its DatasetAnalysis contract): features per example, one
 * aggregate, and the reply shape from a bounded sample of replies. Stats include `replyShape`.
 */
export function createDatasetAnalysis(options: AnalyzeOptions = {}): {
  add(example: SourcedExample): void;
  finish(): { issues: AnalysisResult["issues"]; stats: Record<string, unknown> };
} {
  const ctx = createFeatureContext(options);
  const agg = new DatasetAggregator({ ...options, tokenLimit: ctx.tokenLimit });
  const sampler = new ReplySampler();
  return {
    add(example) {
      agg.add(extractFeatures(example, ctx));
      const r = finalReply(example);
      if (r !== undefined) sampler.add(r);
    },
    finish() {
      const res = agg.finish();
      return { issues: res.issues, stats: { ...res.stats, replyShape: sampler.shape() } as unknown as Record<string, unknown> };
    },
  };
}

export { computeStats, DEFAULT_STATS_MODEL, type StatsOptions, type StatsReport } from "./stats-file.js";
