/** What validation takes and returns: its options, the report, progress and the analysis contract. */
import type { DatasetFormat, DatasetIssue, SourcedExample } from "../types.js";
import type { ReadOptions } from "../reader.js";
import type { NoteSummary } from "../notes.js";
import type { ExampleTokenCounter } from "../analysis/tokens.js";

export interface ReportIssue {
  line: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface ValidationReport {
  file: string;
  format: DatasetFormat;
  /** Examples without errors. */
  examples: number;
  /** Records read (valid or not, blank lines excluded). */
  records: number;
  errors: ReportIssue[];
  warnings: ReportIssue[];
  /** Exact totals, also when the lists were capped at `maxIssues`. */
  errorCount: number;
  warningCount: number;
  /** Issue counts per code (exact even when the lists are capped). */
  counts: { errors: Record<string, number>; warnings: Record<string, number> };
  /** True when the lists hold fewer issues than the counts (see maxIssues). */
  truncated: boolean;
  /** What converting to OpenAI chat drops or changes, per kind. */
  conversion: NoteSummary[];
  stats: Record<string, unknown>;
}

export interface ValidateProgress {
  bytesRead: number;
  totalBytes: number;
  examples: number;
}

/** Dataset-level analysis plugged into validation (per-example features, then one aggregate). */
export interface DatasetAnalysis {
  /** Called for each valid example, in file order. */
  add(example: SourcedExample): void;
  finish(): { issues: DatasetIssue[]; stats: Record<string, unknown> };
}

export interface ValidateOptions extends ReadOptions {
  /** Model whose tokenizer counts tokens (and whose per-example limit applies). */
  model?: string;
  /** Most issues kept per severity in the report (counts stay exact). Default 10,000. */
  maxIssues?: number;
  /** Dataset-level analysis; default: the built-in one when available. Pass `false` to skip. */
  analysis?: DatasetAnalysis | false;
  /** Counts tokens per example (overrides the counter `model` implies; open models get one automatically). */
  tokenCounter?: ExampleTokenCounter;
  /** Per-example token limit (default: the OpenAI model's training limit, or an open model's context length). */
  tokenLimit?: number;
  /** Structural checks and token counts only: skips duplicates, consistency and fact injection. */
  quick?: boolean;
  /** Worker threads for big JSONL files; 0 or 1 = validate in this thread. Default: CPU count (max 4). */
  workers?: number;
  /** Files smaller than this are validated in this thread. Default 16 MiB. */
  parallelMinBytes?: number;
  /**
   * Run a big file's full analysis in a coordinator thread with a capped heap (default true; see
   * coordinator.ts). Only applies where worker threads are used.
   */
  coordinator?: boolean;
  onProgress?: (p: ValidateProgress) => void;
}
