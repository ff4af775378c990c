/**
 * The local engine behind the Trainer interface, so `followJob`, the job store and `tunekit jobs` treat a
 * local LoRA run like a hosted job. The "remote id" is the run folder: status comes from its run.json
 * and events from its metrics.jsonl (one event per line; the line number is the event id), so a run
 * started by another process (`tunekit train -o DIR`) can be followed too. Training itself is the
 * engine's `train()`; this module only adapts it.
 */
import { existsSync, promises as fsp } from "node:fs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import type { JobStatus } from "../../store/store.js";
import { isTunekitError } from "../../util/errors.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../engine/train/defaults.js";
import type { LoraSpec } from "../../engine/train/engine.js";
import type { TrainEvent, TrainOptions } from "../../engine/train/loop.js";
import { readRunRecord, runPaths, type RunRecord } from "../../engine/train/run-dir.js";
import { train, type TrainRunEvent } from "../../engine/train/train-run.js";
import type { TrainBackend } from "../../engine/train/backend.js";
import { sha256File } from "../files.js";
import {
  fail,
  ok,
  validateWithCapabilities,
  type Checkpoint,
  type EventsOptions,
  type JobSnapshot,
  type PreparedData,
  type PreparedFile,
  type Trainer,
  type TrainerCapabilities,
  type TrainerError,
  type TrainerEvent,
  type TrainerResult,
  type TrainingData,
  type TrainingOutput,
  type TrainParams,
} from "../types.js";

export interface LocalTrainerOptions {
  /** Folder that new run folders are created in. */
  runsDir: string;
  /** Engine options the TrainParams do not cover (max sequence length, packing, ...). */
  baseOptions?: Partial<TrainOptions>;
  /** Test seam: the engine's backend (default: the ONNX engine). */
  backend?: TrainBackend;
}

export const localCapabilities: TrainerCapabilities = {
  hosted: false,
  methods: ["supervised-lora"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data", auto: true, integer: true, min: 1, max: 1000 },
    batch_size: { description: "examples per micro-batch", auto: true, integer: true, min: 1, max: 4096 },
    learning_rate: { description: "peak learning rate", auto: true, integer: false, min: 1e-8, max: 1 },
  },
  minExamples: 1,
  suffix: false,
  seed: true,
  lora: true,
  autoEpochs: DEFAULT_TRAIN_OPTIONS.epochs,
};

const RUN_STATUS: Record<RunRecord["status"], JobStatus> = {
  running: "running",
  completed: "succeeded",
  early_stopped: "succeeded",
  interrupted: "cancelled",
  failed: "failed",
};

interface LiveRun {
  stop: boolean;
  error?: TrainerError;
  finished: boolean;
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

function toEvent(e: TrainRunEvent, id: string, at: number): TrainerEvent {
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

export class LocalTrainer implements Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id = "local";
  readonly capabilities = localCapabilities;
  private readonly live = new Map<string, LiveRun>();

  constructor(private readonly options: LocalTrainerOptions) {}

  validateParams(params: TrainParams): TrainerResult<TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  /** Nothing to upload: the files are hashed (the store keeps the hash) and used in place. */
  async prepare(data: TrainingData): Promise<TrainerResult<PreparedData>> {
    const one = async (path: string): Promise<TrainerResult<PreparedFile>> => {
      try {
        const { sha256, bytes } = await sha256File(path);
        return ok({ path, sha256, bytes, remoteFileId: resolve(path), reused: true });
      } catch (e) {
        return fail({ code: "file_read", message: `cannot read ${path}: ${(e as Error).message}`, retryable: false });
      }
    };
    const training = await one(data.trainingFile);
    if (!training.ok) return training;
    if (!data.validationFile) return ok({ training: training.value });
    const validation = await one(data.validationFile);
    if (!validation.ok) return validation;
    return ok({ training: training.value, validation: validation.value });
  }

  async start(prepared: PreparedData, params: TrainParams): Promise<TrainerResult<JobSnapshot>> {
    const checked = this.validateParams(params);
    if (!checked.ok) return checked;
    const hp = params.hyperparameters ?? {};
    const base = { ...DEFAULT_TRAIN_OPTIONS, ...this.options.baseOptions };
    const targets = targetsOf(params.lora?.modules);
    const options: TrainOptions = {
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
    const dir = join(resolve(this.options.runsDir), `run-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}-${randomBytes(3).toString("hex")}`);
    const run: LiveRun = { stop: false, finished: false };
    this.live.set(dir, run);
    // Runs in the background; progress is read back from the run folder like any other run.
    void train(
      { data: prepared.training.path, model: params.model, outDir: dir, ...(prepared.validation ? { validation: prepared.validation.path } : {}), options },
      { shouldStop: () => run.stop },
      ...(this.options.backend ? [this.options.backend] : []),
    )
      .catch((e) => {
        run.error = isTunekitError(e)
          ? { code: e.code, message: e.message, retryable: false }
          : { code: "training_failed", message: (e as Error)?.message ?? String(e), retryable: false };
      })
      .finally(() => {
        run.finished = true;
      });
    return ok({ remoteId: dir, status: "queued", providerStatus: "starting", model: params.model, createdAt: Date.now() });
  }

  async status(remoteId: string): Promise<TrainerResult<JobSnapshot>> {
    const live = this.live.get(remoteId);
    let rec: RunRecord | undefined;
    if (existsSync(runPaths(remoteId).run)) {
      try {
        rec = await readRunRecord(remoteId);
      } catch (e) {
        return fail({ code: "bad_run", message: (e as Error).message, retryable: false });
      }
    }
    if (live?.error) {
      return ok({ remoteId, status: "failed", providerStatus: "failed", model: rec?.model ?? "", error: { code: live.error.code, message: live.error.message } });
    }
    if (!rec) {
      if (live) return ok({ remoteId, status: "queued", providerStatus: "starting", model: "" });
      return fail({ code: "not_found", message: `${remoteId} is not a tunekit run folder`, retryable: false });
    }
    // A run left "running" by a process that is gone would never finish: only trust "running" for
    // runs of this process or folders still being written to.
    let status = RUN_STATUS[rec.status];
    if (live?.finished && status === "running") status = "failed";
    const snap: JobSnapshot = {
      remoteId,
      status,
      providerStatus: rec.status,
      model: rec.model,
      createdAt: Date.parse(rec.createdAt),
      ...(status === "succeeded" || status === "failed" || status === "cancelled" ? { finishedAt: Date.parse(rec.updatedAt) } : {}),
      hyperparameters: { n_epochs: rec.options.epochs, batch_size: rec.options.batchSize, learning_rate: rec.options.lr, lora: rec.options.lora },
      ...(rec.error ? { error: { code: rec.error.code, message: rec.error.message } } : {}),
      ...(status === "succeeded" && existsSync(runPaths(remoteId).adapter) ? { outputDir: runPaths(remoteId).adapter } : {}),
    };
    return ok(snap);
  }

  async *events(remoteId: string, options: EventsOptions = {}): AsyncIterable<TrainerEvent | { kind: "error"; error: TrainerError }> {
    let text: string;
    try {
      text = await fsp.readFile(runPaths(remoteId).metrics, "utf8");
    } catch {
      return; // no events yet
    }
    // The last line may be half written: only newline-terminated lines count.
    const complete = text.split("\n").slice(0, -1);
    const start = options.after !== undefined ? Number(options.after.replace(/^line-/, "")) + 1 : 0;
    const mtime = Date.now();
    for (let i = Math.max(0, start); i < complete.length; i++) {
      let e: TrainRunEvent;
      try {
        e = JSON.parse(complete[i]) as TrainEvent;
      } catch {
        continue;
      }
      yield toEvent(e, `line-${i}`, mtime);
    }
  }

  async checkpoints(remoteId: string): Promise<TrainerResult<Checkpoint[]>> {
    const out: Checkpoint[] = [];
    for await (const e of this.events(remoteId)) {
      if (e.kind === "message" && (e.data as TrainEvent | undefined)?.type === "checkpoint") {
        const ck = e.data as Extract<TrainEvent, { type: "checkpoint" }>;
        out.push({ id: `step-${ck.step}`, step: ck.step, modelId: ck.path, metrics: {}, createdAt: e.createdAt });
      }
    }
    return ok(out);
  }

  async cancel(remoteId: string): Promise<TrainerResult<JobSnapshot>> {
    const live = this.live.get(remoteId);
    if (!live) {
      return fail({ code: "not_cancellable", message: `${remoteId} is trained by another process; stop that process (Ctrl-C) instead`, retryable: false });
    }
    live.stop = true;
    return ok({ remoteId, status: "running", providerStatus: "stopping", model: "" });
  }

  async result(remoteId: string): Promise<TrainerResult<TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    if (s.value.status === "succeeded" && existsSync(runPaths(remoteId).adapter)) return ok({ kind: "local", adapterDir: runPaths(remoteId).adapter });
    return fail({ code: s.value.status === "failed" ? "job_failed" : "not_finished", message: `the run is ${s.value.status}${s.value.error ? `: ${s.value.error.message}` : ""}`, retryable: false });
  }
}

export function createLocalTrainer(options: LocalTrainerOptions): LocalTrainer {
  return new LocalTrainer(options);
}
