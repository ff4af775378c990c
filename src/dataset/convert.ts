/**
 * `convertFile`: any supported dataset format to OpenAI chat JSONL. All or nothing: when any record
 * cannot be converted the output file is not written (no example is silently lost), and the report
 * lists the errors and everything the conversion dropped or changed.
 */
import { resolve } from "node:path";
import { TunekitError } from "../util/errors.js";
import { withAtomicWriter } from "../util/fs.js";
import type { DatasetFormat } from "./types.js";
import { readDataset, type ReadOptions } from "./reader.js";
import { NoteCounter, type NoteSummary } from "./notes.js";
import { IssueCollector } from "./validate/issues.js";
import type { ReportIssue, ValidateProgress } from "./validate/types.js";

export type ConvertTarget = "openai-chat";

export interface ConvertOptions extends ReadOptions {
  to?: ConvertTarget;
  /** Most errors kept in the report (the count stays exact). Default 10,000. */
  maxIssues?: number;
  onProgress?: (p: ValidateProgress) => void;
}

export interface ConvertReport {
  input: string;
  output: string;
  /** The input's format. */
  format: DatasetFormat;
  to: ConvertTarget;
  /** Examples written (0 when `written` is false). */
  examples: number;
  records: number;
  /** True when the output file was written; false when the input has errors. */
  written: boolean;
  errors: ReportIssue[];
  errorCount: number;
  /** Structural warnings (run `tunekit validate` to see them). */
  warningCount: number;
  /** What the conversion dropped or changed, per kind, with counts. */
  conversion: NoteSummary[];
}

/** Thrown inside the atomic writer to discard the output when the input has errors. */
class InputHasErrors extends Error {}

export async function convertFile(input: string, output: string, options: ConvertOptions = {}): Promise<ConvertReport> {
  const to = options.to ?? "openai-chat";
  if (to !== "openai-chat") {
    throw new TunekitError("usage", `cannot convert to "${String(to)}"`, { hint: "supported target: openai-chat" });
  }
  if (resolve(input) === resolve(output)) {
    throw new TunekitError("usage", "the output file is the input file", { file: output, hint: "write to a new file" });
  }
  const reader = readDataset(input, options);
  const issues = new IssueCollector(options.maxIssues ?? 10_000);
  const notes = new NoteCounter();
  let examples = 0;
  let written = false;
  try {
    await withAtomicWriter(output, async (w) => {
      for await (const batch of reader.batches()) {
        let text = "";
        for (const r of batch) {
          for (const i of r.issues) issues.add(i);
          if (!r.example) continue;
          for (const n of r.notes) notes.add(n, r.line);
          examples++;
          // Once an error is seen nothing will be kept: stop writing, keep reading for the report.
          if (issues.errorCount === 0) text += JSON.stringify(r.example.example) + "\n";
        }
        if (text) await w.write(text);
        options.onProgress?.({ bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, examples });
      }
      if (issues.errorCount > 0) throw new InputHasErrors();
    });
    written = true;
  } catch (e) {
    if (!(e instanceof InputHasErrors)) throw e;
  }
  issues.sort();
  return {
    input,
    output,
    format: reader.format ?? "openai-chat",
    to,
    examples: written ? examples : 0,
    records: reader.records,
    written,
    errors: issues.errors,
    errorCount: issues.errorCount,
    warningCount: issues.warningCount,
    conversion: notes.summary(),
  };
}
