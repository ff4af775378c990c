/**
 * Together AI fine-tuning through the official `together-ai` SDK: LoRA by default (r 8, alpha 16,
 * all linear layers), supervised ("sft") method. The key comes only from TOGETHER_API_KEY, the endpoint
 * from TOGETHER_BASE_URL.
 *
 * Two facts of the SDK (together-ai 0.52) shape this module:
 * - Its `files.upload` does not work on Node 20's fetch (it PUTs a file stream without `duplex: "half"`,
 *   which undici rejects), and it reads its endpoint from TOGETHER_API_BASE_URL once at import, apart
 *   from the client's baseURL. So `upload.ts` performs the same documented two-step upload (POST
 *   /files -> 302 to a presigned URL -> PUT the bytes), against the client's base URL; everything else
 *   goes through the SDK.
 * - The events endpoint has no ids and no cursor: each poll reads the whole (short) list, events get a
 *   stable id from their content, and the store drops the ones it already has.
 * Metrics come from `listMetrics` (objects of numbers keyed by name, with `global_step`).
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { JobStatus } from "../../store/store.js";
import { basename } from "node:path";
import { toTrainerError } from "../errors.js";
import { extractTarStream } from "../archive.js";
import { findWeights } from "../weights.js";
import { uploadFile } from "./upload.js";
import { togetherCapabilities } from "./catalog.js";
import { deleteEach, prepareEach, sleep, uploadOnce, type FileUploader } from "../files.js";
import { fail, ok, validateWithCapabilities } from "../types.js";
import type * as C from "../types.js";
import type TogetherClient from "together-ai";

export const TOGETHER_DEFAULT_BASE_URL = "https://api.together.xyz/v1";

export interface TogetherTrainerOptions {
  env?: NodeJS.ProcessEnv;
  maxRetries?: number;
  timeoutMs?: number;
  pollMs?: number;
  fileProcessingTimeoutMs?: number;
  /** LoRA settings (LoRA is the default training type). */
  lora?: { r?: number; alpha?: number; dropout?: number; modules?: string } | false;
}

export { togetherCapabilities };

const STATUS: Record<string, JobStatus> = {
  pending: "queued",
  queued: "queued",
  running: "running",
  compressing: "running",
  uploading: "running",
  cancel_requested: "running",
  cancelled: "cancelled",
  error: "failed",
  completed: "succeeded",
};

type FinetuneResponse = TogetherClient.FineTuning.FinetuneResponse;
type FinetuneEvent = TogetherClient.FineTuning.FinetuneEvent;

const ms = (iso: string | undefined): number | undefined => {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : undefined;
};

function eventId(e: FinetuneEvent): string {
  return "tgev-" + createHash("sha1").update(`${e.created_at}|${e.type}|${e.step ?? ""}|${e.message}`).digest("hex").slice(0, 16);
}

function jobError(job: FinetuneResponse): C.JobSnapshot["error"] | undefined {
  if (job.status !== "error") return undefined;
  const ev = [...(job.events ?? [])].reverse().find((e) => e.type === "job_error" || e.level === "error");
  return { code: ev?.type ?? "job_error", message: ev?.message ?? "the job failed (Together gave no reason)", param: null };
}

function snapshot(job: FinetuneResponse): C.JobSnapshot {
  const status = STATUS[job.status] ?? "running";
  const err = jobError(job);
  const output = job.model_output_name;
  const finished = ms(job.updated_at);
  const eta = job.progress?.estimate_available ? Date.now() + job.progress.seconds_remaining * 1000 : undefined;
  const tokens = typeof job.token_count === "number" ? job.token_count * (job.epochs_completed ?? job.n_epochs ?? 1) : undefined;
  return {
    remoteId: job.id,
    status,
    providerStatus: job.status,
    model: job.model ?? "",
    ...(status === "succeeded" && output ? { fineTunedModel: output } : {}),
    ...(tokens !== undefined && status === "succeeded" ? { trainedTokens: tokens } : {}),
    ...(eta !== undefined ? { estimatedFinish: eta } : {}),
    ...(ms(job.created_at) !== undefined ? { createdAt: ms(job.created_at)! } : {}),
    ...(status === "succeeded" || status === "failed" || status === "cancelled" ? (finished !== undefined ? { finishedAt: finished } : {}) : {}),
    hyperparameters: { n_epochs: job.n_epochs, batch_size: job.batch_size, learning_rate: job.learning_rate, training_type: job.training_type },
    ...(err ? { error: err } : {}),
  };
}

/** Maps Together metric names onto tunekit's (train_loss, valid_loss); others are kept as given. */
function metricValues(row: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === "global_step" || k === "step" || typeof v !== "number" || !Number.isFinite(v)) continue;
    const name = /^(train[/_])?loss$/.test(k) ? "train_loss" : /^(eval|valid(ation)?)[/_]loss$/.test(k) ? "valid_loss" : k.replace(/\//g, "_");
    out[name] = v;
  }
  return out;
}

export class TogetherTrainer implements C.Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id = "together";
  readonly capabilities = togetherCapabilities;
  readonly baseUrl: string;
  private readonly apiKey?: string;
  private clientPromise?: Promise<TogetherClient>;
  private readonly options: TogetherTrainerOptions;
  private readonly pollMs: number;

  constructor(options: TogetherTrainerOptions = {}) {
    const env = options.env ?? process.env;
    this.options = options;
    this.baseUrl = (env.TOGETHER_BASE_URL || TOGETHER_DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.pollMs = options.pollMs ?? 2000;
    this.apiKey = env.TOGETHER_API_KEY || undefined;
  }

  private keyError(): C.TrainerError {
    return { code: "auth", message: "TOGETHER_API_KEY is not set: export your Together AI API key in the environment", retryable: false };
  }

  private client(): Promise<TogetherClient> {
    this.clientPromise ??= (async () => {
      const { default: Together } = await import("together-ai");
      return new Together({
        apiKey: this.apiKey!,
        baseURL: this.baseUrl,
        maxRetries: this.options.maxRetries ?? 4,
        timeout: this.options.timeoutMs ?? 120_000,
        logLevel: "off",
      });
    })();
    return this.clientPromise;
  }

  private async call<T>(fn: (c: TogetherClient) => Promise<T>): Promise<C.TrainerResult<T>> {
    if (!this.apiKey) return fail(this.keyError());
    try {
      return ok(await fn(await this.client()));
    } catch (e) {
      return fail(toTrainerError(e, "Together AI", this.apiKey));
    }
  }

  validateParams(params: C.TrainParams): C.TrainerResult<C.TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  async prepare(data: C.TrainingData, options: C.PrepareOptions = {}): Promise<C.TrainerResult<C.PreparedData>> {
    if (!this.apiKey) return fail(this.keyError());
    const uploader: FileUploader = {
      provider: this.id,
      baseUrl: this.baseUrl,
      label: "Together AI",
      maxBytes: this.capabilities.maxFileBytes,
      stillUsable: async (id) => {
        const f = await this.call((c) => c.files.retrieve(id));
        return f.ok ? ok(f.value.processing_status !== "FAILED" && f.value.processing_status !== "INVALID_FORMAT") : f;
      },
      upload: async (path, bytes) => {
        const id = await uploadFile({ baseUrl: this.baseUrl, apiKey: this.apiKey!, path, bytes, purpose: "fine-tune", ...(options.signal ? { signal: options.signal } : {}) });
        return id.ok ? ok({ remoteFileId: id.value, filename: basename(path) }) : id;
      },
      ready: (id, path) => this.waitProcessed(id, path, options),
    };
    return prepareEach(data, (path) => {
      if (!path.endsWith(".jsonl")) {
        return Promise.resolve(fail({ code: "invalid_file", message: `Together AI takes .jsonl files; rename ${path} to end in .jsonl`, retryable: false }));
      }
      return uploadOnce(uploader, path, options);
    });
  }

  private async waitProcessed(fileId: string, path: string, options: C.PrepareOptions): Promise<C.TrainerResult<true>> {
    const deadline = Date.now() + (this.options.fileProcessingTimeoutMs ?? 30 * 60_000);
    for (;;) {
      const f = await this.call((c) => c.files.retrieve(fileId));
      if (!f.ok) return f;
      const s = f.value.processing_status;
      if (s === undefined || s === "COMPLETED") {
        options.onProgress?.("ready", path);
        return ok(true);
      }
      if (s === "FAILED" || s === "INVALID_FORMAT") {
        const why = f.value.validation_report?.error ?? s;
        return fail({ code: "file_processing", message: `Together AI could not process ${path} (${fileId}): ${why}`, retryable: false });
      }
      if (Date.now() > deadline) return fail({ code: "file_processing", message: `Together AI did not finish processing ${path} in time`, retryable: true });
      options.onProgress?.("processing", path);
      await sleep(this.pollMs, options.signal);
    }
  }

  /** The job as Together's create (and estimate) endpoints take it. */
  private jobBody(prepared: C.PreparedData, params: C.TrainParams): TogetherClient.FineTuning.FineTuningCreateParams {
    const hp = params.hyperparameters ?? {};
    const lora =
      this.options.lora === false || params.method === "supervised-full"
        ? undefined
        : { r: 8, alpha: 16, dropout: 0, modules: "all-linear", ...(this.options.lora || {}), ...(params.lora ?? {}) };
    return {
      model: params.model,
      training_file: prepared.training.remoteFileId,
      ...(prepared.validation ? { validation_file: prepared.validation.remoteFileId, n_evals: 5 } : {}),
      ...(typeof hp.n_epochs === "number" ? { n_epochs: hp.n_epochs } : {}),
      batch_size: typeof hp.batch_size === "number" ? hp.batch_size : "max",
      ...(typeof hp.learning_rate === "number" ? { learning_rate: hp.learning_rate } : {}),
      ...(params.suffix !== undefined ? { suffix: params.suffix } : {}),
      ...(params.seed !== undefined ? { random_seed: params.seed } : {}),
      training_method: { method: "sft", train_on_inputs: "auto" },
      training_type: lora
        ? { type: "Lora", lora_r: lora.r, lora_alpha: lora.alpha, lora_dropout: lora.dropout, lora_trainable_modules: lora.modules }
        : { type: "Full" },
    };
  }

  async start(prepared: C.PreparedData, params: C.TrainParams): Promise<C.TrainerResult<C.JobSnapshot>> {
    const checked = this.validateParams(params);
    if (!checked.ok) return checked;
    const body = this.jobBody(prepared, params);
    const r = await this.call((c) => c.fineTuning.create(body));
    if (!r.ok) return r;
    return ok(snapshot(r.value as unknown as FinetuneResponse));
  }

  async status(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.retrieve(remoteId));
    if (!r.ok) return r;
    const snap = snapshot(r.value);
    return ok(snap, {
      ...(snap.trainedTokens !== undefined ? { usage: { trainedTokens: snap.trainedTokens } } : {}),
      ...(typeof r.value.total_price === "number" && snap.status === "succeeded" ? { cost: { amount: r.value.total_price, currency: "USD" as const, basis: "billed" as const } } : {}),
    });
  }

  async *events(remoteId: string, options: C.EventsOptions = {}): AsyncIterable<C.TrainerEvent | { kind: "error"; error: C.TrainerError }> {
    void options; // no cursor at Together: see the module comment
    const evs = await this.call((c) => c.fineTuning.listEvents(remoteId));
    if (!evs.ok) {
      yield { kind: "error", error: evs.error };
      return;
    }
    const mets = await this.call((c) => c.fineTuning.listMetrics(remoteId));
    if (!mets.ok && mets.error.code !== "not_found") {
      yield { kind: "error", error: mets.error };
      return;
    }
    const out: C.TrainerEvent[] = [];
    for (const e of evs.value.data ?? []) {
      out.push({ kind: "message", id: eventId(e), createdAt: ms(e.created_at) ?? Date.now(), level: e.level ?? "info", message: e.message, data: { type: e.type, ...(e.step !== undefined ? { step: e.step } : {}) } });
    }
    const totalSteps = [...(evs.value.data ?? [])].reverse().find((e) => typeof e.total_steps === "number")?.total_steps;
    const lastAt = out.length > 0 ? out[out.length - 1].createdAt : Date.now();
    for (const row of (mets.ok ? mets.value.metrics : undefined) ?? []) {
      const step = row.global_step ?? row.step;
      if (typeof step !== "number") continue;
      out.push({ kind: "metrics", id: `tgmetric-${step}`, createdAt: typeof row.logged_at === "number" ? row.logged_at : lastAt, step, ...(totalSteps !== undefined ? { totalSteps } : {}), values: metricValues(row) });
    }
    out.sort((a, b) => a.createdAt - b.createdAt);
    for (const e of out) yield e;
  }

  async checkpoints(remoteId: string): Promise<C.TrainerResult<C.Checkpoint[]>> {
    const r = await this.call((c) => c.fineTuning.listCheckpoints(remoteId));
    if (!r.ok) return r;
    return ok(
      r.value.data
        .map((c) => ({ id: c.path || `${remoteId}:${c.step}`, step: c.step, modelId: c.path, metrics: {}, createdAt: ms(c.created_at) ?? 0 }))
        .sort((a, b) => a.step - b.step),
    );
  }

  async cancel(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.call((c) => c.fineTuning.cancel(remoteId));
    if (!r.ok) return r;
    return ok(snapshot(r.value as unknown as FinetuneResponse));
  }

  /** Base models Together fine-tunes (GET /fine-tunes/models/supported; the SDK has no method for it). */
  async supportedModels(): Promise<C.TrainerResult<string[]>> {
    const r = await this.call((c) => c.get<{ models?: unknown }>("/fine-tunes/models/supported"));
    if (!r.ok) return r;
    const models = Array.isArray(r.value.models) ? r.value.models.filter((m): m is string => typeof m === "string") : [];
    return ok(models);
  }

  /** Together's own price for the uploaded files (POST /fine-tunes/estimate-price). */
  async estimate(prepared: C.PreparedData, params: C.TrainParams): Promise<C.TrainerResult<C.ProviderEstimate>> {
    const b = this.jobBody(prepared, params);
    const r = await this.call((c) =>
      c.fineTuning.estimatePrice({
        training_file: b.training_file,
        ...(b.validation_file ? { validation_file: b.validation_file, n_evals: b.n_evals ?? 0 } : {}),
        model: b.model,
        ...(b.n_epochs !== undefined ? { n_epochs: b.n_epochs } : {}),
        training_method: { method: "sft", train_on_inputs: "auto" },
        training_type: b.training_type as never,
      }),
    );
    if (!r.ok) return r;
    const e = r.value;
    if (!e.estimation_available) return ok({});
    return ok({
      ...(typeof e.estimated_total_price === "number" ? { cost: e.estimated_total_price } : {}),
      ...(typeof e.estimated_train_token_count === "number" ? { trainTokens: e.estimated_train_token_count } : {}),
      ...(typeof e.estimated_eval_token_count === "number" ? { evalTokens: e.estimated_eval_token_count } : {}),
      ...(typeof e.allowed_to_proceed === "boolean" ? { allowedToProceed: e.allowed_to_proceed } : {}),
      ...(typeof e.user_limit === "number" ? { userLimit: e.user_limit } : {}),
    });
  }

  deleteFiles(fileIds: string[]): Promise<C.TrainerResult<string[]>> {
    return deleteEach(fileIds, (id) => this.call((c) => c.files.delete(id)));
  }

  /**
   * Downloads the finished job's weights (GET /finetune/download, through the SDK): the LoRA adapter
   * when the job trained one, else the merged/full weights; a zstd-compressed tar unpacked into `dir`.
   */
  async download(remoteId: string, dir: string, options: C.DownloadOptions = {}): Promise<C.TrainerResult<C.DownloadedWeights>> {
    const job = await this.call((c) => c.fineTuning.retrieve(remoteId));
    if (!job.ok) return job;
    if (job.value.status !== "completed") return fail({ code: "not_finished", message: `the job is ${job.value.status}; only a completed job can be downloaded`, retryable: false });
    const lora = (job.value.training_type as { type?: string } | undefined)?.type === "Lora";
    const checkpoint: "adapter" | "merged" | "model_output_path" = !lora ? "model_output_path" : options.prefer === "merged" ? "merged" : "adapter";
    // The endpoint redirects to a presigned URL: follow it without the API key (fetch keeps it on a same-origin redirect).
    const keyless: typeof fetch = async (url, init) => {
      const r = await fetch(url, { ...init, redirect: "manual" });
      const location = r.headers.get("location");
      if (r.status < 300 || r.status >= 400 || !location) return r;
      await r.body?.cancel().catch(() => {});
      return fetch(new URL(location, String(url)), { method: "GET", ...(init?.signal ? { signal: init.signal } : {}) });
    };
    const res = await this.call((c) => c.withOptions({ fetch: keyless }).fineTuning.content({ ft_id: remoteId, checkpoint }, options.signal ? { signal: options.signal } : {}));
    if (!res.ok) return res;
    const body = res.value.body;
    if (!body) return fail({ code: "download_failed", message: "Together AI sent an empty download", retryable: true });
    const total = Number(res.value.headers.get("content-length")) || undefined;
    let got = 0;
    try {
      await extractTarStream(Readable.fromWeb(body as never) as AsyncIterable<Uint8Array>, dir, (n) => options.onProgress?.((got += n), total));
    } catch (e) {
      return fail({ code: "download_failed", message: `downloading ${remoteId} from Together AI failed: ${(e as Error).message}`, retryable: true });
    }
    return findWeights(dir, lora && checkpoint === "adapter" ? "adapter" : "merged");
  }

  async result(remoteId: string): Promise<C.TrainerResult<C.TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    const snap = s.value;
    if (snap.status === "succeeded" && snap.fineTunedModel) {
      return ok({ kind: "hosted", model: snap.fineTunedModel, ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}) }, { ...(s.usage ? { usage: s.usage } : {}), ...(s.cost ? { cost: s.cost } : {}) });
    }
    if (snap.status === "failed") {
      return fail({ code: "job_failed", message: `the job failed: ${snap.error?.code ?? "error"}: ${snap.error?.message ?? "no reason given"}`, retryable: false, providerCode: snap.error?.code ?? null });
    }
    return fail({ code: "not_finished", message: `the job is ${snap.status}, no model yet`, retryable: false });
  }
}

export function createTogetherTrainer(options: TogetherTrainerOptions = {}): TogetherTrainer {
  return new TogetherTrainer(options);
}
