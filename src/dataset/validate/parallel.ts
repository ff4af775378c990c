/**
 * Parallel validation of a large JSONL file: the main thread reads fixed-size chunks and cuts them into
 * batches of whole lines; worker threads parse, check and compute each example's analysis features;
 * the main thread takes the results back in file order and aggregates them. Memory is bounded by the
 * number of batches in flight, whatever the file size.
 */
import { promises as fsp } from "node:fs";
import type { Worker } from "node:worker_threads";
import { fsError } from "../../util/errors.js";
import type { DatasetFormat, DatasetIssue } from "../types.js";
import { fileChunks, LineSplitter } from "../lines.js";
import { processJsonLine } from "../record.js";
import { issue } from "../formats/types.js";
import { LineBatcher, type BatchItem } from "./line-batches.js";
import { defaultWorkerCount, startModuleWorker } from "./threads.js";
import type { WorkerReply } from "./worker.js";
import { BatchChecker, type BatchResult, type WorkerJob, type WorkerOutcome, type WorkerSetup } from "./batch-check.js";

export interface ParallelSink {
  /** Called for every outcome, in file order. */
  outcome(o: WorkerOutcome): void;
  /** A plain valid line of quick mode (no issues, no notes), in file order with the outcomes. tokens -1: none. */
  quickRow(line: number, messages: number, tokens: number, assistantTokens: number): void;
  progress(bytesRead: number, totalBytes: number): void;
}

export interface ParallelOptions {
  file: string;
  mode: WorkerSetup["mode"];
  model?: string;
  maxLineBytes: number;
  format?: DatasetFormat;
  workers?: number;
  chunkBytes?: number;
}

export interface ParallelResult {
  format: DatasetFormat;
  totalBytes: number;
  /** Reply samples from the workers (full mode), for the reply shape. */
  replySamples: string[];
}

/**
 * A worker only holds its tokenizer and the batch in hand; a modest heap makes V8 collect garbage early
 * instead of growing the heap with the allocation rate (the peak RSS target is for the whole process).
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 192, maxYoungGenerationSizeMb: 16 };

function startWorker(setup: WorkerSetup): Worker {
  return startModuleWorker("worker", setup, WORKER_LIMITS);
}

/** The file's format from its first parseable record (read from the first chunk only). */
async function peekFormat(file: string, maxLineBytes: number): Promise<DatasetFormat | undefined> {
  const s = new LineSplitter(file, maxLineBytes);
  let found: DatasetFormat | undefined;
  for await (const chunk of fileChunks(file, Math.min(4 * 1024 * 1024, maxLineBytes))) {
    s.push(chunk, (l) => {
      if (found) return;
      const o = processJsonLine(l.bytes, l.line, false, undefined);
      if (o.parsed && o.detected) found = o.detected;
    }, () => {});
    break;
  }
  return found;
}

export async function validateJsonlParallel(opts: ParallelOptions, sink: ParallelSink): Promise<ParallelResult> {
  let totalBytes: number;
  try {
    totalBytes = (await fsp.stat(opts.file)).size;
  } catch (e) {
    throw fsError(e, opts.file);
  }
  const format = opts.format ?? (await peekFormat(opts.file, opts.maxLineBytes));
  // The main thread checks batches too (it only reads bytes otherwise): n threads = n - 1 workers + main.
  const n = Math.max(2, opts.workers ?? defaultWorkerCount());
  const local = new BatchChecker({ file: opts.file, mode: opts.mode, maxLineBytes: opts.maxLineBytes, ...(opts.model !== undefined ? { model: opts.model } : {}) });
  const setup: WorkerSetup = { file: opts.file, mode: opts.mode, maxLineBytes: opts.maxLineBytes, ...(opts.model !== undefined ? { model: opts.model } : {}) };
  const workers: Worker[] = [];
  const waiting = new Map<number, { resolve: (v: WorkerReply) => void; reject: (e: unknown) => void }>();
  let failure: unknown;
  const fail = (e: unknown) => {
    failure ??= e;
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  };
  for (let i = 0; i < n - 1; i++) {
    const w = startWorker(setup);
    w.on("message", (r: WorkerReply) => {
      if ("error" in r) return fail(new Error(`validation worker failed: ${r.error}`));
      const key = r.id === -1 ? -1 - i : r.id;
      const p = waiting.get(key);
      waiting.delete(key);
      p?.resolve(r);
    });
    w.on("error", fail);
    w.on("exit", (code) => {
      if (waiting.size > 0) fail(new Error(`validation worker exited (code ${code})`));
    });
    workers.push(w);
  }
  const call = (w: Worker, key: number, msg: unknown, transfer: ArrayBuffer[] = []) =>
    new Promise<WorkerReply>((resolve, reject) => {
      if (failure) return reject(failure);
      waiting.set(key, { resolve, reject });
      w.postMessage(msg, transfer);
    });

  const queue: Promise<BatchResult>[] = [];
  // Results are consumed in file order; up to this many batches wait in the queue (1 MB each by default).
  const maxInFlight = n * 8;
  let jobId = 0;
  // Batches go to the least busy worker while it has fewer than WORKER_BACKLOG waiting; otherwise the
  // main thread checks the batch itself. So the main thread keeps working while workers start (they
  // load a tokenizer first) and whenever they fall behind, where a fixed turn (every n-th batch on the
  // main thread) left threads idle (measurements: docs/validation.md).
  const WORKER_BACKLOG = 3;
  const backlog = new Map<Worker, number>(workers.map((w) => [w, 0]));
  let currentFormat = format;
  // Outcomes and packed rows are each in line order: merge them.
  const consume = ({ outcomes: outs, packed }: BatchResult) => {
    const rows = packed ? packed.length / 4 : 0;
    let k = 0;
    for (let r = 0; r < rows; r++) {
      const line = packed![r * 4];
      while (k < outs.length && outs[k].line < line) sink.outcome(outs[k++]);
      sink.quickRow(line, packed![r * 4 + 1], packed![r * 4 + 2], packed![r * 4 + 3]);
    }
    while (k < outs.length) sink.outcome(outs[k++]);
  };
  const dispatch = async (item: BatchItem) => {
    while (queue.length >= maxInFlight) consume(await queue.shift()!);
    if (item.kind === "skipped") {
      const i: DatasetIssue = issue(item.line, "line_too_long", `line is ${item.byteLength} bytes, over the limit of ${opts.maxLineBytes} bytes; skipped`, "error", {
        bytes: item.byteLength,
      });
      queue.push(Promise.resolve({ outcomes: [{ line: item.line, issues: [i], notes: [] }] }));
      return;
    }
    const id = jobId++;
    const job: WorkerJob = { id, buf: item.buf, firstLine: item.firstLine, unterminated: item.unterminated, fileFormat: currentFormat };
    const worker = workers.reduce((a, b) => (backlog.get(b)! < backlog.get(a)! ? b : a));
    if (backlog.get(worker)! >= WORKER_BACKLOG) {
      queue.push(Promise.resolve(local.runBatch(job)));
      return;
    }
    backlog.set(worker, backlog.get(worker)! + 1);
    const p = call(worker, id, job, [item.buf.buffer as ArrayBuffer]).then((r) => {
      backlog.set(worker, backlog.get(worker)! - 1);
      return "outcomes" in r ? { outcomes: r.outcomes, ...(r.packed ? { packed: r.packed } : {}) } : { outcomes: [] };
    });
    p.catch(() => {}); // a failure is raised where the queue is awaited, not as an unhandled rejection
    queue.push(p);
  };

  try {
    const batcher = new LineBatcher(opts.file, opts.maxLineBytes);
    const items: BatchItem[] = [];
    for await (const chunk of fileChunks(opts.file, opts.chunkBytes)) {
      batcher.push(chunk, items);
      for (const it of items.splice(0)) await dispatch(it);
      sink.progress(batcher.bytesRead, totalBytes);
    }
    batcher.end(items);
    for (const it of items.splice(0)) await dispatch(it);
    while (queue.length > 0) consume(await queue.shift()!);
    let replySamples: string[] = [];
    if (opts.mode === "full") {
      const replies = await Promise.all(workers.map((w, i) => call(w, -1 - i, { finish: true })));
      replySamples = [...replies.flatMap((r) => ("samples" in r ? r.samples : [])), ...local.replies.items()];
    }
    if (currentFormat === undefined) currentFormat = "openai-chat";
    return { format: currentFormat, totalBytes, replySamples };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
