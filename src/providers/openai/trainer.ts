/**
 * OpenAI fine-tuning through the official `openai` SDK. The key comes only from OPENAI_API_KEY (and the
 * endpoint from OPENAI_BASE_URL, for compatible servers). Rate limits (429, honouring retry-after) and
 * server errors (5xx) are retried with backoff by the SDK itself (`maxRetries`); what still fails comes
 * back as a TrainerError value. Azure OpenAI (../azure) is this same trainer over the SDK's Azure client.
 *
 * OpenAI is closing self-serve fine-tuning: before an upload the trainer says when the base model
 * retires (the models endpoint's `shutdown_date`, else the calendar in catalog.ts), and a refused job
 * creation becomes a `fine_tuning_closed` error that names the ways that remain.
 */
import OpenAI, { toFile } from "openai";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { JobStatus } from "../../store/store.js";
import { knownRetirement, trainingCost } from "../catalog.js";
import { OPENAI_NEW_JOBS_END, openaiCapabilities } from "./catalog.js";
import { toTrainerError } from "../errors.js";
import { deleteEach, prepareEach, sleep, uploadOnce, type FileUploader } from "../files.js";
import { fail, ok, validateWithCapabilities } from "../types.js";
import type * as C from "../types.js";

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

export { openaiCapabilities };

export interface OpenAITrainerOptions {
  /** Environment to read OPENAI_API_KEY / OPENAI_BASE_URL from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Another client of the same API (the SDK's AzureOpenAI), with its provider id, name, base URL and
   * key (masked in messages); or the reason there is none (a missing variable).
   */
  client?: { sdk?: OpenAI; id: string; label: string; baseUrl: string; secret?: string; missing?: C.TrainerError; calendar?: boolean };
  /** Retries of 429 / 5xx / connection failures per request (default 4). */
  maxRetries?: number;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Poll interval while waiting for file processing (default 2 s). */
  pollMs?: number;
  /** Longest wait for a file to be processed (default 30 min). */
  fileProcessingTimeoutMs?: number;
}

const STATUS: Record<string, JobStatus> = {
  validating_files: "validating_files",
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
};

function snapshot(job: OpenAI.FineTuning.Jobs.FineTuningJob): C.JobSnapshot {
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

function toEvent(e: OpenAI.FineTuning.Jobs.FineTuningJobEvent): C.TrainerEvent {
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

/**
 * A refused job creation that means "no more fine-tuning jobs here": 403 on create, or a message that
 * says fine-tuning is closed, unavailable or not allowed for the organisation.
 */
export function isFineTuningClosed(e: C.TrainerError): boolean {
  if (e.code === "permission") return true;
  return /fine[- ]?tun\w*[^.]*\b(no longer|not (available|enabled|allowed|accepting)|closed|wind(ing)? down|deprecated)|not (eligible|allowed) to (create|fine[- ]?tune)/i.test(e.message);
}

/** The error a user gets when OpenAI refuses new fine-tuning jobs, with the ways that remain. */
export function fineTuningClosedError(e: C.TrainerError): C.TrainerError {
  return {
    ...e,
    code: "fine_tuning_closed",
    providerCode: e.providerCode ?? e.code,
    retryable: false,
    message:
      `OpenAI no longer accepts new fine-tuning jobs for this organisation (it answered: ${e.message.replace(/^OpenAI refused access \(403\): /, "").replace(/\. Your account or project may not have access.*$/, "")}). ` +
      `Self-serve fine-tuning closes for everyone on ${OPENAI_NEW_JOBS_END}. Train an open model instead and keep the weights: ` +
      "`--provider together` or `--provider fireworks` (hosted; `tunekit jobs pull` downloads the result), " +
      "or locally without --provider (`tunekit train DATA --model DIR|HUB_ID -o RUN_DIR`). See docs/moving-off-openai.md.",
  };
}

export class OpenAITrainer implements C.Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id: string;
  readonly label: string;
  readonly capabilities = openaiCapabilities;
  readonly baseUrl: string;
  private readonly client?: OpenAI;
  private readonly keyError?: C.TrainerError;
  private readonly secret?: string;
  private readonly pollMs: number;
  private readonly fileTimeoutMs: number;
  /** Whether OpenAI's own retirement calendar and wind-down apply (not on Azure). */
  private readonly calendar: boolean;

  constructor(options: OpenAITrainerOptions = {}) {
    const env = options.env ?? process.env;
    this.pollMs = options.pollMs ?? 2000;
    this.fileTimeoutMs = options.fileProcessingTimeoutMs ?? 30 * 60_000;
    if (options.client) {
      const c = options.client;
      this.id = c.id;
      this.label = c.label;
      this.baseUrl = c.baseUrl;
      this.calendar = c.calendar ?? false;
      if (c.secret) this.secret = c.secret;
      if (c.sdk) this.client = c.sdk;
      else this.keyError = c.missing ?? { code: "auth", message: `${c.label} is not configured`, retryable: false };
      return;
    }
    this.id = "openai";
    this.label = "OpenAI";
    this.calendar = true;
    this.baseUrl = (env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL).replace(/\/+$/, "");
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

  private async call<T>(fn: (c: OpenAI) => Promise<T>): Promise<C.TrainerResult<T>> {
    if (!this.client) return fail(this.keyError!);
    try {
      return ok(await fn(this.client));
    } catch (e) {
      return fail(toTrainerError(e, this.label, this.secret));
    }
  }

  validateParams(params: C.TrainParams): C.TrainerResult<C.TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  async prepare(data: C.TrainingData, options: C.PrepareOptions = {}): Promise<C.TrainerResult<C.PreparedData>> {
    if (!this.client) return fail(this.keyError!);
    const uploader: FileUploader = {
      provider: this.id,
      baseUrl: this.baseUrl,
      label: this.label,
      maxBytes: this.capabilities.maxFileBytes,
      stillUsable: async (id) => {
        const f = await this.call((c) => c.files.retrieve(id));
        return f.ok ? ok(f.value.status !== "error" && (f.value as { deleted?: boolean }).deleted !== true) : f;
      },
      upload: async (path) => {
        // OpenAI requires a .jsonl name; the local name may differ.
        const name = basename(path).replace(/\.(json|jsonl|txt)?$/i, "") + ".jsonl";
        const uploaded = await this.call(async (c) => c.files.create({ file: await toFile(createReadStream(path), name), purpose: "fine-tune" }));
        return uploaded.ok ? ok({ remoteFileId: uploaded.value.id, filename: name }) : uploaded;
      },
      ready: (id, path) => this.waitProcessed(id, path, options),
    };
    return prepareEach(data, (path) => uploadOnce(uploader, path, options));
  }

  private async waitProcessed(fileId: string, path: string, options: C.PrepareOptions): Promise<C.TrainerResult<true>> {
    const deadline = Date.now() + this.fileTimeoutMs;
    for (;;) {
      const f = await this.call((c) => c.files.retrieve(fileId));
      if (!f.ok) return f;
      if (f.value.status === "processed") {
        options.onProgress?.("ready", path);
        return ok(true);
      }
      if (f.value.status === "error") {
        return fail({ code: "file_processing", message: `${this.label} could not process ${path} (${fileId}): ${f.value.status_details ?? "no details given"}`, retryable: false });
      }
      if (Date.now() > deadline) return fail({ code: "file_processing", message: `${this.label} did not finish processing ${path} in time`, retryable: true });
      options.onProgress?.("processing", path);
      await sleep(this.pollMs, options.signal);
      if (options.signal?.aborted) return fail({ code: "aborted", message: "cancelled while waiting for file processing", retryable: false });
    }
  }

  async start(prepared: C.PreparedData, params: C.TrainParams): Promise<C.TrainerResult<C.JobSnapshot>> {
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
    if (!r.ok) return this.calendar && isFineTuningClosed(r.error) ? fail(fineTuningClosedError(r.error)) : r;
    return ok(snapshot(r.value));
  }

  /**
   * When the base model retires: the models endpoint's `shutdown_date` (a date or Unix seconds) if it
   * reports one, else the known calendar; plus the end of new jobs. A model the endpoint does not
   * know, or a failed lookup, falls back to the calendar.
   */
  async notices(params: C.TrainParams): Promise<C.Notice[]> {
    if (!this.calendar) return [];
    const out: C.Notice[] = [];
    let date: string | undefined;
    let from = "";
    const base = params.model.startsWith("ft:") ? params.model.slice(3).split(":")[0] : params.model;
    const m = await this.call((c) => c.models.retrieve(base));
    if (m.ok) {
      const raw = (m.value as unknown as Record<string, unknown>).shutdown_date;
      if (typeof raw === "number" && raw > 0) date = new Date(raw * 1000).toISOString().slice(0, 10);
      else if (typeof raw === "string" && /^\d{4}-\d{2}-\d{2}/.test(raw)) date = raw.slice(0, 10);
      if (date) from = "reported by OpenAI's models endpoint";
    }
    if (!date) {
      const known = knownRetirement(base);
      if (known) {
        date = known.shutdownDate;
        from = `OpenAI's deprecation calendar as of ${known.asOf}`;
      }
    }
    if (date) {
      out.push({
        code: "base_model_retires",
        date,
        message: `${base} retires on ${date} (${from}); a fine-tune of it stops answering the same day. Train an open model you can keep (\`--provider together|fireworks\`, or locally) if you need it longer.`,
      });
    }
    out.push({ code: "new_jobs_end", date: OPENAI_NEW_JOBS_END, message: `OpenAI creates no new fine-tuning jobs from ${OPENAI_NEW_JOBS_END}, and since 2026 only for organisations that fine-tuned recently.` });
    return out;
  }

  deleteFiles(fileIds: string[]): Promise<C.TrainerResult<string[]>> {
    return deleteEach(fileIds, (id) => this.call((c) => c.files.delete(id)));
  }

  async status(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.jobs.retrieve(remoteId));
    if (!r.ok) return r;
    const snap = snapshot(r.value);
    return ok(snap, snap.trainedTokens !== undefined ? { usage: { trainedTokens: snap.trainedTokens } } : {});
  }

  /**
   * OpenAI lists events newest first and `after` pages towards OLDER events, so new events since the
   * cursor are collected from the newest page down to the cursor, then returned oldest first.
   */
  async *events(remoteId: string, options: C.EventsOptions = {}): AsyncIterable<C.TrainerEvent | { kind: "error"; error: C.TrainerError }> {
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

  async checkpoints(remoteId: string): Promise<C.TrainerResult<C.Checkpoint[]>> {
    const r = await this.call(async (c) => {
      const all: C.Checkpoint[] = [];
      for await (const ck of c.fineTuning.jobs.checkpoints.list(remoteId, { limit: 100 })) {
        const metrics: Record<string, number> = {};
        for (const [k, v] of Object.entries(ck.metrics ?? {})) if (typeof v === "number") metrics[k] = v;
        all.push({ id: ck.id, step: ck.step_number, modelId: ck.fine_tuned_model_checkpoint, metrics, createdAt: ck.created_at * 1000 });
      }
      return all.sort((a, b) => a.step - b.step);
    });
    return r;
  }

  async cancel(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.jobs.cancel(remoteId));
    return r.ok ? ok(snapshot(r.value)) : r;
  }

  async findByTag(tag: string): Promise<C.TrainerResult<C.JobSnapshot | undefined>> {
    return this.call(async (c) => {
      // The metadata filter narrows the list; the tag is checked again in case a compatible server
      // ignores the filter (then only the newest 100 jobs are searched).
      const page = await c.fineTuning.jobs.list({ limit: 100, metadata: { tunekit_job: tag } });
      const found = page.data.find((j) => j.metadata?.tunekit_job === tag);
      return found ? snapshot(found) : undefined;
    });
  }

  async result(remoteId: string): Promise<C.TrainerResult<C.TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    const snap = s.value;
    if (snap.status === "succeeded" && snap.fineTunedModel) {
      // OpenAI bills trained tokens at the model's training price; it does not report the amount itself.
      const amount = snap.trainedTokens !== undefined ? trainingCost(this.id, snap.model, snap.trainedTokens) : undefined;
      const cost = amount !== undefined ? { amount, currency: "USD" as const, basis: "estimate" as const } : undefined;
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
