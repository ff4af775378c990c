import type { DatasetFormat, DatasetIssue } from "../types.js";

/** What one validation strategy (in-thread.ts, in-workers.ts) hands back to be turned into a report. */
export interface RunResult {
  format: DatasetFormat;
  examples: number;
  records: number;
  totalBytes: number;
  analysis?: { finish(): { issues: DatasetIssue[]; stats: Record<string, unknown> } };
}
