/**
 * `validateFile`: reads a dataset, checks every record, runs the dataset-level analysis and returns one
 * report. Memory stays bounded on any file size: examples are not kept, only their small features
 * and at most `maxIssues` issues (the counts stay exact).
 *
 * This module picks where the work runs: a big JSONL file's full analysis in a coordinator thread with
 * a capped heap (in-coordinator.ts), otherwise in this process (run.ts: worker threads for big JSONL
 * files, this thread for the rest).
 */
import type { ExampleTokenCounter } from "../analysis/tokens.js";
import { validateInCoordinator } from "./in-coordinator.js";
import { parallelEligible, validateHere } from "./run.js";
import type { ValidateOptions, ValidationReport } from "./types.js";

export type { DatasetAnalysis, ReportIssue, ValidateOptions, ValidateProgress, ValidationReport } from "./types.js";
export { IssueCollector } from "./issues.js";

export async function validateFile(file: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  if (options.model === undefined && options.tokenCounter === undefined && options.analysis !== false) {
    // Without a model the documented default still counts every example and enforces a limit.
    const { DEFAULT_TOKEN_MODEL, DEFAULT_EXAMPLE_TOKEN_LIMIT } = await import("../../tokenize/limits.js");
    options = { ...options, model: DEFAULT_TOKEN_MODEL, tokenLimit: options.tokenLimit ?? DEFAULT_EXAMPLE_TOKEN_LIMIT };
  }
  if (options.model !== undefined && options.tokenCounter === undefined && options.analysis !== false) {
    options = { ...options, ...(await openModelCounting(options.model, options.tokenLimit)) };
  }
  const parallel = await parallelEligible(file, options);
  if (parallel && options.coordinator !== false && !options.quick && options.analysis === undefined) {
    const report = await validateInCoordinator(file, options);
    if (report) return report;
  }
  return validateHere(file, options, parallel);
}

/**
 * For an open model (a local Hugging Face folder or a hub id) the token counter renders each example
 * with the model's own chat template and encodes it with its tokenizer.json, and the limit is the
 * model's context length; OpenAI names give nothing here (the analysis counts those itself, also
 * inside worker threads).
 */
async function openModelCounting(model: string, tokenLimit: number | undefined): Promise<{ tokenCounter?: ExampleTokenCounter; tokenLimit?: number }> {
  const { isOpenAiModel } = await import("../analysis/tokens.js");
  if (isOpenAiModel(model)) return {};
  const { resolveFeatureContext } = await import("../analysis/feature-context.js");
  const ctx = await resolveFeatureContext({ model, ...(tokenLimit !== undefined ? { tokenLimit } : {}) });
  return { ...(ctx.countTokens ? { tokenCounter: ctx.countTokens } : {}), ...(ctx.tokenLimit !== undefined ? { tokenLimit: ctx.tokenLimit } : {}) };
}
