/**
 * OpenAI fine-tuning through the official `openai` SDK. The key comes only from OPENAI_API_KEY (and the
 * endpoint from OPENAI_BASE_URL, for compatible servers). Rate limits (429, honouring retry-after) and
 * server errors (5xx) are retried with backoff by the SDK itself (`maxRetries`); what still fails comes
 * back as a TrainerError value.
 */
import OpenAI, { toFile } from "openai";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { JobStatus } from "../../store/store.js";
import { trainingPricePerMTok } from "../../dataset/analysis/cost.js";
import { toTrainerError } from "../errors.js";
import { sha256File, sleep } from "../files.js";
import {
  fail,
  ok,
  validateWithCapabilities,
  type Checkpoint,
  type EventsOptions,
  type JobSnapshot,
  type PreparedData,
  type PreparedFile,
  type PrepareOptions,
  type Trainer,
  type TrainerCapabilities,
  type TrainerError,
  type TrainerEvent,
  type TrainerResult,
  type TrainingData,
  type TrainingOutput,
  type TrainParams,
} from "../types.js";

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

export interface OpenAITrainerOptions {
  /** Environment to read OPENAI_API_KEY / OPENAI_BASE_URL from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Retries of 429 / 5xx / connection failures per request (default 4). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Poll interval while waiting for file processing (default 2 s). */
  pollMs?: number;
  /** Longest wait for a file to be processed (default 30 min). */
  fileProcessingTimeoutMs?: number;
}

export const openaiCapabilities: TrainerCapabilities = {
  hosted: true,
  methods: ["supervised"],
  hyperparameters: {
    n_epochs: { description: "passes over the training data", auto: true, integer: true, min: 1, max: 50 },
    batch_size: { description: "examples per step", auto: true, integer: true, min: 1, max: 256 },
    learning_rate_multiplier: { description: "scales OpenAI's default learning rate", auto: true, integer: false, min: 0.00001, max: 50 },
  },
  maxFileBytes: 512 * 1024 * 1024,
  minExamples: 10,
  suffix: true,
  seed: true,
};

const STATUS: Record<string, JobStatus> = {
  validating_files: "validating_files",
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};

function snapshot(job: OpenAI.FineTuning.Jobs.FineTuningJob): JobSnapshot {
  return {
    remoteId: job.id,
    status: STATUS[job.status] ?? "running",
    providerStatus: job.status,
    model: job.model,
    ...(job.fine_tuned_model ? { fineTunedModel: job.fine_tuned_model } : {}),
    ...(typeof job.trained_tokens === "number" ? { trainedTokens: job.trained_tokens } : {}),
    ...(typeof job.estimated_finish === "number" ? { estimatedFinish: job.estimated_finish * 1000 } : {}),
    ...(typeof job.created_at === "number" ? { createdAt: job.created_at * 1000 } : {}),
    ...(typeof job.finished_at === "number" ? { finishedAt: job.finished_at * 1000 } : {}),
    hyperparameters: { ...(job.method?.supervised?.hyperparameters ?? job.hyperparameters ?? {}) },
    ...(job.error && (job.error.code || job.error.message)
      ? { error: { code: job.error.code ?? "job_failed", message: job.error.message ?? "the job failed", param: job.error.param ?? null } }
      : {}),
  };
}

function toEvent(e: OpenAI.FineTuning.Jobs.FineTuningJobEvent): TrainerEvent {
  const createdAt = e.created_at * 1000;
  const data = (e.data ?? undefined) as Record<string, unknown> | undefined;
  if (e.type === "metrics" && data && typeof data.step === "number") {
    const values: Record<string, number> = {};
    for (const [k, v] of Object.entries(data)) {
      if (k !== "step" && k !== "total_steps" && typeof v === "number" && Number.isFinite(v)) values[k] = v;
    }
    return {
      kind: "metrics",
      id: e.id,
      createdAt,
      step: data.step,
      ...(typeof data.total_steps === "number" ? { totalSteps: data.total_steps } : {}),
      values,
      message: e.message,
    };
  }
  return { kind: "message", id: e.id, createdAt, level: e.level, message: e.message, ...(data ? { data } : {}) };
}

export class OpenAITrainer implements Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id = "openai";
  readonly capabilities = openaiCapabilities;
  readonly baseUrl: string;
  private readonly client?: OpenAI;
  private readonly keyError?: TrainerError;
  private readonly secret?: string;
  private readonly pollMs: number;
  private readonly fileTimeoutMs: number;

  constructor(options: OpenAITrainerOptions = {}) {
    const env = options.env ?? process.env;
    this.baseUrl = (env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.pollMs = options.pollMs ?? 2000;
    this.fileTimeoutMs = options.fileProcessingTimeoutMs ?? 30 * 60_000;
    const apiKey = env.OPENAI_API_KEY;
    if (!apiKey) {
      this.keyError = { code: "auth", message: "OPENAI_API_KEY is not set: export your OpenAI API key in the environment", retryable: false };
      return;
    }
    this.secret = apiKey;
    this.client = new OpenAI({
      apiKey,
      baseURL: this.baseUrl,
      organization: env.OPENAI_ORG_ID ?? null,
      project: env.OPENAI_PROJECT_ID ?? null,
      maxRetries: options.maxRetries ?? 4,
      timeout: options.timeoutMs ?? 120_000,
      logLevel: "off",
    });
  }

  private async call<T>(fn: (c: OpenAI) => Promise<T>): Promise<TrainerResult<T>> {
    if (!this.client) return fail(this.keyError!);
    try {
      return ok(await fn(this.client));
    } catch (e) {
      return fail(toTrainerError(e, "OpenAI", this.secret));
    }
  }

  validateParams(params: TrainParams): TrainerResult<TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  async prepare(data: TrainingData, options: PrepareOptions = {}): Promise<TrainerResult<PreparedData>> {
    if (!this.client) return fail(this.keyError!);
    const training = await this.prepareFile(data.trainingFile, options);
    if (!training.ok) return training;
    if (!data.validationFile) return ok({ training: training.value });
    const validation = await this.prepareFile(data.validationFile, options);
    if (!validation.ok) return validation;
    return ok({ training: training.value, validation: validation.value });
  }

  private async prepareFile(path: string, options: PrepareOptions): Promise<TrainerResult<PreparedFile>> {
    options.onProgress?.("hashing", path);
    let hashed;
    try {
      hashed = await sha256File(path);
    } catch (e) {
      return fail({ code: "file_read", message: `cannot read ${path}: ${(e as Error).message}`, retryable: false });
    }
    const { sha256, bytes } = hashed;
    if (this.capabilities.maxFileBytes && bytes > this.capabilities.maxFileBytes) {
      return fail({ code: "invalid_file", message: `${path} is ${bytes} bytes; OpenAI accepts at most 512 MB per file`, retryable: false });
    }
    const cache = options.cache;
    const cached = cache?.findUploadedFile(this.id, this.baseUrl, "fine-tune", sha256);
    if (cached) {
      const remote = await this.call((c) => c.files.retrieve(cached.remoteFileId));
      if (remote.ok && remote.value.status !== "error" && (remote.value as { deleted?: boolean }).deleted !== true) {
        options.onProgress?.("reused", path);
        const ready = await this.waitProcessed(remote.value.id, path, options);
        if (!ready.ok) return ready;
        return ok({ path, sha256, bytes, remoteFileId: remote.value.id, reused: true });
      }
      if (!remote.ok && remote.error.code !== "not_found") return remote;
      cache!.forgetUploadedFile(this.id, this.baseUrl, "fine-tune", sha256);
    }
    options.onProgress?.("uploading", path);
    // OpenAI requires a .jsonl name; the local name may differ.
    const name = basename(path).replace(/\.(json|jsonl|txt)?$/i, "") + ".jsonl";
    const uploaded = await this.call(async (c) => c.files.create({ file: await toFile(createReadStream(path), name), purpose: "fine-tune" }));
    if (!uploaded.ok) return uploaded;
    cache?.recordUploadedFile({ provider: this.id, baseUrl: this.baseUrl, purpose: "fine-tune", sha256, remoteFileId: uploaded.value.id, filename: name, bytes });
    const ready = await this.waitProcessed(uploaded.value.id, path, options);
    if (!ready.ok) {
      cache?.forgetUploadedFile(this.id, this.baseUrl, "fine-tune", sha256);
      return ready;
    }
    return ok({ path, sha256, bytes, remoteFileId: uploaded.value.id, reused: false });
  }

  private async waitProcessed(fileId: string, path: string, options: PrepareOptions): Promise<TrainerResult<true>> {
    const deadline = Date.now() + this.fileTimeoutMs;
    for (;;) {
      const f = await this.call((c) => c.files.retrieve(fileId));
      if (!f.ok) return f;
      if (f.value.status === "processed") {
        options.onProgress?.("ready", path);
        return ok(true);
      }
      if (f.value.status === "error") {
        return fail({ code: "file_processing", message: `OpenAI could not process ${path} (${fileId}): ${f.value.status_details ?? "no details given"}`, retryable: false });
      }
      if (Date.now() > deadline) return fail({ code: "file_processing", message: `OpenAI did not finish processing ${path} in time`, retryable: true });
      options.onProgress?.("processing", path);
      await sleep(this.pollMs, options.signal);
      if (options.signal?.aborted) return fail({ code: "aborted", message: "cancelled while waiting for file processing", retryable: false });
    }
  }

  async start(prepared: PreparedData, params: TrainParams): Promise<TrainerResult<JobSnapshot>> {
    const checked = this.validateParams(params);
    if (!checked.ok) return checked;
    const hp = params.hyperparameters ?? {};
    const hyperparameters: Record<string, number | "auto"> = {};
    for (const k of ["n_epochs", "batch_size", "learning_rate_multiplier"] as const) {
      if (hp[k] !== undefined) hyperparameters[k] = hp[k]!;
    }
    const body: OpenAI.FineTuning.Jobs.JobCreateParams = {
      model: params.model,
      training_file: prepared.training.remoteFileId,
      ...(prepared.validation ? { validation_file: prepared.validation.remoteFileId } : {}),
      ...(params.suffix !== undefined ? { suffix: params.suffix } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.metadata ? { metadata: params.metadata } : {}),
      method: { type: "supervised", supervised: { hyperparameters: hyperparameters as never } },
    };
    const r = await this.call((c) => c.fineTuning.jobs.create(body));
    return r.ok ? ok(snapshot(r.value)) : r;
  }

  async status(remoteId: string): Promise<TrainerResult<JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.jobs.retrieve(remoteId));
    if (!r.ok) return r;
    const snap = snapshot(r.value);
    return ok(snap, snap.trainedTokens !== undefined ? { usage: { trainedTokens: snap.trainedTokens } } : {});
  }

  /**
   * OpenAI lists events newest first and `after` pages towards OLDER events, so new events since the
   * cursor are collected from the newest page down to the cursor, then returned oldest first.
   */
  async *events(remoteId: string, options: EventsOptions = {}): AsyncIterable<TrainerEvent | { kind: "error"; error: TrainerError }> {
    if (!this.client) {
      yield { kind: "error", error: this.keyError! };
      return;
    }
    const fresh: OpenAI.FineTuning.Jobs.FineTuningJobEvent[] = [];
    let after: string | undefined;
    outer: for (;;) {
      const page = await this.call((c) => c.fineTuning.jobs.listEvents(remoteId, { limit: 100, ...(after ? { after } : {}) }));
      if (!page.ok) {
        yield { kind: "error", error: page.error };
        return;
      }
      const items = page.value.data;
      for (const e of items) {
        if (options.after && e.id === options.after) break outer;
        fresh.push(e);
      }
      if (!page.value.has_more || items.length === 0) break;
      after = items[items.length - 1].id;
    }
    for (let i = fresh.length - 1; i >= 0; i--) yield toEvent(fresh[i]);
  }

  async checkpoints(remoteId: string): Promise<TrainerResult<Checkpoint[]>> {
    const r = await this.call(async (c) => {
      const all: Checkpoint[] = [];
      for await (const ck of c.fineTuning.jobs.checkpoints.list(remoteId, { limit: 100 })) {
        const metrics: Record<string, number> = {};
        for (const [k, v] of Object.entries(ck.metrics ?? {})) if (typeof v === "number") metrics[k] = v;
        all.push({ id: ck.id, step: ck.step_number, modelId: ck.fine_tuned_model_checkpoint, metrics, createdAt: ck.created_at * 1000 });
      }
      return all.sort((a, b) => a.step - b.step);
    });
    return r;
  }

  async cancel(remoteId: string): Promise<TrainerResult<JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.jobs.cancel(remoteId));
    return r.ok ? ok(snapshot(r.value)) : r;
  }

  async findByTag(tag: string): Promise<TrainerResult<JobSnapshot | undefined>> {
    return this.call(async (c) => {
      // The metadata filter narrows the list; the tag is checked again in case a compatible server
      // ignores the filter (then only the newest 100 jobs are searched).
      const page = await c.fineTuning.jobs.list({ limit: 100, metadata: { tunekit_job: tag } });
      const found = page.data.find((j) => j.metadata?.tunekit_job === tag);
      return found ? snapshot(found) : undefined;
    });
  }

  async result(remoteId: string): Promise<TrainerResult<TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    const snap = s.value;
    if (snap.status === "succeeded" && snap.fineTunedModel) {
      // OpenAI bills trained tokens at the model's training price; it does not report the amount itself.
      const price = snap.trainedTokens !== undefined ? trainingPricePerMTok(snap.model) : undefined;
      const cost = price !== undefined ? { amount: Math.round(((snap.trainedTokens! / 1e6) * price) * 10000) / 10000, currency: "USD" as const, basis: "estimate" as const } : undefined;
      return ok(
        { kind: "hosted", model: snap.fineTunedModel, ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}) },
        { ...(s.usage ? { usage: s.usage } : {}), ...(cost ? { cost } : {}) },
      );
    }
    if (snap.status === "failed") {
      return fail({ code: "job_failed", message: `the job failed: ${snap.error?.code ?? "error"}: ${snap.error?.message ?? "no reason given"}`, retryable: false, providerCode: snap.error?.code ?? null, param: snap.error?.param ?? null });
    }
    return fail({ code: "not_finished", message: `the job is ${snap.status}, no model yet`, retryable: false });
  }
}

export function createOpenAITrainer(options: OpenAITrainerOptions = {}): OpenAITrainer {
  return new OpenAITrainer(options);
}
