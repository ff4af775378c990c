/**
 * The local engine behind the Trainer interface, so the submission flow, `followJob`, the job store and
 * `tunekit jobs` treat a local LoRA run like a hosted job. The "remote id" is the run folder: status
 * comes from its run.json and events from its metrics.jsonl, so a run trained by another process
 * (`tunekit train -o DIR`) can be followed too. Training itself is the engine's `train()`; this module
 * only adapts it (and passes the engine's live events and phases to whoever shows them).
 */
import { existsSync, promises as fsp } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { JobStatus } from "../../store/store.js";
import { isTunekitError } from "../../util/errors.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../engine/train/defaults.js";
import type { LoraSpec } from "../../engine/train/engine.js";
import type { TrainEvent, TrainOptions } from "../../engine/train/loop.js";
import { readRunRecord, runPaths, type RunRecord } from "../../engine/train/run-dir.js";
import { resumeTraining, train, type TrainCallbacks, type TrainResult, type TrainRunEvent } from "../../engine/train/train-run.js";
import type { TrainBackend } from "../../engine/train/backend.js";
import { hashDataFile, prepareEach, sleep } from "../files.js";
import { localCapabilities } from "./catalog.js";
import { fail, ok, validateWithCapabilities } from "../types.js";
import type * as C from "../types.js";

export { localCapabilities };

export interface LocalTrainerOptions {
  /** Folder that new run folders are created in (when `outDir` is not given). */
  runsDir?: string;
  /** The run folder of the next `start` (`tunekit train -o DIR`). */
  outDir?: string;
  /** Engine options the TrainParams do not cover (max sequence length, packing, ...). */
  baseOptions?: Partial<TrainOptions>;
  /** Hold out this fraction of the data when no validation file is given. */
  testSplit?: number;
  /** The engine's live events, phases and stop request (a progress bar, Ctrl-C). */
  callbacks?: TrainCallbacks;
  /** Test seam: the engine's backend (default: the ONNX engine). */
  backend?: TrainBackend;
}

const RUN_STATUS: Record<RunRecord["status"], JobStatus> = {
  running: "running",
  completed: "succeeded",
  early_stopped: "succeeded",
  interrupted: "cancelled",
  failed: "failed",
};

interface LiveRun {
  stop: boolean;
  error?: C.TrainerError;
  /** The engine's own error (a TunekitError with its hint and exit code). */
  cause?: unknown;
  finished: boolean;
  done: Promise<TrainResult | undefined>;
}

/** "all-linear" or target names; the engine checks them against the model's family. */
function targetsOf(modules: string | undefined): LoraSpec["targets"] | undefined {
  if (!modules) return undefined;
  if (modules === "all-linear" || modules === "all") return "all-linear";
  const out = modules
    .split(",")
    .map((m) => m.trim().replace(/_proj$/, ""))
    .filter((m) => m.length > 0);
  return out.length > 0 ? out : undefined;
}

function toEvent(e: TrainRunEvent, id: string, at: number): C.TrainerEvent {
  switch (e.type) {
    case "step":
      return { kind: "metrics", id, createdAt: at, step: e.step, totalSteps: e.totalSteps, values: { train_loss: e.loss, learning_rate: e.lr, grad_norm: e.gradNorm, tokens_per_second: e.tokensPerSecond } };
    case "eval":
      return { kind: "metrics", id, createdAt: at, step: e.step, values: { valid_loss: e.heldOutLoss } };
    case "start":
      return { kind: "message", id, createdAt: at, level: "info", message: `training started: ${e.totalSteps} steps, ${e.trainExamples} examples, ${e.heldOutExamples} held out`, data: e };
    case "checkpoint":
      return { kind: "message", id, createdAt: at, level: "info", message: `checkpoint at step ${e.step}`, data: e };
    case "done":
      return { kind: "message", id, createdAt: at, level: "info", message: `training ${e.reason} at step ${e.step}`, data: e };
    case "warning":
      return { kind: "message", id, createdAt: at, level: "warn", message: e.message, data: e };
    case "error":
      return { kind: "message", id, createdAt: at, level: "error", message: e.message, data: e };
  }
}

/** An event id: the line's number and a hash of its text (a resume rewrites the file's tail). */
function lineId(i: number, text: string): string {
  return `line-${i}-${createHash("sha1").update(text).digest("hex").slice(0, 10)}`;
}

export class LocalTrainer implements C.Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id = "local";
  readonly capabilities = localCapabilities;
  private readonly live = new Map<string, LiveRun>();
  /** The engine's own error when the last `start` or `resume` failed at once (to rethrow it whole). */
  lastStartError?: unknown;

  constructor(private readonly options: LocalTrainerOptions = {}) {}

  validateParams(params: C.TrainParams): C.TrainerResult<C.TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  /** Nothing to upload: the files are hashed (the store keeps the hash) and used in place. */
  async prepare(data: C.TrainingData): Promise<C.TrainerResult<C.PreparedData>> {
    return prepareEach(data, async (path) => {
      const hashed = await hashDataFile(path);
      return hashed.ok ? ok({ path, ...hashed.value, remoteFileId: resolve(path), reused: true }) : hashed;
    });
  }

  /** The engine options a job's parameters give (the base options, then the parameters). */
  engineOptions(params: C.TrainParams): TrainOptions {
    const hp = params.hyperparameters ?? {};
    const base = { ...DEFAULT_TRAIN_OPTIONS, ...this.options.baseOptions };
    const targets = targetsOf(params.lora?.modules);
    return {
      ...base,
      ...(typeof hp.n_epochs === "number" ? { epochs: hp.n_epochs } : {}),
      ...(typeof hp.batch_size === "number" ? { batchSize: hp.batch_size } : {}),
      ...(typeof hp.learning_rate === "number" ? { lr: hp.learning_rate } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      lora: {
        ...base.lora,
        ...(params.lora?.r !== undefined ? { r: params.lora.r } : {}),
        ...(params.lora?.alpha !== undefined ? { alpha: params.lora.alpha } : {}),
        ...(params.lora?.dropout !== undefined ? { dropout: params.lora.dropout } : {}),
        ...(targets ? { targets } : {}),
      },
    };
  }

  /** The folder the next `start` trains into. */
  nextRunDir(): string {
    if (this.options.outDir) return resolve(this.options.outDir);
    return join(resolve(this.options.runsDir ?? "."), `run-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`);
  }

  async start(prepared: C.PreparedData, params: C.TrainParams): Promise<C.TrainerResult<C.JobSnapshot>> {
    const checked = this.validateParams(params);
    if (!checked.ok) return checked;
    const dir = this.nextRunDir();
    const options = this.engineOptions(params);
    return this.launch(dir, params.model, (cb) =>
      train(
        {
          data: prepared.training.path,
          model: params.model,
          outDir: dir,
          ...(prepared.validation ? { validation: prepared.validation.path } : this.options.testSplit !== undefined ? { testSplit: this.options.testSplit } : {}),
          options,
        },
        cb,
        ...(this.options.backend ? [this.options.backend] : []),
      ),
    );
  }

  /** Continues an interrupted run in its own folder, with the options it was started with. */
  async resume(runDir: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const dir = resolve(runDir);
    return this.launch(dir, "", (cb) => resumeTraining(dir, cb, ...(this.options.backend ? [this.options.backend] : [])));
  }

  /**
   * Starts the engine in the background and returns once it has checked its folder (an occupied
   * folder fails here, not later) or failed before its first phase.
   */
  private async launch(dir: string, model: string, run: (cb: TrainCallbacks) => Promise<TrainResult>): Promise<C.TrainerResult<C.JobSnapshot>> {
    const user = this.options.callbacks ?? {};
    let begun!: () => void;
    const begin = new Promise<void>((r) => (begun = r));
    const live: LiveRun = { stop: false, finished: false, done: Promise.resolve(undefined) };
    let phased = false;
    const cb: TrainCallbacks = {
      onEvent: (e) => user.onEvent?.(e),
      onPhase: (text) => {
        phased = true;
        begun();
        user.onPhase?.(text);
      },
      shouldStop: () => live.stop || user.shouldStop?.() === true,
    };
    live.done = run(cb)
      .catch((e) => {
        live.cause = e;
        live.error = isTunekitError(e) ? { code: e.code, message: e.message, retryable: false } : { code: "training_failed", message: (e as Error)?.message ?? String(e), retryable: false };
        return undefined;
      })
      .finally(() => {
        live.finished = true;
        begun();
      });
    await begin;
    if (live.finished && live.error && !phased) {
      // Refused before it began (an occupied folder, a run already finished): nothing changed.
      this.lastStartError = live.cause;
      return fail(live.error);
    }
    this.live.set(dir, live);
    return ok({ remoteId: dir, status: "running", providerStatus: "running", model, outputDir: dir, createdAt: Date.now() });
  }

  /**
   * The engine's result for a run this trainer started: the TrainResult, or the engine's own error
   * thrown again (its code, hint and exit code intact).
   */
  async finished(remoteId: string): Promise<TrainResult> {
    const live = this.live.get(remoteId);
    if (!live) throw new Error(`${remoteId} was not started by this trainer`);
    const r = await live.done;
    if (r) return r;
    throw live.cause;
  }

  /** Resolves after `ms`, or as soon as a run of this process ends (so its end is recorded at once). */
  async waitForChange(remoteId: string, ms: number, signal?: AbortSignal): Promise<void> {
    const live = this.live.get(remoteId);
    await Promise.race([sleep(ms, signal), ...(live && !live.finished ? [live.done] : [])]);
  }

  async status(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const live = this.live.get(remoteId);
    let rec: RunRecord | undefined;
    if (existsSync(runPaths(remoteId).run)) {
      try {
        rec = await readRunRecord(remoteId);
      } catch (e) {
        return fail({ code: "bad_run", message: (e as Error).message, retryable: false });
      }
    }
    if (live?.finished && live.error) {
      return ok({ remoteId, status: "failed", providerStatus: "failed", model: rec?.model ?? "", outputDir: remoteId, error: { code: live.error.code, message: live.error.message } });
    }
    if (!rec) {
      if (live) return ok({ remoteId, status: "running", providerStatus: "starting", model: "", outputDir: remoteId });
      return fail({ code: "not_found", message: `${remoteId} is not a tunekit run folder`, retryable: false });
    }
    // A run left "running" by a process that is gone would never finish: only trust "running" for
    // runs of this process or folders still being written to.
    let status = RUN_STATUS[rec.status];
    if (live?.finished && status === "running") status = "failed";
    // A resumed run still shows its old "interrupted" until the engine rewrites run.json.
    if (live && !live.finished) status = "running";
    const snap: C.JobSnapshot = {
      remoteId,
      status,
      providerStatus: rec.status,
      model: rec.model,
      outputDir: remoteId,
      createdAt: Date.parse(rec.createdAt),
      ...(status === "succeeded" || status === "failed" || status === "cancelled" ? { finishedAt: Date.parse(rec.updatedAt) } : {}),
      hyperparameters: { n_epochs: rec.options.epochs, batch_size: rec.options.batchSize, learning_rate: rec.options.lr, lora: rec.options.lora },
      ...(rec.error ? { error: { code: rec.error.code, message: rec.error.message } } : {}),
    };
    return ok(snap);
  }

  async *events(remoteId: string, options: C.EventsOptions = {}): AsyncIterable<C.TrainerEvent | { kind: "error"; error: C.TrainerError }> {
    let text: string;
    try {
      text = await fsp.readFile(runPaths(remoteId).metrics, "utf8");
    } catch {
      return; // no events yet
    }
    // The last line may be half written: only newline-terminated lines count.
    const complete = text.split("\n").slice(0, -1);
    let start = 0;
    const m = /^line-(\d+)-([0-9a-f]+)$/.exec(options.after ?? "");
    if (m) {
      const n = Number(m[1]);
      // The cursor's line is still there unchanged: go on after it; a resumed run rewrote the tail: from the top (ids dedupe).
      if (n < complete.length && lineId(n, complete[n]) === options.after) start = n + 1;
    }
    const mtime = Date.now();
    for (let i = start; i < complete.length; i++) {
      let e: TrainRunEvent;
      try {
        e = JSON.parse(complete[i]) as TrainEvent;
      } catch {
        continue;
      }
      yield toEvent(e, lineId(i, complete[i]), mtime);
    }
  }

  async checkpoints(remoteId: string): Promise<C.TrainerResult<C.Checkpoint[]>> {
    const out: C.Checkpoint[] = [];
    for await (const e of this.events(remoteId)) {
      if (e.kind === "message" && (e.data as TrainEvent | undefined)?.type === "checkpoint") {
        const ck = e.data as Extract<TrainEvent, { type: "checkpoint" }>;
        out.push({ id: `step-${ck.step}`, step: ck.step, modelId: ck.path, metrics: {}, createdAt: e.createdAt });
      }
    }
    return ok(out);
  }

  async cancel(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const live = this.live.get(remoteId);
    if (!live) {
      return fail({ code: "not_cancellable", message: `${remoteId} is trained by another process; stop that process (Ctrl-C) instead`, retryable: false });
    }
    live.stop = true;
    return ok({ remoteId, status: "running", providerStatus: "stopping", model: "" });
  }

  async result(remoteId: string): Promise<C.TrainerResult<C.TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    if (s.value.status === "succeeded" && existsSync(runPaths(remoteId).adapter)) return ok({ kind: "local", adapterDir: runPaths(remoteId).adapter });
    return fail({ code: s.value.status === "failed" ? "job_failed" : "not_finished", message: `the run is ${s.value.status}${s.value.error ? `: ${s.value.error.message}` : ""}`, retryable: false });
  }
}

export function createLocalTrainer(options: LocalTrainerOptions = {}): LocalTrainer {
  return new LocalTrainer(options);
}
