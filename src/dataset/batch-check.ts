/**
 * Checks one batch of JSONL lines and computes each valid example's analysis features. Pure apart from
 * the per-thread state (feature context, reply sample), so it runs the same in a worker thread and on
 * the main thread.
 */
import type { DatasetFormat, DatasetIssue, SourcedExample } from "./types.js";
import { processJsonLine } from "./record.js";
import { issue } from "./formats/types.js";
import type { ConversionNote } from "./formats/types.js";
import { createFeatureContext, extractFeatures, finalReply, type ExampleFeatures, type FeatureContext } from "./analysis/index.js";
import { quickFeatures, type QuickFeatures } from "./quick-analysis.js";
import { Reservoir } from "./reservoir.js";

export interface WorkerSetup {
  file: string;
  mode: "full" | "quick" | "none";
  model?: string;
  maxLineBytes: number;
}

export interface WorkerJob {
  id: number;
  buf: Uint8Array;
  firstLine: number;
  unterminated: boolean;
  fileFormat: DatasetFormat | undefined;
}

/** One line's result; empty lists are left out to keep the messages small. */
export interface WorkerOutcome {
  line: number;
  issues?: DatasetIssue[];
  notes?: ConversionNote[];
  blank?: true;
  detected?: DatasetFormat;
  valid?: true;
  features?: ExampleFeatures | QuickFeatures;
}

/** Per-thread state: the feature context (tokenizer) and the sample of final replies. */
export class BatchChecker {
  private ctx: FeatureContext | undefined;
  readonly replies = new Reservoir<string>(2000, 4000);
  constructor(readonly setup: WorkerSetup) {}

  private context(): FeatureContext {
    this.ctx ??= createFeatureContext(this.setup.model !== undefined ? { model: this.setup.model } : {});
    return this.ctx;
  }

  run(job: WorkerJob): WorkerOutcome[] {
    const setup = this.setup;
    const buf = Buffer.from(job.buf.buffer, job.buf.byteOffset, job.buf.byteLength);
    const out: WorkerOutcome[] = [];
    let start = 0;
    let line = job.firstLine;
    for (;;) {
      let end = buf.indexOf(10, start);
      const last = end < 0;
      if (last) end = buf.length;
      let bytes = buf.subarray(start, end);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
      if (bytes.length > setup.maxLineBytes) {
        out.push({
          line,
          issues: [issue(line, "line_too_long", `line is ${bytes.length} bytes, over the limit of ${setup.maxLineBytes} bytes; skipped`, "error", { bytes: bytes.length })],
        });
      } else {
        const o = processJsonLine(bytes, line, last && job.unterminated, job.fileFormat);
        const w: WorkerOutcome = { line };
        if (o.issues.length > 0) w.issues = o.issues;
        if (o.notes.length > 0) w.notes = o.notes;
        if (o.blank) w.blank = true;
        if (o.detected) w.detected = o.detected;
        if (o.example) {
          w.valid = true;
          const src: SourcedExample = { example: o.example, file: setup.file, line, index: 0, format: job.fileFormat ?? o.detected ?? "openai-chat" };
          if (setup.mode === "full") {
            w.features = extractFeatures(src, this.context());
            const r = finalReply(src);
            if (r !== undefined) this.replies.add(r);
          } else if (setup.mode === "quick") w.features = quickFeatures(src, this.context().countTokens);
        }
        out.push(w);
      }
      if (last) break;
      start = end + 1;
      line++;
    }
    return out;
  }
}
