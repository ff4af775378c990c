/**
 * A faithful fake of Together AI's files + fine-tunes API for tests, on 127.0.0.1, driven by the real
 * `together-ai` SDK. What the SDK does, this answers:
 *
 *   POST /v1/files  (form: file_name, file_type, purpose) -> 302, Location: upload URL, x-together-file-id
 *   PUT  /upload/:id (the bytes)                           GET /v1/files/:id (processing_status)
 *   POST /v1/fine-tunes     GET /v1/fine-tunes     GET /v1/fine-tunes/:id     POST /v1/fine-tunes/:id/cancel
 *   GET  /v1/fine-tunes/:id/events  (no ids, no cursor: the whole list, oldest first)
 *   GET  /v1/fine-tunes/:id/checkpoints             GET /v1/fine-tunes/:id/metrics
 *
 * Jobs go pending -> queued -> running -> uploading -> completed | error | cancelled on a compressed
 * clock computed lazily per request (see fake-openai-ft.ts). Errors use `{"error":{"message","type",...}}`.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { RestartableServer, readBody, sendJson, tarPack, zstdFrame, type Fault, type RecordedRequest } from "./http-util.js";

export interface FakeTogetherOptions {
  apiKey: string;
  /** Base models the fine-tuning API lists as supported. */
  supportedModels?: string[];
  /** USD per 1M tokens the estimate endpoint charges. */
  pricePerMTok?: number;
  /** The account's credit limit in USD (estimates above it are not allowed to proceed). */
  userLimit?: number;
  fileProcessMs?: number;
  queueMs?: number;
  stepMs?: number;
  steps?: number;
}

interface FileRec {
  id: string;
  filename: string;
  purpose: string;
  createdMs: number;
  content?: string;
  valid: boolean;
}

interface EventRec {
  object: "fine-tune-event";
  created_at: string;
  level: "info" | "warning" | "error";
  message: string;
  type: string;
  step?: number;
  total_steps?: number;
}

interface JobRec {
  id: string;
  createdMs: number;
  body: Record<string, any>;
  status: "pending" | "queued" | "running" | "uploading" | "completed" | "error" | "cancelled";
  events: EventRec[];
  metrics: Record<string, number>[];
  checkpoints: { checkpoint_type: string; created_at: string; path: string; step: number }[];
  stepDone: number;
  failAtStep?: number;
  failMessage?: string;
  tokenCount: number;
  updatedMs: number;
}

const apiError = (message: string, type = "invalid_request_error", param: string | null = null) => ({ error: { message, type, param, code: null } });
const iso = (ms: number) => new Date(ms).toISOString();

export class FakeTogetherServer {
  readonly options: Required<FakeTogetherOptions>;
  readonly files = new Map<string, FileRec>();
  readonly jobs = new Map<string, JobRec>();
  readonly requests: RecordedRequest[] = [];
  private faults: (Fault & { left: number })[] = [];
  private readonly http: RestartableServer;
  /** The next created job fails at this step with this message. */
  nextJobFailure?: { atStep: number; message: string };
  /**
   * The files a finished job's download holds, per checkpoint kind (tests build a real PEFT adapter
   * for a tiny base model); absent: the download answers 404 like a job without weights.
   */
  artifacts?: { adapter?: Record<string, Buffer>; merged?: Record<string, Buffer> };
  readonly deletedFiles: string[] = [];

  constructor(options: FakeTogetherOptions) {
    this.options = { fileProcessMs: 50, queueMs: 100, stepMs: 50, steps: 5, supportedModels: ["meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "Qwen/Qwen3-8B", "Qwen/Qwen2.5-0.5B-Instruct"], pricePerMTok: 1, userLimit: 100, ...options };
    this.http = new RestartableServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) sendJson(res, 500, apiError(`fake server bug: ${(e as Error).message}`, "server_error"));
      });
    });
  }

  get baseURL(): string {
    return `${this.http.baseUrl}/v1`;
  }
  async start(port?: number): Promise<this> {
    await this.http.start(port);
    return this;
  }
  stop(): Promise<void> {
    return this.http.stop();
  }
  restart(): Promise<this> {
    return this.start(this.http.port);
  }
  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  private advance(job: JobRec, now = Date.now()): void {
    const o = this.options;
    const tQueued = job.createdMs + o.queueMs / 2;
    const tRunning = job.createdMs + o.queueMs;
    const ev = (at: number, type: string, message: string, extra: Partial<EventRec> = {}) => {
      job.events.push({ object: "fine-tune-event", created_at: iso(at), level: "info", message, type, ...extra });
      job.updatedMs = at;
    };
    if (job.status === "completed" || job.status === "error" || job.status === "cancelled") return;
    if (job.status === "pending" && now >= tQueued) {
      job.status = "queued";
      ev(tQueued, "job_pending", "Job is queued");
    }
    if (job.status === "queued" && now >= tRunning) {
      job.status = "running";
      ev(tRunning, "job_start", "Job started");
      ev(tRunning, "training_start", "Training started", { total_steps: o.steps });
    }
    if (job.status !== "running") return;
    while (job.stepDone < o.steps) {
      const step = job.stepDone + 1;
      const at = tRunning + step * o.stepMs;
      if (now < at) return;
      if (job.failAtStep !== undefined && step >= job.failAtStep) {
        job.status = "error";
        job.events.push({ object: "fine-tune-event", created_at: iso(at), level: "error", message: job.failMessage ?? "Job failed", type: "job_error" });
        job.updatedMs = at;
        return;
      }
      job.stepDone = step;
      const row: Record<string, number> = { global_step: step, train_loss: Number((0.5 + 2 * Math.exp((-2 * step) / o.steps)).toFixed(4)) };
      if (job.body.validation_file) row.eval_loss = Number((0.7 + 2 * Math.exp((-2 * step) / o.steps)).toFixed(4));
      job.metrics.push(row);
      if (step === o.steps) {
        ev(at, "epoch_complete", `Epoch completed, at step ${step}`, { step, total_steps: o.steps });
        job.checkpoints.push({ checkpoint_type: `Final checkpoint (step ${step})`, created_at: iso(at), path: `${job.id}:${step}`, step });
        ev(at, "checkpoint_save", `Checkpoint saved at step ${step}`, { step });
      }
    }
    const tDone = tRunning + (o.steps + 1) * o.stepMs;
    if (now < tDone) return;
    ev(tDone, "model_uploading", "Uploading output model");
    ev(tDone, "job_complete", `Job finished at ${iso(tDone)}`);
    job.status = "completed";
  }

  private jobJson(job: JobRec) {
    const b = job.body;
    return {
      id: job.id,
      status: job.status,
      user_id: "user-tunekitfake",
      created_at: iso(job.createdMs),
      updated_at: iso(job.updatedMs),
      model: b.model,
      training_file: b.training_file,
      validation_file: b.validation_file ?? "",
      n_epochs: b.n_epochs ?? 1,
      batch_size: b.batch_size ?? "max",
      learning_rate: b.learning_rate ?? 0.00001,
      random_seed: b.random_seed ?? null,
      suffix: b.suffix ?? null,
      training_type: b.training_type ?? { type: "Full" },
      training_method: b.training_method ?? { method: "sft", train_on_inputs: "auto" },
      token_count: job.tokenCount,
      epochs_completed: job.status === "completed" ? (b.n_epochs ?? 1) : 0,
      events: job.events,
      ...(job.status === "completed" ? { model_output_name: `tunekit-fake/${String(b.model).split("/").pop()}${b.suffix ? `-${b.suffix}` : ""}-${job.id.slice(-6)}`, total_price: 0.42 } : {}),
      ...(job.status === "running" ? { progress: { estimate_available: true, seconds_remaining: 3 } } : {}),
    };
  }

  private fileJson(f: FileRec) {
    const processed = f.content !== undefined && Date.now() - f.createdMs >= this.options.fileProcessMs;
    const status = f.content === undefined ? "PENDING" : !processed ? "RUNNING" : f.valid ? "COMPLETED" : "FAILED";
    return {
      id: f.id,
      object: "file",
      bytes: f.content ? Buffer.byteLength(f.content) : 0,
      created_at: Math.floor(f.createdMs / 1000),
      filename: f.filename,
      FileType: "jsonl",
      Processed: processed,
      purpose: f.purpose,
      processing_status: status,
      ...(processed ? { validation_report: { valid: f.valid, file_id: f.id, ...(f.valid ? {} : { error: "Line 1: expected a JSON object with messages", error_type: "INVALID_FORMAT" }) } } : {}),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const body = await readBody(req);
    const auth = req.headers.authorization;
    const record: RecordedRequest = { method, path, query: Object.fromEntries(url.searchParams), at: Date.now(), status: 0, ...(auth ? { authorization: auth } : {}) };
    this.requests.push(record);
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      sendJson(res, status, json, headers);
    };
    const fault = this.faults.find((f) => f.left > 0 && f.path.test(path) && (!f.method || f.method === method));
    if (fault) {
      fault.left--;
      if (fault.drop) {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      return reply(fault.status, fault.body ?? apiError(`injected ${fault.status}`, fault.status >= 500 ? "server_error" : "invalid_request_error"), fault.headers);
    }
    let m: RegExpMatchArray | null;
    // The presigned upload URL carries no Authorization header, like a real object store.
    if ((m = path.match(/^\/upload\/([^/]+)$/)) && method === "PUT") {
      const f = this.files.get(m[1]);
      if (!f) return reply(404, { message: "no such upload" });
      f.content = body.toString("utf8");
      f.createdMs = Date.now();
      f.valid = f.content.split("\n").filter((l) => l.trim()).every((l) => {
        try {
          return Array.isArray(JSON.parse(l).messages);
        } catch {
          return false;
        }
      });
      record.status = 200;
      res.writeHead(200).end();
      return;
    }
    if ((m = path.match(/^\/blob\/([^/]+)\/(adapter|merged|model_output_path)$/)) && method === "GET") {
      const job = this.jobs.get(m[1]);
      const files = m[2] === "adapter" ? this.artifacts?.adapter : this.artifacts?.merged;
      if (!job || !files) return reply(404, { message: "no such object" });
      const body = zstdFrame(tarPack(files));
      record.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, "content-disposition": `attachment; filename="${job.id}-${m[2]}.tar.zst"` });
      res.end(body);
      return;
    }
    if (auth !== `Bearer ${this.options.apiKey}`) return reply(401, apiError("Invalid API key provided", "invalid_request_error"));
    if (path === "/v1/fine-tunes/models/supported" && method === "GET") {
      return reply(200, { models: this.options.supportedModels, detailed_models: this.options.supportedModels.map((name) => ({ name, max_seq_length_sft: 32768 })) });
    }
    if (path === "/v1/fine-tunes/estimate-price" && method === "POST") {
      const p = JSON.parse(body.toString("utf8") || "{}");
      const f = this.files.get(p.training_file);
      if (!f) return reply(400, apiError(`Training file ${p.training_file} is not available`, "invalid_request_error", "training_file"));
      const train = Math.ceil((f.content ?? "").length / 4) * (p.n_epochs ?? 1);
      const v = p.validation_file ? this.files.get(p.validation_file) : undefined;
      const evalTokens = v ? Math.ceil((v.content ?? "").length / 4) * (p.n_evals ?? 0) : 0;
      const price = Math.round(((train + evalTokens) / 1e6) * this.options.pricePerMTok * 1e6) / 1e6;
      return reply(200, { estimation_available: true, estimated_total_price: price, allowed_to_proceed: price <= this.options.userLimit, user_limit: this.options.userLimit, estimated_train_token_count: train, estimated_eval_token_count: evalTokens });
    }
    if (path === "/v1/finetune/download" && method === "GET") {
      const job = this.jobs.get(url.searchParams.get("ft_id") ?? "");
      if (!job) return reply(404, apiError(`Fine-tune job ${url.searchParams.get("ft_id")} not found`));
      this.advance(job);
      if (job.status !== "completed") return reply(400, apiError(`Job ${job.id} is not completed`));
      const kind = url.searchParams.get("checkpoint") ?? "merged";
      // Like the real API: a redirect to a presigned object URL that takes no API key.
      record.status = 302;
      res.writeHead(302, { location: `${this.http.baseUrl}/blob/${job.id}/${kind}` }).end();
      return;
    }

    if (path === "/v1/files" && method === "POST") {
      const form = new URLSearchParams(body.toString("utf8"));
      const f: FileRec = { id: `file-${randomBytes(8).toString("hex")}`, filename: (form.get("file_name") ?? "").split("/").pop() ?? "", purpose: form.get("purpose") ?? "", createdMs: Date.now(), valid: false };
      if (form.get("file_type") !== "jsonl" && form.get("file_type") !== "parquet") return reply(400, apiError("file_type must be jsonl or parquet", "invalid_request_error", "file_type"));
      this.files.set(f.id, f);
      record.status = 302;
      res.writeHead(302, { location: `${this.http.baseUrl}/upload/${f.id}`, "x-together-file-id": f.id }).end();
      return;
    }
    if ((m = path.match(/^\/v1\/files\/([^/]+)$/)) && method === "GET") {
      const f = this.files.get(m[1]);
      return f ? reply(200, this.fileJson(f)) : reply(404, apiError(`File ${m[1]} not found`));
    }
    if ((m = path.match(/^\/v1\/files\/([^/]+)$/)) && method === "DELETE") {
      if (!this.files.delete(m[1])) return reply(404, apiError(`File ${m[1]} not found`));
      this.deletedFiles.push(m[1]);
      return reply(200, { id: m[1], object: "file", deleted: true });
    }
    if (path === "/v1/fine-tunes" && method === "POST") {
      const p = JSON.parse(body.toString("utf8") || "{}");
      if (typeof p.model !== "string" || !this.options.supportedModels.includes(p.model)) return reply(400, apiError(`Model ${p.model} is not supported for fine-tuning`, "invalid_request_error", "model"));
      const f = this.files.get(p.training_file);
      if (!f || this.fileJson(f).processing_status !== "COMPLETED") return reply(400, apiError(`Training file ${p.training_file} is not available`, "invalid_request_error", "training_file"));
      if (p.n_epochs !== undefined && (p.n_epochs < 1 || p.n_epochs > 20)) return reply(400, apiError("n_epochs must be between 1 and 20", "invalid_request_error", "n_epochs"));
      const now = Date.now();
      const job: JobRec = {
        id: `ft-${randomBytes(8).toString("hex")}`,
        createdMs: now,
        updatedMs: now,
        body: p,
        status: "pending",
        events: [{ object: "fine-tune-event", created_at: iso(now), level: "info", message: "Fine tune request created", type: "job_pending" }],
        metrics: [],
        checkpoints: [],
        stepDone: 0,
        ...(this.nextJobFailure ? { failAtStep: this.nextJobFailure.atStep, failMessage: this.nextJobFailure.message } : {}),
        tokenCount: Math.ceil((f.content ?? "").length / 4),
      };
      this.nextJobFailure = undefined;
      this.jobs.set(job.id, job);
      return reply(200, this.jobJson(job));
    }
    if (path === "/v1/fine-tunes" && method === "GET") {
      for (const j of this.jobs.values()) this.advance(j);
      return reply(200, { data: [...this.jobs.values()].map((j) => this.jobJson(j)) });
    }
    if ((m = path.match(/^\/v1\/fine-tunes\/([^/]+)(?:\/(cancel|events|checkpoints|metrics))?$/))) {
      const job = this.jobs.get(m[1]);
      if (!job) return reply(404, apiError(`Fine-tune job ${m[1]} not found`));
      this.advance(job);
      const sub = m[2];
      if (!sub && method === "GET") return reply(200, this.jobJson(job));
      if (sub === "cancel" && method === "POST") {
        if (job.status === "completed" || job.status === "error" || job.status === "cancelled") return reply(400, apiError(`Job ${job.id} is already ${job.status}`));
        job.status = "cancelled";
        job.events.push({ object: "fine-tune-event", created_at: iso(Date.now()), level: "info", message: "Job cancelled by user", type: "job_stopped" });
        return reply(200, this.jobJson(job));
      }
      if (sub === "events" && method === "GET") return reply(200, { data: job.events });
      if (sub === "checkpoints" && method === "GET") return reply(200, { data: [...job.checkpoints].reverse() });
      if (sub === "metrics" && method === "GET") return reply(200, { metrics: job.metrics });
    }
    return reply(404, apiError(`Not found: ${method} ${path}`));
  }
}
