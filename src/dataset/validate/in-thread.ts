/** Validation in the calling thread: any format and size, one batch of records after another. */
import { readDataset, type DatasetRecord } from "../reader.js";
import type { NoteCounter } from "../notes.js";
import type { IssueCollector } from "./issues.js";
import { createQuickAnalysis } from "./quick-analysis.js";
import type { RunResult } from "./run-result.js";
import type { DatasetAnalysis, ValidateOptions } from "./types.js";

export async function validateInThread(file: string, options: ValidateOptions, issues: IssueCollector, notes: NoteCounter): Promise<RunResult> {
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

/** The built-in analysis, loaded lazily so a plain format check stays light. */
async function defaultAnalysis(options: ValidateOptions): Promise<DatasetAnalysis | undefined> {
  const a = {
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.tokenCounter !== undefined ? { tokenCounter: options.tokenCounter } : {}),
    ...(options.tokenLimit !== undefined ? { tokenLimit: options.tokenLimit } : {}),
  };
  if (options.quick) return createQuickAnalysis(a);
  const { createDatasetAnalysis } = await import("../analysis/index.js");
  return createDatasetAnalysis(a);
}
