/**
 * One validation in this process: a big JSONL file is checked in worker threads, anything else in this
 * thread; either way the issues, conversion notes and analysis end up in one report.
 */
import { promises as fsp } from "node:fs";
import { extname } from "node:path";
import { NoteCounter } from "../notes.js";
import { validateInThread } from "./in-thread.js";
import { validateInWorkers } from "./in-workers.js";
import { IssueCollector } from "./issues.js";
import type { ValidateOptions, ValidationReport } from "./types.js";

/** Validates `file` here; `parallel` says whether it goes to worker threads when the caller knows already. */
export async function validateHere(file: string, options: ValidateOptions, parallel?: boolean): Promise<ValidationReport> {
  const issues = new IssueCollector(options.maxIssues ?? 10_000);
  const notes = new NoteCounter();
  parallel ??= await parallelEligible(file, options);
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

/** Files at least this big are validated in worker threads (smaller ones are not worth the start-up). */
export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Parallel validation applies to big JSONL files with the built-in analysis. Worker threads build their
 * own tokenizer from an OpenAI model name, so an open model's counter keeps the work in this thread.
 */
export async function parallelEligible(file: string, options: ValidateOptions): Promise<boolean> {
  if (options.tokenCounter !== undefined) return false;
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
