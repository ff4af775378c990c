/**
 * `validateFile`: reads a dataset, checks every record, runs the dataset-level analysis and returns one
 * report. Memory stays bounded on any file size: examples are not kept, only their small features
 * and at most `maxIssues` issues (the counts stay exact).
 */
import { promises as fsp } from "node:fs";
import { extname } from "node:path";
import { TunekitError } from "../util/errors.js";
import type { DatasetFormat, DatasetIssue, SourcedExample } from "./types.js";
import { readDataset, type DatasetRecord, type ReadOptions } from "./reader.js";
import { NoteCounter, type NoteSummary } from "./notes.js";
import { DEFAULT_MAX_LINE_BYTES } from "./lines.js";
import { validateJsonlParallel } from "./parallel-validate.js";
import { QuickAggregator, createQuickAnalysis, type QuickFeatures } from "./quick-analysis.js";
import type { ExampleFeatures } from "./analysis/features.js";
import type { ExampleTokenCounter } from "./analysis/tokens.js";

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
   * validate-coordinator.ts). Only applies where worker threads are used.
   */
  coordinator?: boolean;
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
  const issues = new IssueCollector(options.maxIssues ?? 10_000);
  const notes = new NoteCounter();
  if (options.model === undefined && options.tokenCounter === undefined && options.analysis !== false) {
    // Without a model the documented default still counts every example and enforces a limit.
    const { DEFAULT_TOKEN_MODEL, DEFAULT_EXAMPLE_TOKEN_LIMIT } = await import("../tokenize/limits.js");
    options = { ...options, model: DEFAULT_TOKEN_MODEL, tokenLimit: options.tokenLimit ?? DEFAULT_EXAMPLE_TOKEN_LIMIT };
  }
  if (options.model !== undefined && options.tokenCounter === undefined && options.analysis !== false) {
    options = { ...options, ...(await openModelCounting(options.model, options.tokenLimit)) };
  }
  // Worker threads build their own tokenizer from an OpenAI model name; an open model's counter stays here.
  const parallel = options.tokenCounter === undefined && (await parallelEligible(file, options));
  if (parallel && options.coordinator !== false && !options.quick && options.analysis === undefined) {
    const report = await validateInCoordinator(file, options);
    if (report) return report;
  }
  const run = parallel ? await validateInWorkers(file, options, issues, notes) : await validateInThread(file, options, issues, notes);
  let stats: Record<string, unknown> = { records: run.records, examples: run.examples, bytes: run.totalBytes };
  if (run.analysis) {
    const a = run.analysis.finish();
    for (const i of a.issues) issues.add(i);
    stats = { ...stats, ...a.stats };
  }
  issues.sort();
  return {
    file,
    format: run.format,
    examples: run.examples,
    records: run.records,
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

/**
 * The heap cap of the coordinator thread. The full analysis keeps compact typed columns (outside the
 * heap) and at most maxIssues issues per code, so what the heap holds is bounded; measured on the 300 MB
 * benchmark: 349 MB peak RSS for the process at 25.7 s, against 458 MB at 23 s uncapped.
 */
const COORDINATOR_LIMITS = { maxOldGenerationSizeMb: 160, maxYoungGenerationSizeMb: 16 };

/** validateFile in the coordinator thread; undefined when it ran out of its capped heap (then run here). */
async function validateInCoordinator(file: string, options: ValidateOptions): Promise<ValidationReport | undefined> {
  const { startModuleWorker } = await import("./parallel-validate.js");
  const { onProgress, ...plain } = options;
  let worker: import("node:worker_threads").Worker;
  try {
    worker = startModuleWorker("validate-coordinator", { file, options: plain }, COORDINATOR_LIMITS);
  } catch {
    return undefined; // options that cannot be sent to a thread: validate here
  }
  try {
    return await new Promise<ValidationReport | undefined>((resolve, reject) => {
      worker.on("message", (m: import("./validate-coordinator.js").CoordinatorMessage) => {
        if ("progress" in m) onProgress?.(m.progress);
        else if ("report" in m) resolve(m.report);
        else {
          const e = m.error;
          if (e.tunekit) {
            reject(new TunekitError(e.code ?? "internal", e.message, { hint: e.hint, file: e.file, line: e.line, column: e.column, exitCode: e.exitCode }));
          } else {
            const err = new Error(e.message);
            if (e.stack) err.stack = e.stack;
            reject(err);
          }
        }
      });
      worker.on("error", (e: Error & { code?: string }) => {
        if (e.code === "ERR_WORKER_OUT_OF_MEMORY") resolve(undefined);
        else reject(e);
      });
      worker.on("exit", (code) => reject(new Error(`validation coordinator exited (code ${code})`)));
    });
  } finally {
    await worker.terminate();
  }
}

interface RunResult {
  format: DatasetFormat;
  examples: number;
  records: number;
  totalBytes: number;
  analysis?: { finish(): { issues: DatasetIssue[]; stats: Record<string, unknown> } };
}

async function validateInThread(file: string, options: ValidateOptions, issues: IssueCollector, notes: NoteCounter): Promise<RunResult> {
  const reader = readDataset(file, options);
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
  return { format: reader.format ?? "openai-chat", examples, records: reader.records, totalBytes: reader.totalBytes, analysis };
}

/** Files at least this big are validated in worker threads (smaller ones are not worth the start-up). */
export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

/** Parallel validation applies to big JSONL files with the built-in analysis. */
async function parallelEligible(file: string, options: ValidateOptions): Promise<boolean> {
  if (options.workers === 0 || options.workers === 1) return false;
  if (options.analysis !== undefined && options.analysis !== false) return false;
  if (options.format === "csv") return false;
  const ext = extname(file).toLowerCase();
  if (ext === ".csv" || ext === ".tsv") return false;
  let fh;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile() || st.size < (options.parallelMinBytes ?? PARALLEL_MIN_BYTES)) return false;
    fh = await fsp.open(file, "r");
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    while (i < bytesRead && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09)) i++;
    return i < bytesRead && head[i] !== 0x5b; // "[": a JSON array file, read whole
  } catch {
    return false; // the in-thread reader reports the problem properly
  } finally {
    await fh?.close();
  }
}

async function validateInWorkers(file: string, options: ValidateOptions, issues: IssueCollector, notes: NoteCounter): Promise<RunResult> {
  const mode = options.analysis === false ? "none" : options.quick ? "quick" : "full";
  const analysisMod = mode === "none" ? undefined : await import("./analysis/index.js");
  // Checks the model name here (a clear error before any thread starts); the main thread's own batch
  // checker loads the tokenizer lazily, once.
  let tokenLimit: number | undefined;
  if (analysisMod && options.model !== undefined) {
    if (!analysisMod.isOpenAiModel(options.model)) analysisMod.createFeatureContext({ model: options.model });
    tokenLimit = options.tokenLimit ?? analysisMod.openAiExampleTokenLimit(options.model);
  }
  const full = mode === "full" && analysisMod ? new analysisMod.DatasetAggregator({ model: options.model, tokenLimit }) : undefined;
  const quick = mode === "quick" ? new QuickAggregator({ model: options.model, tokenLimit }) : undefined;
  let examples = 0;
  let records = 0;
  const row: QuickFeatures = { line: 0, messages: 0 }; // reused: the aggregator keeps numbers, not the object
  const res = await validateJsonlParallel(
    {
      file,
      mode,
      model: options.model,
      maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
      format: options.format,
      workers: options.workers,
      chunkBytes: options.chunkBytes,
    },
    {
      outcome(o) {
        if (o.issues) for (const i of o.issues) issues.add(i);
        if (!o.blank) records++;
        if (!o.valid) return;
        if (o.notes) for (const n of o.notes) notes.add(n, o.line);
        const index = examples++;
        if (o.features && full) full.add({ ...(o.features as ExampleFeatures), index });
        else if (o.features && quick) quick.add(o.features as QuickFeatures);
      },
      quickRow(line, messages, tokens, assistantTokens) {
        records++;
        examples++;
        row.line = line;
        row.messages = messages;
        if (tokens >= 0) {
          row.tokens = tokens;
          row.assistantTokens = assistantTokens;
        } else {
          delete row.tokens;
          delete row.assistantTokens;
        }
        quick?.add(row);
      },
      progress(done, total) {
        options.onProgress?.({ bytesRead: done, totalBytes: total, examples });
      },
    },
  );
  if (records === 0) {
    throw new TunekitError("empty_file", "the file has no records, only blank lines", { file, exitCode: 1, hint: "a dataset needs at least one example" });
  }
  let analysis: RunResult["analysis"];
  if (full && analysisMod) {
    const sampler = new analysisMod.ReplySampler();
    for (const r of res.replySamples) sampler.add(r);
    analysis = {
      finish: () => {
        const r = full.finish();
        return { issues: r.issues, stats: { ...r.stats, replyShape: sampler.shape() } as unknown as Record<string, unknown> };
      },
    };
  } else if (quick) analysis = quick;
  return { format: res.format, examples, records, totalBytes: res.totalBytes, analysis };
}

/** The built-in analysis (D2's aggregator), loaded lazily so a plain format check stays light. */
async function defaultAnalysis(options: ValidateOptions): Promise<DatasetAnalysis | undefined> {
  const a = {
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.tokenCounter !== undefined ? { tokenCounter: options.tokenCounter } : {}),
    ...(options.tokenLimit !== undefined ? { tokenLimit: options.tokenLimit } : {}),
  };
  if (options.quick) return createQuickAnalysis(a);
  const { createDatasetAnalysis } = await import("./analysis/index.js");
  return createDatasetAnalysis(a);
}

/**
 * For an open model (a local Hugging Face folder or a hub id) the token counter renders each example
 * with the model's own chat template and encodes it with its tokenizer.json, and the limit is the
 * model's context length; OpenAI names give nothing here (the analysis counts those itself, also
 * inside worker threads).
 */
async function openModelCounting(model: string, tokenLimit: number | undefined): Promise<{ tokenCounter?: ExampleTokenCounter; tokenLimit?: number }> {
  const { isOpenAiModel } = await import("./analysis/tokens.js");
  if (isOpenAiModel(model)) return {};
  const { resolveFeatureContext } = await import("./analysis/feature-context.js");
  const ctx = await resolveFeatureContext({ model, ...(tokenLimit !== undefined ? { tokenLimit } : {}) });
  return { ...(ctx.countTokens ? { tokenCounter: ctx.countTokens } : {}), ...(ctx.tokenLimit !== undefined ? { tokenLimit: ctx.tokenLimit } : {}) };
}
