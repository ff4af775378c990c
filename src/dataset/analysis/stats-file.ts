/**
 * `tunekit stats` as a library function: reads a dataset, runs the analysis and adds what a user
 * deciding on a hosted run wants: token distributions with the model's real tokenizer, the default
 * epoch rule and the training cost, the reply shape and its outliers, system-prompt variants.
 */
import { readDataset, type ReadOptions } from "../reader.js";
import type { DatasetFormat, DatasetIssue } from "../types.js";
import type { ReplyShape } from "../../shape/index.js";
import { DatasetAggregator, type DatasetStats } from "./aggregate.js";
import { estimateHostedCost, type HostedCost } from "./cost.js";
import { extractFeatures } from "./features.js";
import { resolveFeatureContext } from "./feature-context.js";
import { ReplySampler, finalReply } from "./reply-sample.js";
import { DEFAULT_EXAMPLE_TOKEN_LIMIT, DEFAULT_TOKEN_MODEL } from "../../tokenize/limits.js";

/** Tokens are counted with this encoding, and checked against this limit, when no model is named. */
export const DEFAULT_STATS_MODEL = DEFAULT_TOKEN_MODEL;

export interface StatsOptions extends ReadOptions {
  /** Tokenizer model (OpenAI name, encoding, local folder or hub id; default o200k_base). */
  model?: string;
  /** Per-example token limit (default: the model's, or 32,768 without a model). */
  tokenLimit?: number;
  /** Training price in USD per 1M tokens for the hosted estimate (callers look it up in providers/catalog). */
  pricePerMTok?: number;
  /** When that price was read (YYYY-MM-DD). */
  pricesAsOf?: string;
  /** Epochs of the estimate (default: OpenAI's rule by dataset size). */
  epochs?: number;
  onProgress?: (p: { bytesRead: number; totalBytes: number; examples: number }) => void;
}

export interface StatsReport {
  file: string;
  format: DatasetFormat;
  records: number;
  examples: number;
  /** Records that could not be read as examples (see `tunekit validate`). */
  invalidRecords: number;
  model: string;
  stats: DatasetStats;
  replyShape: ReplyShape;
  hosted: HostedCost;
  /** format_outlier and length_outlier warnings (first 100), the consistency report's outliers. */
  outliers: { line: number; code: string; message: string }[];
}

export async function computeStats(file: string, options: StatsOptions = {}): Promise<StatsReport> {
  const model = options.model ?? DEFAULT_STATS_MODEL;
  const ctx = await resolveFeatureContext({ model, ...(options.tokenLimit !== undefined ? { tokenLimit: options.tokenLimit } : options.model === undefined ? { tokenLimit: DEFAULT_EXAMPLE_TOKEN_LIMIT } : {}) });
  const agg = new DatasetAggregator({ model, tokenLimit: ctx.tokenLimit });
  const sampler = new ReplySampler();
  const reader = readDataset(file, options);
  let examples = 0;
  let invalid = 0;
  for await (const batch of reader.batches()) {
    for (const r of batch) {
      if (!r.example) {
        if (r.issues.some((i) => i.severity === "error")) invalid++;
        continue;
      }
      examples++;
      agg.add(extractFeatures(r.example, ctx));
      const reply = finalReply(r.example);
      if (reply !== undefined) sampler.add(reply);
    }
    options.onProgress?.({ bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, examples });
  }
  const { issues, stats } = agg.finish();
  const limit = ctx.tokenLimit;
  // Billing counts each example up to the per-example limit (longer ones are truncated).
  const datasetTokens = stats.tokens ? Math.round(stats.tokens.sum - overLimitExcess(issues, limit)) : 0;
  const hosted = estimateHostedCost({
    examples,
    datasetTokens,
    model,
    ...(options.pricePerMTok !== undefined ? { pricePerMTok: options.pricePerMTok } : {}),
    ...(options.pricesAsOf !== undefined ? { pricesAsOf: options.pricesAsOf } : {}),
    ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
  });
  return {
    file,
    format: reader.format ?? "openai-chat",
    records: reader.records,
    examples,
    invalidRecords: invalid,
    model,
    stats,
    replyShape: sampler.shape(),
    hosted,
    outliers: issues
      .filter((i) => i.code === "format_outlier" || i.code === "length_outlier")
      .slice(0, 100)
      .map((i) => ({ line: i.line, code: i.code, message: i.message })),
  };
}

function overLimitExcess(issues: DatasetIssue[], limit: number | undefined): number {
  if (limit === undefined) return 0;
  let excess = 0;
  for (const i of issues) {
    if (i.code !== "too_many_tokens") continue;
    const t = Number(i.details?.tokens ?? 0);
    if (t > limit) excess += t - limit;
  }
  return excess;
}
