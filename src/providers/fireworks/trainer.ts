/**
 * Fireworks supervised fine-tuning over its REST API (there is no official npm SDK), through the shared
 * HTTP helper (retries, rate limits, errors as data). From the environment: FIREWORKS_API_KEY,
 * FIREWORKS_ACCOUNT_ID, and FIREWORKS_BASE_URL for another endpoint (default https://api.fireworks.ai).
 *
 *   datasets:   POST /v1/accounts/{a}/datasets {datasetId, dataset:{format:"CHAT", exampleCount, userUploaded:{}}}
 *               POST .../datasets/{d}:upload (multipart `file`, up to 150 MB), or for larger files
 *               POST .../datasets/{d}:getUploadEndpoint {filenameToSize} -> PUT the signed URL -> POST :validateUpload
 *               GET  .../datasets/{d} (state UPLOADING -> READY)          DELETE .../datasets/{d}
 *   jobs:       POST .../supervisedFineTuningJobs?supervisedFineTuningJobId=ID {dataset, baseModel, epochs,
 *               learningRate, loraRank, batchSize, maxContextLength, evaluationDataset, displayName}
 *               GET .../supervisedFineTuningJobs/{id} (state JOB_STATE_*)   POST .../{id}:cancel
 *   models:     GET /v1/{outputModel} (kind HF_PEFT_ADDON | HF_BASE_MODEL)
 *               GET /v1/{outputModel}:getDownloadEndpoint -> {filenameToSignedUrls}
 *
 * Datasets are named by the file's sha256, so an unchanged file is never uploaded twice; a job's id is
 * derived from tunekit's job id, so a job whose creation was cut off is found again by its id.
 * Fireworks has no event feed for these jobs: the state and progress reported on each poll are the
 * events (loss curves go to the job's Weights & Biases run when one is configured).
 */
import { createReadStream, openAsBlob, promises as fsp } from "node:fs";
import { createInterface } from "node:readline";
import { basename, dirname, join, normalize, sep } from "node:path";
import { Readable } from "node:stream";
import type { JobStatus } from "../../store/store.js";
import { deleteEach, hashDataFile, prepareEach, sleep } from "../files.js";
import { httpJson, httpRequest, type HttpOptions } from "../http.js";
import { fireworksCapabilities } from "./catalog.js";
import { fail, ok, validateWithCapabilities } from "../types.js";
import type * as C from "../types.js";

export { fireworksCapabilities };

export const FIREWORKS_DEFAULT_BASE_URL = "https://api.fireworks.ai";
/** Largest file sent in one `:upload` request (Fireworks' documented limit). */
export const FIREWORKS_SINGLE_UPLOAD_BYTES = 150 * 1024 * 1024;

export interface FireworksTrainerOptions {
  env?: NodeJS.ProcessEnv;
  maxRetries?: number;
  timeoutMs?: number;
  /** Poll interval while a dataset is being processed (default 2 s). */
  pollMs?: number;
  fileProcessingTimeoutMs?: number;
  /** Files above this size go through a signed upload URL (default 150 MB). */
  singleUploadBytes?: number;
}

interface FwStatus {
  code?: string;
  message?: string;
}
interface FwDataset {
  name?: string;
  state?: string;
  status?: FwStatus;
  exampleCount?: string;
}
interface FwJob {
  name?: string;
  displayName?: string;
  state?: string;
  status?: FwStatus;
  dataset?: string;
  baseModel?: string;
  outputModel?: string;
  epochs?: number;
  learningRate?: number;
  loraRank?: number;
  batchSize?: number;
  maxContextLength?: number;
  createTime?: string;
  completedTime?: string;
  updateTime?: string;
  jobProgress?: { percent?: number; epoch?: number; inputTokens?: number };
  estimatedCost?: { currencyCode?: string; units?: string; nanos?: number };
}
interface FwModel {
  name?: string;
  kind?: string;
  state?: string;
}

const STATE: Record<string, JobStatus> = {
  JOB_STATE_UNSPECIFIED: "queued",
  JOB_STATE_CREATING: "queued",
  JOB_STATE_PENDING: "queued",
  JOB_STATE_IDLE: "queued",
  JOB_STATE_RE_QUEUEING: "queued",
  JOB_STATE_VALIDATING: "validating_files",
  JOB_STATE_CREATING_INPUT_DATASET: "validating_files",
  JOB_STATE_RUNNING: "running",
  JOB_STATE_WRITING_RESULTS: "running",
  JOB_STATE_CANCELLING: "running",
  JOB_STATE_COMPLETED: "succeeded",
  JOB_STATE_EARLY_STOPPED: "succeeded",
  JOB_STATE_FAILED: "failed",
  JOB_STATE_EXPIRED: "failed",
  JOB_STATE_CANCELLED: "cancelled",
  JOB_STATE_DELETING: "cancelled",
  JOB_STATE_DELETING_CLEANING_UP: "cancelled",
  JOB_STATE_DELETED: "cancelled",
  JOB_STATE_PAUSED: "queued",
};

const ms = (iso: string | undefined) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : undefined;
};

/** The last path segment of a resource name ("accounts/a/datasets/d" -> "d"). */
const shortId = (name: string) => name.split("/").pop()!;

function snapshot(job: FwJob): C.JobSnapshot {
  const state = job.state ?? "JOB_STATE_UNSPECIFIED";
  let status = STATE[state] ?? "running";
  if (state === "JOB_STATE_EARLY_STOPPED" && !job.outputModel) status = "failed";
  const finished = status === "succeeded" || status === "failed" || status === "cancelled";
  return {
    remoteId: shortId(job.name ?? ""),
    status,
    providerStatus: state,
    model: job.baseModel ?? "",
    ...(status === "succeeded" && job.outputModel ? { fineTunedModel: job.outputModel } : {}),
    ...(ms(job.createTime) !== undefined ? { createdAt: ms(job.createTime)! } : {}),
    ...(finished && ms(job.completedTime ?? job.updateTime) !== undefined ? { finishedAt: ms(job.completedTime ?? job.updateTime)! } : {}),
    hyperparameters: {
      ...(job.epochs !== undefined ? { n_epochs: job.epochs } : {}),
      ...(job.learningRate !== undefined ? { learning_rate: job.learningRate } : {}),
      ...(job.loraRank !== undefined ? { lora_rank: job.loraRank } : {}),
      ...(job.batchSize !== undefined ? { batch_size: job.batchSize } : {}),
      ...(job.maxContextLength !== undefined ? { max_context_length: job.maxContextLength } : {}),
    },
    ...(status === "failed"
      ? { error: { code: job.status?.code && job.status.code !== "OK" ? job.status.code : state, message: job.status?.message || `the job ended in ${state}` } }
      : {}),
  };
}

async function countLines(path: string): Promise<number> {
  let n = 0;
  const rl = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  for await (const line of rl) if (line.trim()) n++;
  return n;
}

export class FireworksTrainer implements C.Trainer {
  readonly specificationVersion = "v1" as const;
  readonly id = "fireworks";
  readonly capabilities = fireworksCapabilities;
  readonly baseUrl: string;
  private readonly apiKey?: string;
  private readonly account?: string;
  private readonly pollMs: number;

  constructor(private readonly options: FireworksTrainerOptions = {}) {
    const env = options.env ?? process.env;
    this.baseUrl = (env.FIREWORKS_BASE_URL || FIREWORKS_DEFAULT_BASE_URL).replace(/\/+$/, "").replace(/\/v1$/, "");
    this.apiKey = env.FIREWORKS_API_KEY || undefined;
    this.account = env.FIREWORKS_ACCOUNT_ID || undefined;
    this.pollMs = options.pollMs ?? 2000;
  }

  private configError(): C.TrainerError | undefined {
    if (!this.apiKey) return { code: "auth", message: "FIREWORKS_API_KEY is not set: export your Fireworks API key in the environment", retryable: false };
    if (!this.account) return { code: "invalid_params", message: "FIREWORKS_ACCOUNT_ID is not set: export your Fireworks account id (the ACCOUNT in accounts/ACCOUNT/...)", retryable: false, param: "account" };
    return undefined;
  }

  private http(signal?: AbortSignal): HttpOptions {
    return {
      provider: "Fireworks",
      ...(this.apiKey ? { secret: this.apiKey } : {}),
      ...(this.options.maxRetries !== undefined ? { maxRetries: this.options.maxRetries } : {}),
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  private get auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.apiKey}` };
  }

  /** `path` under /v1/accounts/{account}, or an absolute resource path starting with "accounts/". */
  private url(path: string): string {
    return path.startsWith("accounts/") ? `${this.baseUrl}/v1/${path}` : `${this.baseUrl}/v1/accounts/${this.account}${path}`;
  }

  private async api<T>(method: "GET" | "POST" | "DELETE", path: string, json?: unknown, signal?: AbortSignal): Promise<C.TrainerResult<T>> {
    const bad = this.configError();
    if (bad) return fail(bad);
    return httpJson<T>({ method, url: this.url(path), headers: this.auth, ...(json !== undefined ? { json } : {}) }, this.http(signal));
  }

  validateParams(params: C.TrainParams): C.TrainerResult<C.TrainParams> {
    return validateWithCapabilities(this.capabilities, params);
  }

  async prepare(data: C.TrainingData, options: C.PrepareOptions = {}): Promise<C.TrainerResult<C.PreparedData>> {
    const bad = this.configError();
    if (bad) return fail(bad);
    return prepareEach(data, (path) => this.prepareFile(path, options));
  }

  private async prepareFile(path: string, options: C.PrepareOptions): Promise<C.TrainerResult<C.PreparedFile>> {
    const hashed = await hashDataFile(path, options);
    if (!hashed.ok) return hashed;
    const { sha256, bytes } = hashed.value;
    let examples: number;
    try {
      examples = await countLines(path);
    } catch (e) {
      return fail({ code: "file_read", message: `cannot read ${path}: ${(e as Error).message}`, retryable: false });
    }
    // Content-addressed: the same bytes always make the same dataset.
    const datasetId = `tunekit-${sha256.slice(0, 20)}`;
    const name = `accounts/${this.account}/datasets/${datasetId}`;
    const existing = await this.api<FwDataset>("GET", `/datasets/${datasetId}`, undefined, options.signal);
    if (existing.ok && existing.value.state === "READY") {
      options.onProgress?.("reused", path);
      options.cache?.recordUploadedFile({ provider: this.id, baseUrl: this.baseUrl, purpose: "fine-tune", sha256, remoteFileId: name, filename: basename(path), bytes });
      return ok({ path, sha256, bytes, remoteFileId: name, reused: true });
    }
    if (!existing.ok && existing.error.code !== "not_found") return existing;
    if (!existing.ok) {
      const created = await this.api<FwDataset>("POST", "/datasets", { datasetId, dataset: { displayName: basename(path), exampleCount: String(examples), format: "CHAT", userUploaded: {} } }, options.signal);
      // A retried create that had reached Fireworks answers ALREADY_EXISTS: the dataset is there.
      if (!created.ok && created.error.status !== 409) return created;
    }
    options.onProgress?.("uploading", path);
    const up = bytes <= (this.options.singleUploadBytes ?? FIREWORKS_SINGLE_UPLOAD_BYTES) ? await this.uploadSmall(datasetId, path, options.signal) : await this.uploadSigned(datasetId, path, bytes, options.signal);
    if (!up.ok) return up;
    options.cache?.recordUploadedFile({ provider: this.id, baseUrl: this.baseUrl, purpose: "fine-tune", sha256, remoteFileId: name, filename: basename(path), bytes });
    const ready = await this.waitReady(datasetId, path, options);
    if (!ready.ok) {
      options.cache?.forgetUploadedFile(this.id, this.baseUrl, "fine-tune", sha256);
      return ready;
    }
    return ok({ path, sha256, bytes, remoteFileId: name, reused: false });
  }

  private async uploadSmall(datasetId: string, path: string, signal?: AbortSignal): Promise<C.TrainerResult<true>> {
    const blob = await openAsBlob(path, { type: "application/jsonl" });
    const r = await httpRequest(
      {
        method: "POST",
        url: this.url(`/datasets/${datasetId}:upload`),
        headers: this.auth,
        body: () => {
          const form = new FormData();
          form.append("file", blob, basename(path));
          return form;
        },
        buffer: true,
      },
      this.http(signal),
    );
    return r.ok ? ok(true) : r;
  }

  private async uploadSigned(datasetId: string, path: string, bytes: number, signal?: AbortSignal): Promise<C.TrainerResult<true>> {
    const file = basename(path);
    const ep = await this.api<{ filenameToSignedUrls?: Record<string, string> }>("POST", `/datasets/${datasetId}:getUploadEndpoint`, { filenameToSize: { [file]: String(bytes) } }, signal);
    if (!ep.ok) return ep;
    const url = ep.value.filenameToSignedUrls?.[file];
    if (!url) return fail({ code: "upload_failed", message: `Fireworks gave no upload URL for ${file}`, retryable: true });
    // The signed URL carries its own authorisation: the API key is not sent to the storage host.
    const put = await httpRequest(
      {
        method: "PUT",
        url,
        headers: { "Content-Type": "application/octet-stream", "x-goog-content-length-range": `${bytes},${bytes}` },
        body: () => Readable.toWeb(createReadStream(path)) as ReadableStream,
        streamBody: true,
        buffer: true,
      },
      this.http(signal),
    );
    if (!put.ok) return put;
    const v = await this.api<unknown>("POST", `/datasets/${datasetId}:validateUpload`, {}, signal);
    return v.ok ? ok(true) : v;
  }

  private async waitReady(datasetId: string, path: string, options: C.PrepareOptions): Promise<C.TrainerResult<true>> {
    const deadline = Date.now() + (this.options.fileProcessingTimeoutMs ?? 30 * 60_000);
    for (;;) {
      const d = await this.api<FwDataset>("GET", `/datasets/${datasetId}`, undefined, options.signal);
      if (!d.ok) return d;
      if (d.value.state === "READY") {
        options.onProgress?.("ready", path);
        return ok(true);
      }
      if (d.value.status?.code && d.value.status.code !== "OK") {
        return fail({ code: "file_processing", message: `Fireworks could not process ${path}: ${d.value.status.message ?? d.value.status.code}`, retryable: false });
      }
      if (Date.now() > deadline) return fail({ code: "file_processing", message: `Fireworks did not finish processing ${path} in time`, retryable: true });
      options.onProgress?.("processing", path);
      await sleep(this.pollMs, options.signal);
      if (options.signal?.aborted) return fail({ code: "aborted", message: "cancelled while waiting for the dataset", retryable: false });
    }
  }

  /** tunekit's job id made a Fireworks resource id ("tk_3f9a..." -> "tk-3f9a..."). */
  private jobIdFor(tag: string | undefined): string | undefined {
    return tag ? tag.toLowerCase().replace(/[^a-z0-9-]/g, "-") : undefined;
  }

  async start(prepared: C.PreparedData, params: C.TrainParams): Promise<C.TrainerResult<C.JobSnapshot>> {
    const checked = this.validateParams(params);
    if (!checked.ok) return checked;
    const hp = params.hyperparameters ?? {};
    const jobId = this.jobIdFor(params.metadata?.tunekit_job);
    const body = {
      dataset: prepared.training.remoteFileId,
      baseModel: params.model,
      displayName: `tunekit ${params.metadata?.tunekit_job ?? ""}`.trim(),
      ...(prepared.validation ? { evaluationDataset: prepared.validation.remoteFileId } : {}),
      ...(typeof hp.n_epochs === "number" ? { epochs: hp.n_epochs } : {}),
      ...(typeof hp.learning_rate === "number" ? { learningRate: hp.learning_rate } : {}),
      ...(typeof hp.batch_size === "number" ? { batchSize: hp.batch_size } : {}),
      ...(params.lora?.r !== undefined ? { loraRank: params.lora.r } : {}),
      ...(params.maxContextLength !== undefined ? { maxContextLength: params.maxContextLength } : {}),
    };
    const r = await this.api<FwJob>("POST", `/supervisedFineTuningJobs${jobId ? `?supervisedFineTuningJobId=${encodeURIComponent(jobId)}` : ""}`, body);
    if (!r.ok) {
      // A retried create that had reached Fireworks: the job exists under our id.
      if (r.error.status === 409 && jobId) {
        const again = await this.api<FwJob>("GET", `/supervisedFineTuningJobs/${jobId}`);
        return again.ok ? ok(snapshot(again.value)) : again;
      }
      return r;
    }
    return ok(snapshot(r.value));
  }

  async status(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.api<FwJob>("GET", `/supervisedFineTuningJobs/${remoteId}`);
    return r.ok ? ok(snapshot(r.value)) : r;
  }

  /** One event per state and progress reading (Fireworks has no event feed for these jobs). */
  async *events(remoteId: string, options: C.EventsOptions = {}): AsyncIterable<C.TrainerEvent | { kind: "error"; error: C.TrainerError }> {
    void options;
    const r = await this.api<FwJob>("GET", `/supervisedFineTuningJobs/${remoteId}`);
    if (!r.ok) {
      yield { kind: "error", error: r.error };
      return;
    }
    const j = r.value;
    const state = j.state ?? "JOB_STATE_UNSPECIFIED";
    const p = j.jobProgress;
    const at = ms(j.updateTime) ?? Date.now();
    const progress = p?.percent !== undefined ? `, ${Math.round(p.percent)}%${p.epoch !== undefined ? ` (epoch ${p.epoch})` : ""}` : "";
    yield {
      kind: "message",
      id: `fw-${state}-${p?.epoch ?? ""}-${p?.percent !== undefined ? Math.round(p.percent) : ""}`,
      createdAt: at,
      level: STATE[state] === "failed" ? "error" : "info",
      message: `${state.replace(/^JOB_STATE_/, "").toLowerCase().replace(/_/g, " ")}${progress}${j.status?.message && j.status.code !== "OK" ? `: ${j.status.message}` : ""}`,
      data: { state, ...(p ? { progress: p } : {}) },
    };
  }

  async checkpoints(): Promise<C.TrainerResult<C.Checkpoint[]>> {
    return ok([]);
  }

  async cancel(remoteId: string): Promise<C.TrainerResult<C.JobSnapshot>> {
    const r = await this.api<unknown>("POST", `/supervisedFineTuningJobs/${remoteId}:cancel`, {});
    if (!r.ok) return r;
    return this.status(remoteId);
  }

  async findByTag(tag: string): Promise<C.TrainerResult<C.JobSnapshot | undefined>> {
    const r = await this.api<FwJob>("GET", `/supervisedFineTuningJobs/${this.jobIdFor(tag)}`);
    if (!r.ok) return r.error.code === "not_found" ? ok(undefined) : r;
    return ok(snapshot(r.value));
  }

  deleteFiles(fileIds: string[]): Promise<C.TrainerResult<string[]>> {
    return deleteEach(fileIds, (id) => this.api<unknown>("DELETE", `/datasets/${shortId(id)}`));
  }

  async result(remoteId: string): Promise<C.TrainerResult<C.TrainingOutput>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    if (s.value.status === "succeeded" && s.value.fineTunedModel) return ok({ kind: "hosted", model: s.value.fineTunedModel });
    if (s.value.status === "failed") return fail({ code: "job_failed", message: `the job failed: ${s.value.error?.code}: ${s.value.error?.message}`, retryable: false });
    return fail({ code: "not_finished", message: `the job is ${s.value.status}, no model yet`, retryable: false });
  }

  /**
   * Downloads the job's output model: Fireworks signs one URL per file (`:getDownloadEndpoint`); each
   * is fetched without the API key. A LoRA job's model is a PEFT adapter (kind HF_PEFT_ADDON).
   */
  async download(remoteId: string, dir: string, options: C.DownloadOptions = {}): Promise<C.TrainerResult<C.DownloadedWeights>> {
    const s = await this.status(remoteId);
    if (!s.ok) return s;
    if (s.value.status !== "succeeded" || !s.value.fineTunedModel) return fail({ code: "not_finished", message: `the job is ${s.value.providerStatus}; only a completed job can be downloaded`, retryable: false });
    const model = s.value.fineTunedModel;
    const info = await this.api<FwModel>("GET", model);
    if (!info.ok) return info;
    const ep = await this.api<{ filenameToSignedUrls?: Record<string, string> }>("GET", `${model}:getDownloadEndpoint`);
    if (!ep.ok) return ep;
    const urls = Object.entries(ep.value.filenameToSignedUrls ?? {});
    if (urls.length === 0) return fail({ code: "no_weights", message: `Fireworks lists no files for ${model}`, retryable: false });
    let got = 0;
    const files: string[] = [];
    for (const [name, url] of urls) {
      const rel = normalize(name.replace(/^\/+/, ""));
      if (rel.startsWith("..") || rel.split(sep).includes("..")) return fail({ code: "download_failed", message: `Fireworks named a file outside the model folder: ${name}`, retryable: false });
      const target = join(dir, rel);
      await fsp.mkdir(dirname(target), { recursive: true });
      const r = await httpRequest({ method: "GET", url }, this.http(options.signal));
      if (!r.ok) return fail({ ...r.error, code: r.error.retryable ? r.error.code : "download_failed", message: `downloading ${name}: ${r.error.message}` });
      const body = r.value.response.body;
      const fh = await fsp.open(target, "w");
      try {
        if (body) {
          for await (const chunk of Readable.fromWeb(body as never) as AsyncIterable<Uint8Array>) {
            await fh.write(chunk);
            got += chunk.length;
            options.onProgress?.(got);
          }
        }
      } catch (e) {
        return fail({ code: "connection", message: `the download of ${name} was cut off: ${(e as Error).message}`, retryable: true });
      } finally {
        await fh.close();
      }
      files.push(rel);
    }
    const { findWeights } = await import("../weights.js");
    return findWeights(dir, info.value.kind === "HF_BASE_MODEL" ? "merged" : "adapter");
  }
}

export function createFireworksTrainer(options: FireworksTrainerOptions = {}): FireworksTrainer {
  return new FireworksTrainer(options);
}
