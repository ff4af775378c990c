/**
 * A faithful fake of OpenAI's files + fine-tuning API for tests, on 127.0.0.1 (random port), driven by
 * the real `openai` SDK through its baseURL. It implements what tunekit uses, with the real shapes:
 *
 *   POST   /v1/files (multipart: file, purpose)        GET /v1/files, /v1/files/:id    DELETE /v1/files/:id
 *   POST   /v1/fine_tuning/jobs                        GET /v1/fine_tuning/jobs (cursor: after, limit)
 *   GET    /v1/fine_tuning/jobs/:id                    POST /v1/fine_tuning/jobs/:id/cancel
 *   GET    /v1/fine_tuning/jobs/:id/events (newest first; `after` pages to older events)
 *   GET    /v1/fine_tuning/jobs/:id/checkpoints (newest first, cursor)
 *
 * Jobs move validating_files -> queued -> running -> succeeded | failed | cancelled on a compressed
 * clock. The state is computed lazily from elapsed time on each request (no timers), so it keeps
 * "progressing" while the HTTP listener is stopped, as a real backend would during a network outage.
 * Errors use OpenAI's body `{"error":{"message","type","param","code"}}`. Faults (401/403/429/5xx) are
 * injected per path with `inject()`.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { RestartableServer, readBody, sendJson, type Fault, type RecordedRequest } from "./http-util.js";

export interface FakeOpenAIOptions {
  apiKey: string;
  /** ms a new upload stays "uploaded" before "processed". */
  fileProcessMs?: number;
  validateMs?: number;
  queueMs?: number;
  stepMs?: number;
  /** Training steps per job. */
  steps?: number;
  models?: string[];
  /** `shutdown_date` the models endpoint reports per model (absent: the field is left out). */
  shutdownDates?: Record<string, string>;
  /** Azure OpenAI's shape: paths under /openai, `api-version` required, `api-key` header (or an Entra bearer token). */
  azure?: { apiVersion: string; token?: string };
}

interface FileRec {
  id: string;
  bytes: number;
  created_at: number;
  createdMs: number;
  filename: string;
  purpose: string;
  content: string;
  valid: boolean;
  problem?: string;
  deleted?: boolean;
}

interface EventRec {
  id: string;
  object: "fine_tuning.job.event";
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  type: "message" | "metrics";
  data: Record<string, unknown> | null;
}

interface CheckpointRec {
  id: string;
  object: "fine_tuning.job.checkpoint";
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  metrics: Record<string, number>;
  step_number: number;
}

export interface JobFailure {
  stage: "validating" | "running";
  code: string;
  message: string;
  param?: string | null;
  /** For stage "running": the step at which it fails. */
  atStep?: number;
}

interface JobRec {
  id: string;
  createdMs: number;
  body: Record<string, unknown>;
  model: string;
  trainingFile: FileRec;
  validationFile?: FileRec;
  hyper: { n_epochs: number; batch_size: number; learning_rate_multiplier: number };
  seed: number;
  suffix: string | null;
  metadata: Record<string, string> | null;
  status: "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";
  events: EventRec[];
  checkpoints: CheckpointRec[];
  /** Index of the next timeline stage to materialise. */
  stage: number;
  stepDone: number;
  failure?: JobFailure;
  error: { code: string; message: string; param: string | null } | null;
  fine_tuned_model: string | null;
  finished_at: number | null;
  trained_tokens: number | null;
  tokensPerEpoch: number;
}

const KNOWN_MODELS = ["gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06", "gpt-4.1-mini-2025-04-14", "gpt-4.1-2025-04-14", "gpt-3.5-turbo-0125"];

function apiError(message: string, type: string, param: string | null, code: string | null) {
  return { error: { message, type, param, code } };
}

function id(prefix: string): string {
  return `${prefix}${randomBytes(8).toString("hex")}`;
}

export class FakeOpenAIServer {
  readonly options: Required<FakeOpenAIOptions>;
  readonly files = new Map<string, FileRec>();
  readonly jobs = new Map<string, JobRec>();
  readonly requests: RecordedRequest[] = [];
  private faults: (Fault & { left: number })[] = [];
  private readonly http: RestartableServer;
  /** The next created job fails this way. */
  nextJobFailure?: JobFailure;
  private eventCounter = 0;

  constructor(options: FakeOpenAIOptions) {
    this.options = {
      fileProcessMs: 50,
      validateMs: 100,
      queueMs: 100,
      stepMs: 60,
      steps: 6,
      models: KNOWN_MODELS,
      shutdownDates: {},
      azure: undefined as unknown as { apiVersion: string },
      ...options,
    };
    this.http = new RestartableServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) sendJson(res, 500, apiError(`fake server bug: ${(e as Error).message}`, "server_error", null, null));
      });
    });
  }

  /** Base URL for the SDK (`.../v1`). */
  get baseURL(): string {
    return `${this.http.baseUrl}/v1`;
  }
  get port(): number {
    return this.http.port;
  }
  get running(): boolean {
    return this.http.running;
  }

  async start(port?: number): Promise<this> {
    await this.http.start(port);
    return this;
  }
  /** Stops listening (a crash, as far as clients can tell); state and the job clock go on. */
  stop(): Promise<void> {
    return this.http.stop();
  }
  /** Starts listening again on the same port. */
  restart(): Promise<this> {
    return this.start(this.port);
  }

  /** When a job reaches this step, the clock pauses (until resume()). */
  pauseAtStep?: number;
  private pausedAt?: number;
  private pausedTotal = 0;

  /** The job clock: wall time minus the time spent paused. */
  now(): number {
    return (this.pausedAt ?? Date.now()) - this.pausedTotal;
  }
  /** Freezes every job where it is (tests use it to make sure a job is still running later). */
  pause(): void {
    this.pausedAt ??= Date.now();
  }
  resume(): void {
    if (this.pausedAt === undefined) return;
    this.pausedTotal += Date.now() - this.pausedAt;
    this.pausedAt = undefined;
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  // ---- the job timeline ---------------------------------------------------------------------------

  private pushEvent(job: JobRec, atMs: number, message: string, level: EventRec["level"] = "info", type: EventRec["type"] = "message", data: Record<string, unknown> | null = null) {
    this.eventCounter++;
    job.events.push({
      id: `ftevent-${String(this.eventCounter).padStart(6, "0")}${randomBytes(4).toString("hex")}`,
      object: "fine_tuning.job.event",
      created_at: Math.floor(atMs / 1000),
      level,
      message,
      type,
      data,
    });
  }

  private loss(step: number, total: number, offset = 0): number {
    return Number((offset + 0.4 + 2.1 * Math.exp((-2.2 * step) / total)).toFixed(4));
  }

  /** Materialises every timeline stage whose time has come. */
  private advance(job: JobRec, now = this.now()): void {
    const o = this.options;
    const tValidated = job.createdMs + o.validateMs;
    const tRunning = tValidated + o.queueMs;
    if (job.status === "cancelled" || job.status === "failed" || job.status === "succeeded") return;
    if (job.status === "validating_files" && now >= tValidated) {
      if (job.failure?.stage === "validating") return this.failJob(job, tValidated);
      this.pushEvent(job, tValidated, "Files validated, moving job to queued state");
      job.status = "queued";
    }
    if (job.status === "queued" && now >= tRunning) {
      this.pushEvent(job, tRunning, "Fine-tuning job started");
      job.status = "running";
    }
    if (job.status !== "running") return;
    const total = o.steps;
    while (job.stepDone < total) {
      const step = job.stepDone + 1;
      const at = tRunning + step * o.stepMs;
      if (now < at) return;
      if (job.failure?.stage === "running" && step >= (job.failure.atStep ?? 1)) return this.failJob(job, at);
      const data: Record<string, number> = {
        step,
        train_loss: this.loss(step, total),
        train_mean_token_accuracy: Number((0.5 + (0.4 * step) / total).toFixed(4)),
        total_steps: total,
      };
      if (job.validationFile) {
        data.valid_loss = this.loss(step, total, 0.15);
        data.valid_mean_token_accuracy = Number((0.45 + (0.38 * step) / total).toFixed(4));
      }
      this.pushEvent(job, at, `Step ${step}/${total}: training loss=${data.train_loss.toFixed(2)}`, "info", "metrics", data);
      job.stepDone = step;
      if (this.pauseAtStep !== undefined && step >= this.pauseAtStep) {
        // Freeze the clock at this step's time, so the job stays exactly here until resume().
        this.pauseAtStep = undefined;
        this.pausedAt = at + this.pausedTotal;
        this.pushCheckpointIfEpochEnd(job, step, at, data);
        return;
      }
      this.pushCheckpointIfEpochEnd(job, step, at, data);
    }
    this.finishIfDone(job, now, tRunning);
  }

  private pushCheckpointIfEpochEnd(job: JobRec, step: number, at: number, data: Record<string, number>): void {
    const total = this.options.steps;
    const stepsPerEpoch = Math.max(1, Math.floor(total / job.hyper.n_epochs));
    if (step % stepsPerEpoch === 0 || step === total) {
      const ckModel = `ft:${job.model}:tunekit-fake:${job.suffix ?? ""}:${job.id.slice(-8)}:ckpt-step-${step}`;
      job.checkpoints.push({
        id: id("ftckpt_"),
        object: "fine_tuning.job.checkpoint",
        created_at: Math.floor(at / 1000),
        fine_tuned_model_checkpoint: ckModel,
        fine_tuning_job_id: job.id,
        metrics: { step, train_loss: data.train_loss, train_mean_token_accuracy: data.train_mean_token_accuracy, ...(data.valid_loss !== undefined ? { valid_loss: data.valid_loss } : {}) },
        step_number: step,
      });
      this.pushEvent(job, at, `Checkpoint created at step ${step}`);
    }
  }

  private finishIfDone(job: JobRec, now: number, tRunning: number): void {
    const o = this.options;
    const total = o.steps;
    if (job.stepDone < total) return;
    const tDone = tRunning + (total + 1) * o.stepMs;
    if (now < tDone) return;
    job.fine_tuned_model = `ft:${job.model}:tunekit-fake:${job.suffix ?? ""}:${job.id.slice(-8)}`;
    job.trained_tokens = job.tokensPerEpoch * job.hyper.n_epochs;
    job.finished_at = Math.floor(tDone / 1000);
    this.pushEvent(job, tDone, `New fine-tuned model created: ${job.fine_tuned_model}`);
    this.pushEvent(job, tDone, "The job has successfully completed");
    job.status = "succeeded";
  }

  private failJob(job: JobRec, at: number): void {
    const f = job.failure!;
    job.status = "failed";
    job.error = { code: f.code, message: f.message, param: f.param ?? null };
    job.finished_at = Math.floor(at / 1000);
    this.pushEvent(job, at, f.message, "error");
  }

  private jobJson(job: JobRec) {
    const o = this.options;
    const estimated =
      job.status === "running" || job.status === "queued"
        ? Math.ceil((job.createdMs + o.validateMs + o.queueMs + (o.steps + 1) * o.stepMs) / 1000)
        : null;
    return {
      id: job.id,
      object: "fine_tuning.job",
      created_at: Math.floor(job.createdMs / 1000),
      error: job.error,
      fine_tuned_model: job.fine_tuned_model,
      finished_at: job.finished_at,
      hyperparameters: job.hyper,
      model: job.model,
      organization_id: "org-tunekitfake",
      result_files: [],
      seed: job.seed,
      status: job.status,
      trained_tokens: job.trained_tokens,
      training_file: job.trainingFile.id,
      validation_file: job.validationFile?.id ?? null,
      estimated_finish: estimated,
      integrations: [],
      metadata: job.metadata,
      user_provided_suffix: job.suffix,
      method: { type: "supervised", supervised: { hyperparameters: job.hyper } },
    };
  }

  private fileJson(f: FileRec) {
    const processed = this.now() - f.createdMs >= this.options.fileProcessMs;
    const status = !processed ? "uploaded" : f.valid ? "processed" : "error";
    return {
      id: f.id,
      object: "file",
      bytes: f.bytes,
      created_at: f.created_at,
      filename: f.filename,
      purpose: f.purpose,
      status,
      status_details: status === "error" ? f.problem ?? null : null,
    };
  }

  private static page<T extends { id: string }>(items: T[], query: Record<string, string>, defaultLimit: number) {
    let start = 0;
    if (query.after) {
      const i = items.findIndex((x) => x.id === query.after);
      start = i < 0 ? items.length : i + 1;
    }
    const limit = Math.max(1, Math.min(100, Number(query.limit ?? defaultLimit) || defaultLimit));
    const data = items.slice(start, start + limit);
    return { object: "list", data, has_more: start + limit < items.length, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null };
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    let path = url.pathname;
    const query = Object.fromEntries(url.searchParams);
    const method = req.method ?? "GET";
    const body = await readBody(req);
    let auth = req.headers.authorization;
    const azure = this.options.azure;
    if (azure) {
      // Azure: /openai/<resource>?api-version=..., the key in `api-key` (or an Entra ID bearer token).
      if (!path.startsWith("/openai/")) return sendJson(res, 404, { error: { code: "404", message: "Resource not found" } });
      if (query["api-version"] !== azure.apiVersion) return sendJson(res, 404, { error: { code: "404", message: `api-version ${query["api-version"] ?? "(none)"} is not supported` } });
      path = "/v1/" + path.slice("/openai/".length);
      const key = req.headers["api-key"];
      auth = key === this.options.apiKey || (azure.token && auth === `Bearer ${azure.token}`) ? `Bearer ${this.options.apiKey}` : `Bearer ${String(key ?? "")}`;
    }
    const record: RecordedRequest = { method, path, query, at: Date.now(), status: 0, ...(auth ? { authorization: auth } : {}) };
    this.requests.push(record);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, json, { "x-request-id": id("req_"), ...headers });
    };

    const fault = this.faults.find((f) => f.left > 0 && f.path.test(path) && (!f.method || f.method === method));
    if (fault) {
      fault.left--;
      if (fault.drop) {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      const defaults: Record<number, unknown> = {
        401: apiError("Incorrect API key provided.", "invalid_request_error", null, "invalid_api_key"),
        403: apiError("You have insufficient permissions for this operation.", "invalid_request_error", null, "model_not_available"),
        429: apiError("Rate limit reached for requests", "requests", null, "rate_limit_exceeded"),
        500: apiError("The server had an error while processing your request.", "server_error", null, null),
        503: apiError("The engine is currently overloaded, please try again later.", "server_error", null, null),
      };
      return reply(fault.status, fault.body ?? defaults[fault.status] ?? apiError("fault", "server_error", null, null), fault.headers);
    }

    if (auth !== `Bearer ${this.options.apiKey}`) {
      const given = (auth ?? "").replace(/^Bearer\s+/, "");
      // Like the real API: the key is named only in masked form.
      const masked = given.length > 8 ? `${given.slice(0, 3)}*****${given.slice(-4)}` : "";
      return reply(401, apiError(`Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, "invalid_request_error", null, "invalid_api_key"));
    }

    let m: RegExpMatchArray | null;
    if (path === "/v1/files" && method === "POST") return this.uploadFile(req, body, reply);
    if (path === "/v1/files" && method === "GET") {
      const list = [...this.files.values()].filter((f) => !f.deleted && (!query.purpose || f.purpose === query.purpose)).reverse();
      return reply(200, FakeOpenAIServer.page(list.map((f) => this.fileJson(f)), query, 10000));
    }
    if ((m = path.match(/^\/v1\/files\/([^/]+)$/))) {
      const f = this.files.get(decodeURIComponent(m[1]));
      if (!f || f.deleted) return reply(404, apiError(`No such File object: ${m[1]}`, "invalid_request_error", "id", null));
      if (method === "DELETE") {
        f.deleted = true;
        return reply(200, { id: f.id, object: "file", deleted: true });
      }
      return reply(200, this.fileJson(f));
    }
    if ((m = path.match(/^\/v1\/models\/([^/]+)$/)) && method === "GET") {
      const id = decodeURIComponent(m[1]);
      if (!this.options.models.includes(id)) return reply(404, apiError(`The model '${id}' does not exist`, "invalid_request_error", "model", "model_not_found"));
      const sd = this.options.shutdownDates[id];
      return reply(200, { id, object: "model", created: 1721172741, owned_by: "system", ...(sd ? { shutdown_date: sd } : {}) });
    }
    if (path === "/v1/fine_tuning/jobs" && method === "POST") return this.createJob(body, reply);
    if (path === "/v1/fine_tuning/jobs" && method === "GET") {
      // metadata[k]=v filters, as the real API does.
      const filters = Object.entries(query).flatMap(([k, v]) => {
        const m = /^metadata\[(.+)\]$/.exec(k);
        return m ? [[m[1], v] as const] : [];
      });
      const list = [...this.jobs.values()].reverse().filter((j) => filters.every(([k, v]) => j.metadata?.[k] === v));
      for (const j of list) this.advance(j);
      return reply(200, FakeOpenAIServer.page(list.map((j) => this.jobJson(j)), query, 20));
    }
    if ((m = path.match(/^\/v1\/fine_tuning\/jobs\/([^/]+)(?:\/(cancel|events|checkpoints))?$/))) {
      const job = this.jobs.get(decodeURIComponent(m[1]));
      if (!job) return reply(404, apiError(`Could not find fine tune job: ${m[1]}`, "invalid_request_error", "fine_tune_id", "fine_tune_not_found"));
      this.advance(job);
      const sub = m[2];
      if (!sub && method === "GET") return reply(200, this.jobJson(job));
      if (sub === "cancel" && method === "POST") {
        if (job.status === "succeeded" || job.status === "failed" || job.status === "cancelled") {
          return reply(400, apiError(`Job ${job.id} has already ${job.status === "cancelled" ? "been cancelled" : job.status === "succeeded" ? "completed" : "failed"}.`, "invalid_request_error", null, null));
        }
        job.status = "cancelled";
        job.finished_at = Math.floor(this.now() / 1000);
        this.pushEvent(job, this.now(), "Fine-tuning job cancelled");
        return reply(200, this.jobJson(job));
      }
      if (sub === "events" && method === "GET") return reply(200, FakeOpenAIServer.page([...job.events].reverse(), query, 20));
      // Like OpenAI: only the checkpoints of the last three epochs are kept.
      if (sub === "checkpoints" && method === "GET") return reply(200, FakeOpenAIServer.page(job.checkpoints.slice(-3).reverse(), query, 10));
    }
    return reply(404, apiError(`Invalid URL (${method} ${path})`, "invalid_request_error", null, null));
  }

  private async uploadFile(req: IncomingMessage, body: Buffer, reply: (s: number, j: unknown) => void): Promise<void> {
    const ct = req.headers["content-type"] ?? "";
    if (!ct.startsWith("multipart/form-data")) return reply(400, apiError("Expected multipart/form-data", "invalid_request_error", null, null));
    const form = await new Request("http://x/", { method: "POST", headers: { "content-type": ct }, body }).formData();
    const purpose = form.get("purpose");
    const file = form.get("file");
    if (typeof purpose !== "string" || !["fine-tune", "assistants", "batch", "vision", "user_data", "evals"].includes(purpose)) {
      return reply(400, apiError(`'${String(purpose)}' is not one of ['fine-tune', 'assistants', 'batch', 'user_data', 'evals', 'vision'] - 'purpose'`, "invalid_request_error", "purpose", null));
    }
    if (!file || typeof file === "string") return reply(400, apiError("Missing file", "invalid_request_error", "file", null));
    const content = Buffer.from(await file.arrayBuffer()).toString("utf8");
    const filename = (file as File).name;
    let valid = true;
    let problem: string | undefined;
    if (purpose === "fine-tune") {
      if (!filename.endsWith(".jsonl")) return reply(400, apiError("Invalid file format for Fine-Tuning API. Must be .jsonl", "invalid_request_error", "file", null));
      const lines = content.split("\n").filter((l) => l.trim() !== "");
      lines.forEach((line, i) => {
        if (!valid) return;
        try {
          const ex = JSON.parse(line);
          if (!Array.isArray(ex.messages)) throw new Error("missing messages");
        } catch {
          valid = false;
          problem = `Invalid file format. Line ${i + 1}, key "messages": Missing or invalid.`;
        }
      });
    }
    const now = this.now();
    const rec: FileRec = { id: id("file-"), bytes: Buffer.byteLength(content), created_at: Math.floor(now / 1000), createdMs: now, filename, purpose, content, valid, ...(problem ? { problem } : {}) };
    this.files.set(rec.id, rec);
    reply(200, this.fileJson(rec));
  }

  private createJob(body: Buffer, reply: (s: number, j: unknown) => void): void {
    let p: Record<string, any>;
    try {
      p = JSON.parse(body.toString("utf8"));
    } catch {
      return reply(400, apiError("We could not parse the JSON body of your request.", "invalid_request_error", null, null));
    }
    const bad = (message: string, param: string, code: string | null = null) => reply(400, apiError(message, "invalid_request_error", param, code));
    if (typeof p.model !== "string") return bad("Missing required parameter: 'model'.", "model", "missing_required_parameter");
    if (!this.options.models.includes(p.model)) return bad(`Model ${p.model} is not available for fine-tuning or does not exist.`, "model", "model_not_available");
    const training = this.files.get(p.training_file);
    if (!training || training.deleted) return bad(`Invalid file id: ${p.training_file}`, "training_file", "invalid_file_id");
    if (this.fileJson(training).status !== "processed") return bad(`File ${training.id} is not ready (status ${this.fileJson(training).status}).`, "training_file", "file_not_ready");
    if (training.purpose !== "fine-tune") return bad(`File ${training.id} has purpose ${training.purpose}, expected fine-tune.`, "training_file", "invalid_file_purpose");
    let validation: FileRec | undefined;
    if (p.validation_file != null) {
      validation = this.files.get(p.validation_file);
      if (!validation || validation.deleted) return bad(`Invalid file id: ${p.validation_file}`, "validation_file", "invalid_file_id");
    }
    const hp = p.method?.supervised?.hyperparameters ?? p.hyperparameters ?? {};
    const ranges: [string, number, number, boolean][] = [
      ["n_epochs", 1, 50, true],
      ["batch_size", 1, 256, true],
      ["learning_rate_multiplier", 1e-9, 50, false],
    ];
    for (const [name, min, max, integer] of ranges) {
      const v = hp[name];
      if (v === undefined || v === "auto") continue;
      if (typeof v !== "number" || v < min || v > max || (integer && !Number.isInteger(v))) {
        return bad(`Invalid value for ${name}: ${JSON.stringify(v)}. Expected ${integer ? "an integer" : "a number"} between ${min} and ${max}, or 'auto'.`, `hyperparameters.${name}`, "invalid_value");
      }
    }
    if (p.suffix != null && (typeof p.suffix !== "string" || p.suffix.length > 64)) return bad("suffix must be at most 64 characters.", "suffix", "invalid_value");
    const lines = training.content.split("\n").filter((l) => l.trim() !== "");
    const n = lines.length;
    let epochs = 3;
    // OpenAI's default, as its cookbook computes it.
    if (3 * n < 100) epochs = Math.min(25, Math.floor(100 / n));
    else if (3 * n > 25000) epochs = Math.max(1, Math.floor(25000 / n));
    const job: JobRec = {
      id: id("ftjob-"),
      createdMs: this.now(),
      body: p,
      model: p.model,
      trainingFile: training,
      ...(validation ? { validationFile: validation } : {}),
      hyper: {
        n_epochs: hp.n_epochs === undefined || hp.n_epochs === "auto" ? epochs : hp.n_epochs,
        batch_size: hp.batch_size === undefined || hp.batch_size === "auto" ? 1 : hp.batch_size,
        learning_rate_multiplier: hp.learning_rate_multiplier === undefined || hp.learning_rate_multiplier === "auto" ? 1.8 : hp.learning_rate_multiplier,
      },
      seed: typeof p.seed === "number" ? p.seed : 42,
      suffix: p.suffix ?? null,
      metadata: p.metadata ?? null,
      status: "validating_files",
      events: [],
      checkpoints: [],
      stage: 0,
      stepDone: 0,
      ...(this.nextJobFailure ? { failure: this.nextJobFailure } : {}),
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      trained_tokens: null,
      tokensPerEpoch: lines.reduce((s, l) => s + Math.ceil(l.length / 4), 0),
    };
    this.nextJobFailure = undefined;
    this.jobs.set(job.id, job);
    this.pushEvent(job, job.createdMs, `Created fine-tuning job: ${job.id}`);
    this.pushEvent(job, job.createdMs, `Validating training file: ${training.id}${validation ? ` and validation file: ${validation.id}` : ""}`);
    reply(200, this.jobJson(job));
  }
}

export async function startFakeOpenAI(options: FakeOpenAIOptions): Promise<FakeOpenAIServer> {
  return new FakeOpenAIServer(options).start();
}
