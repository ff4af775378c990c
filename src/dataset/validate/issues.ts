import type { DatasetIssue } from "../types.js";
import type { ReportIssue } from "./types.js";

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
