/**
 * Checks one batch of JSONL lines and computes each valid example's analysis features. Pure apart from
 * the per-thread state (feature context, reply sample), so it runs the same in a worker thread and on
 * the main thread.
 */
import { isUtf8 } from "node:buffer";
import { Reservoir } from "../../util/random.js";
import type { DatasetFormat, DatasetIssue, SourcedExample } from "../types.js";
import { blankOutcome, isBlankText, processJsonLine, processJsonText, type RecordOutcome } from "../record.js";
import { issue, type ConversionNote } from "../formats/types.js";
import { createFeatureContext, extractFeatures, finalReply, type ExampleFeatures, type FeatureContext } from "../analysis/index.js";
import { quickFeatures, type QuickFeatures } from "./quick-analysis.js";

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

/**
 * A batch's results: the outcomes of lines with anything to report, and, in quick mode, the plain valid
 * lines packed as [line, messages, tokens, assistantTokens] rows (-1 = no token count). Packed rows cost
 * no object per line to pass between threads or to consume.
 */
export interface BatchResult {
  outcomes: WorkerOutcome[];
  packed?: Int32Array;
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

  /** run(), with quick mode's plain valid lines packed (see BatchResult). */
  runBatch(job: WorkerJob): BatchResult {
    const all = this.run(job);
    if (this.setup.mode !== "quick") return { outcomes: all };
    const outcomes: WorkerOutcome[] = [];
    const rows: number[] = [];
    for (const o of all) {
      const f = o.features as QuickFeatures | undefined;
      if (o.valid && f && !o.issues && !o.notes && !o.blank) rows.push(o.line, f.messages, f.tokens ?? -1, f.assistantTokens ?? -1);
      else outcomes.push(o);
    }
    return { outcomes, packed: Int32Array.from(rows) };
  }

  run(job: WorkerJob): WorkerOutcome[] {
    const buf = Buffer.from(job.buf.buffer, job.buf.byteOffset, job.buf.byteLength);
    // Fast path: a batch that is valid UTF-8 as a whole is decoded once and split as text.
    if (isUtf8(buf)) return this.runText(buf.toString("utf8"), job);
    return this.runBytes(buf, job);
  }

  private runText(text: string, job: WorkerJob): WorkerOutcome[] {
    const max = this.setup.maxLineBytes;
    const out: WorkerOutcome[] = [];
    let start = 0;
    let line = job.firstLine;
    for (;;) {
      let end = text.indexOf("\n", start);
      const last = end < 0;
      if (last) end = text.length;
      let s = text.slice(start, end);
      if (s.length > 0 && s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
      // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it could matter.
      const bytes = s.length * 3 > max ? Buffer.byteLength(s) : 0;
      if (bytes > max) out.push(this.tooLong(line, bytes));
      else if (isBlankText(s)) out.push(this.outcome(blankOutcome(line), job));
      else out.push(this.outcome(processJsonText(s, line, last && job.unterminated, job.fileFormat), job));
      if (last) break;
      start = end + 1;
      line++;
    }
    return out;
  }

  private runBytes(buf: Buffer, job: WorkerJob): WorkerOutcome[] {
    const out: WorkerOutcome[] = [];
    let start = 0;
    let line = job.firstLine;
    for (;;) {
      let end = buf.indexOf(10, start);
      const last = end < 0;
      if (last) end = buf.length;
      let bytes = buf.subarray(start, end);
      if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
      if (bytes.length > this.setup.maxLineBytes) out.push(this.tooLong(line, bytes.length));
      else out.push(this.outcome(processJsonLine(bytes, line, last && job.unterminated, job.fileFormat), job));
      if (last) break;
      start = end + 1;
      line++;
    }
    return out;
  }

  private tooLong(line: number, bytes: number): WorkerOutcome {
    const max = this.setup.maxLineBytes;
    return { line, issues: [issue(line, "line_too_long", `line is ${bytes} bytes, over the limit of ${max} bytes; skipped`, "error", { bytes })] };
  }

  /** The compact outcome, with the example's features. */
  private outcome(o: RecordOutcome, job: WorkerJob): WorkerOutcome {
    const setup = this.setup;
    const w: WorkerOutcome = { line: o.line };
    if (o.issues.length > 0) w.issues = o.issues;
    if (o.notes.length > 0) w.notes = o.notes;
    if (o.blank) w.blank = true;
    if (o.detected) w.detected = o.detected;
    if (o.example) {
      w.valid = true;
      const src: SourcedExample = { example: o.example, file: setup.file, line: o.line, index: 0, format: job.fileFormat ?? o.detected ?? "openai-chat" };
      if (setup.mode === "full") {
        w.features = extractFeatures(src, this.context());
        const r = finalReply(src);
        if (r !== undefined) this.replies.add(r);
      } else if (setup.mode === "quick") w.features = quickFeatures(src, this.context().countTokens);
    }
    return w;
  }
}
