/**
 * `validateFile`: reads a dataset, checks every record, runs the dataset-level analysis and returns one
 * report. Memory stays bounded on any file size: examples are not kept, only their small features
 * and at most `maxIssues` issues (the counts stay exact).
 */
import type { DatasetFormat, DatasetIssue, SourcedExample } from "./types.js";
import { readDataset, type DatasetRecord, type ReadOptions } from "./reader.js";
import { NoteCounter, type NoteSummary } from "./notes.js";

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
  onProgress?: (p: ValidateProgress) => void;
}

/** Collects issues with a cap per severity and exact counts. */
export class IssueCollector {
  readonly errors: ReportIssue[] = [];
  readonly warnings: ReportIssue[] = [];
  errorCount = 0;
  warningCount = 0;
  readonly counts: { errors: Record<string, number>; warnings: Record<string, number> } = { errors: {}, warnings: {} };
  constructor(private readonly max: number) {}

  add(i: DatasetIssue): void {
    const counts = i.severity === "error" ? this.counts.errors : this.counts.warnings;
    counts[i.code] = (counts[i.code] ?? 0) + 1;
    const r: ReportIssue = { line: i.line, code: i.code, message: i.message };
    if (i.details) r.details = i.details;
    if (i.severity === "error") {
      if (this.errorCount++ < this.max) this.errors.push(r);
    } else if (this.warningCount++ < this.max) this.warnings.push(r);
  }

  get truncated(): boolean {
    return this.errors.length < this.errorCount || this.warnings.length < this.warningCount;
  }

  /** Sorts by line (stable: issues of one line keep their order). */
  sort(): void {
    this.errors.sort((a, b) => a.line - b.line);
    this.warnings.sort((a, b) => a.line - b.line);
  }
}

export async function validateFile(file: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const reader = readDataset(file, options);
  const issues = new IssueCollector(options.maxIssues ?? 10_000);
  const notes = new NoteCounter();
  const analysis = options.analysis === false ? undefined : (options.analysis ?? (await defaultAnalysis(options)));
  let examples = 0;
  const handle = (r: DatasetRecord) => {
    for (const i of r.issues) issues.add(i);
    if (r.example) {
      examples++;
      for (const n of r.notes) notes.add(n, r.line);
      analysis?.add(r.example);
    }
  };
  for await (const batch of reader.batches()) {
    for (const r of batch) handle(r);
    options.onProgress?.({ bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, examples });
  }
  let stats: Record<string, unknown> = { records: reader.records, examples, bytes: reader.totalBytes };
  if (analysis) {
    const a = analysis.finish();
    for (const i of a.issues) issues.add(i);
    stats = { ...stats, ...a.stats };
  }
  issues.sort();
  return {
    file,
    format: reader.format ?? "openai-chat",
    examples,
    records: reader.records,
    errors: issues.errors,
    warnings: issues.warnings,
    errorCount: issues.errorCount,
    warningCount: issues.warningCount,
    counts: issues.counts,
    truncated: issues.truncated,
    conversion: notes.summary(),
    stats,
  };
}

/** The built-in analysis (D2's aggregator), loaded lazily so a plain format check stays light. */
async function defaultAnalysis(options: ValidateOptions): Promise<DatasetAnalysis | undefined> {
  const { createDatasetAnalysis } = await import("./analysis/index.js");
  return createDatasetAnalysis(options.model !== undefined ? { model: options.model } : {});
}
