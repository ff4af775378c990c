/**
 * `train()` and `resumeTraining()`: a whole local LoRA run from files to adapter. It prepares the data
 * (prepare.ts), builds the engine, runs the loop (loop.ts) and keeps the run folder (run-dir.ts) up to
 * date: run.json, metrics.jsonl, an atomic checkpoint, and the PEFT adapter at the end.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SourcedExample } from "../../dataset/types.js";
import { TunekitError, isTunekitError } from "../../util/errors.js";
import { ensureDir, refuseNonEmptyFolder } from "../../util/fs.js";
import type { TruncationReport } from "./batches.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import type { TrainStepEngine } from "./engine.js";
import { trainLoop, type TrainEvent, type TrainOptions } from "./loop.js";
import { prepareSet, readExamples, requireValidDataset, type ExampleTokenizer } from "./prepare.js";
import { MetricsLog, readRunRecord, runPaths, sha256File, writeRunRecord, type RunRecord } from "./run-dir.js";
import { defaultBackend, type TrainBackend } from "./backend.js";
import { writePeftAdapter } from "../io/peft.js";
import { hasRecurrentLayers, packingRefused } from "../models/family.js";

export interface TrainRequest {
  data: string;
  /** Model folder or hub id. */
  model: string;
  outDir: string;
  validation?: string;
  /** Fraction held out from DATA (leak-free split); ignored when `validation` is set. */
  testSplit?: number;
  options: TrainOptions;
}

export type TrainRunEvent =
  | TrainEvent
  | { type: "warning"; code: string; message: string; details?: Record<string, unknown> }
  | {
      type: "error";
      code: string;
      message: string;
      hint?: string;
      /** The same fields nested, as hosted training's error events have them (one way to read both). */
      error: { code: string; message: string; hint?: string };
    };

/** The error event for a failure (a TunekitError's code and hint, or "internal"). */
export function trainErrorEvent(e: unknown): Extract<TrainRunEvent, { type: "error" }> {
  const err = isTunekitError(e) ? e : undefined;
  const fields = { code: err?.code ?? "internal", message: e instanceof Error ? e.message : String(e), ...(err?.hint ? { hint: err.hint } : {}) };
  return { type: "error", ...fields, error: fields };
}

export interface TrainCallbacks {
  onEvent?(e: TrainRunEvent): void;
  /**
   * The preparation phase now starting ("loading the model", ...), for a status line: on a model of
   * SmolLM2-135M's size the work before the first step is long enough to need one. Not a JSON event.
   */
  onPhase?(text: string): void;
  /** Polled after each optimizer step; true stops cleanly with a checkpoint (Ctrl-C). */
  shouldStop?(): boolean;
}

export interface TrainResult {
  runDir: string;
  adapterDir: string;
  done: Extract<TrainEvent, { type: "done" }>;
}

function truncationWarnings(r: TruncationReport, what: string, maxSeqLen: number): TrainRunEvent[] {
  const out: TrainRunEvent[] = [];
  if (r.truncated > 0) {
    out.push({
      type: "warning",
      code: "truncated",
      message: `${r.truncated} ${what} example(s) are longer than --max-seq-len ${maxSeqLen} and were cut; ${r.droppedAssistantTokens} assistant token(s) past the limit are not trained on`,
      details: { truncated: r.truncated, droppedAssistantTokens: r.droppedAssistantTokens },
    });
  }
  if (r.skipped > 0) {
    out.push({
      type: "warning",
      code: "reply_cut_away",
      message: `${r.skipped} ${what} example(s) were skipped: their whole assistant reply lies past --max-seq-len ${maxSeqLen} (lines ${r.skippedLines.slice(0, 10).join(", ")}${r.skippedLines.length > 10 ? ", ..." : ""})`,
      details: { skipped: r.skipped, lines: r.skippedLines },
    });
  }
  return out;
}

/** A warning per file, with its lines, when the chat template drops the system prompts of examples. */
function systemDroppedWarnings(where: { file: string; line: number }[], template: string): TrainRunEvent[] {
  const byFile = new Map<string, number[]>();
  for (const w of where) byFile.set(w.file, [...(byFile.get(w.file) ?? []), w.line]);
  return [...byFile].map(([file, lines]) => {
    const shown = lines.slice(0, 10).join(", ") + (lines.length > 10 ? `, ... (${lines.length - 10} more)` : "");
    return {
      type: "warning",
      code: "system_prompt_dropped",
      message: `${file}:${lines[0]}: the model's chat template (${template}) drops the system prompt of ${lines.length} example(s) (line${lines.length === 1 ? "" : "s"} ${shown}): the model never sees it, in training or when generating; put the instruction in the first user message instead`,
      details: { file, lines },
    };
  });
}

/** Starts a new run in `req.outDir` (which must not already hold a run). */
export async function train(req: TrainRequest, cb: TrainCallbacks = {}, backend: TrainBackend = defaultBackend()): Promise<TrainResult> {
  const outDir = resolve(req.outDir);
  if (existsSync(runPaths(outDir).run)) {
    throw new TunekitError("run_exists", `${req.outDir} already holds a training run`, {
      file: req.outDir,
      hint: `continue it with \`tunekit train --resume ${req.outDir}\`, or pick another -o folder`,
    });
  }
  refuseNonEmptyFolder(outDir, "pick a new or empty -o folder");
  return execute(req, outDir, cb, backend, false);
}

/** Continues the run in `runDir` from its checkpoint, with the options it was started with. */
export async function resumeTraining(runDir: string, cb: TrainCallbacks = {}, backend: TrainBackend = defaultBackend()): Promise<TrainResult> {
  const dir = resolve(runDir);
  const rec = await readRunRecord(dir);
  if (rec.status === "completed" || rec.status === "early_stopped") {
    throw new TunekitError("run_finished", `the run in ${runDir} already finished (${rec.status.replace("_", " ")}); its adapter is in ${runPaths(dir).adapter}`, {
      file: runDir,
      hint: "start a new run with -o NEW_DIR to train more",
    });
  }
  const req: TrainRequest = {
    data: rec.data.path,
    model: rec.model,
    outDir: dir,
    validation: rec.heldOut.kind === "validation" ? rec.heldOut.path : undefined,
    testSplit: rec.heldOut.kind === "test-split" ? rec.heldOut.fraction : undefined,
    options: rec.options,
  };
  const sha = await sha256File(req.data);
  if (sha !== rec.data.sha256) {
    throw new TunekitError("data_changed", `${req.data} changed since the run started (sha256 differs); an exact resume is impossible`, {
      file: req.data,
      hint: "restore the original file, or start a new run",
    });
  }
  return execute(req, dir, cb, backend, true, rec);
}

async function execute(
  req: TrainRequest,
  outDir: string,
  cb: TrainCallbacks,
  backend: TrainBackend,
  resuming: boolean,
  previous?: RunRecord,
): Promise<TrainResult> {
  const o = req.options;
  const emit = (e: TrainRunEvent) => cb.onEvent?.(e);
  const phase = (text: string) => cb.onPhase?.(text);

  // Data first: never load a model for a dataset that will be refused.
  phase("checking the training data");
  const dataPath = resolve(req.data);
  await requireValidDataset(dataPath, "training data");
  let examples = await readExamples(dataPath);
  const fileExamples = examples.length;
  let heldOutRaw: SourcedExample[] = [];
  let heldOutInfo: RunRecord["heldOut"] = { kind: "none" };
  if (req.validation) {
    const vPath = resolve(req.validation);
    await requireValidDataset(vPath, "validation data");
    heldOutRaw = await readExamples(vPath);
    heldOutInfo = { kind: "validation", path: vPath, sha256: await sha256File(vPath), examples: heldOutRaw.length };
  } else if (req.testSplit !== undefined && req.testSplit > 0) {
    await ensureDir(join(outDir, "split"));
    const split = await backend.split(dataPath, req.testSplit, o.seed, join(outDir, "split"));
    examples = split.train;
    heldOutRaw = split.test;
    heldOutInfo = { kind: "test-split", fraction: req.testSplit, examples: heldOutRaw.length };
  }

  // A resumed run loads the folder it resolved at the start (the user's path may have been relative).
  phase("loading the model");
  // A quantized base's codes wait in the run's folder, not in memory, until ONNX Runtime has read them.
  if (o.baseBits) await ensureDir(outDir);
  const model = await backend.loadModel(previous && existsSync(previous.modelDir) ? previous.modelDir : req.model, o.baseBits ? { baseBits: o.baseBits, codeFolder: outDir } : undefined);
  const dropCodeFile = () => model.codeFile?.remove();
  for (const note of model.notes ?? []) emit({ type: "warning", code: "text_model_only", message: note });
  if (o.packing && hasRecurrentLayers(model.config)) throw packingRefused(model.config);
  const startedAt = previous?.createdAt ?? new Date().toISOString();
  const tok = await backend.tokenizerFor(model.dir, { now: new Date(startedAt) });
  phase(`tokenizing ${(examples.length + heldOutRaw.length).toLocaleString("en-US")} examples`);
  const trainSet = prepareSet(examples, tok.tokenize, o.maxSeqLen, "training data", dataPath);
  for (const w of truncationWarnings(trainSet.truncation, "training", o.maxSeqLen)) emit(w);
  for (const w of systemDroppedWarnings(trainSet.systemDropped, tok.template.name)) emit(w);
  const heldOut = heldOutRaw.length > 0 ? prepareSet(heldOutRaw, tok.tokenize as ExampleTokenizer, o.maxSeqLen, "held-out data", req.validation ?? dataPath) : undefined;
  if (heldOut) for (const w of truncationWarnings(heldOut.truncation, "held-out", o.maxSeqLen)) emit(w);
  if (heldOut) for (const w of systemDroppedWarnings(heldOut.systemDropped, tok.template.name)) emit(w);

  await ensureDir(outDir);
  const paths = runPaths(outDir);
  const now = startedAt;
  const rec: RunRecord = previous
    ? { ...previous, status: "running", error: undefined }
    : {
        tunekitRun: 1,
        createdAt: now,
        updatedAt: now,
        model: req.model,
        modelDir: model.dir,
        data: { path: dataPath, sha256: await sha256File(dataPath), examples: fileExamples },
        heldOut: heldOutInfo,
        template: tok.template,
        options: o,
        status: "running",
      };
  await writeRunRecord(outDir, rec);

  const checkpoint = resuming ? await loadCheckpoint(paths.checkpoint) : undefined;
  if (resuming) await MetricsLog.truncateAfter(paths.metrics, checkpoint?.state.step ?? 0);
  const metrics = new MetricsLog(paths.metrics);
  let engine: TrainStepEngine | undefined;
  try {
    phase("building the training graph (ONNX Runtime session)");
    engine = await backend.createEngine(model.config, model.weights, o.lora, {
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.gradientCheckpointing ? { gradientCheckpointing: true } : {}),
      // Query blocks of about 256 rows: long windows skip almost half the attention work and memory.
      blockCausal: Math.min(16, Math.max(2, Math.round(o.maxSeqLen / 256))),
      // The run loaded the quantized base for this engine alone: ORT's copies are the only ones needed.
      ...(o.baseBits ? { handOverQuantizedCodes: { evalLoss: heldOut !== undefined } } : {}),
    });
    dropCodeFile();
    const shapes = new Map(engine.paramShapes.map((p) => [p.name, [...p.shape]]));
    const pending: Promise<void>[] = [];
    const result = await trainLoop(
      engine,
      trainSet.examples,
      heldOut?.examples ?? [],
      o,
      {
        onEvent: (e) => {
          pending.push(metrics.append(e));
          emit(e);
        },
        saveCheckpoint: async (ck) => {
          await saveCheckpoint(paths.checkpoint, ck, shapes);
          return paths.checkpoint;
        },
        shouldStop: cb.shouldStop,
      },
      checkpoint,
    );
    await Promise.all(pending);
    await writePeftAdapter(paths.adapter, { config: model.config, spec: o.lora, params: result.params, baseModel: req.model });
    rec.status = result.final.reason;
    rec.result = { ...result.final };
    await writeRunRecord(outDir, rec);
    await metrics.append(result.final);
    emit(result.final);
    return { runDir: outDir, adapterDir: paths.adapter, done: result.final };
  } catch (e) {
    const ev = trainErrorEvent(e);
    rec.status = "failed";
    rec.error = { code: ev.code, message: ev.message };
    await writeRunRecord(outDir, rec).catch(() => {});
    await metrics.append(ev).catch(() => {});
    throw e;
  } finally {
    dropCodeFile();
    await metrics.close();
    await engine?.dispose();
  }
}
