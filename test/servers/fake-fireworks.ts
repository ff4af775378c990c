/**
 * A fake of Fireworks' REST API for supervised fine-tuning on 127.0.0.1, with the documented paths and
 * JSON (docs.fireworks.ai API reference: Create/Get Dataset, Upload Dataset Files, Get Dataset Upload
 * Endpoint, Create/Get/Cancel Supervised Fine-tuning Job, Get Model, Get Model Download Endpoint):
 *
 *   POST /v1/accounts/{a}/datasets {datasetId, dataset:{format, exampleCount, userUploaded}}  GET|DELETE .../datasets/{d}
 *   POST .../datasets/{d}:upload (multipart `file`)   POST .../datasets/{d}:getUploadEndpoint {filenameToSize}
 *   PUT  /signed/... (a signed URL: no API key)       POST .../datasets/{d}:validateUpload
 *   POST .../supervisedFineTuningJobs?supervisedFineTuningJobId=ID    GET .../supervisedFineTuningJobs/{id}
 *   POST .../supervisedFineTuningJobs/{id}:cancel     GET /v1/accounts/{a}/models/{m}[:getDownloadEndpoint]
 *
 * Errors are the gateway's `{"code": <gRPC code>, "message", "details": []}` with the matching HTTP
 * status. Jobs move JOB_STATE_CREATING -> JOB_STATE_VALIDATING -> JOB_STATE_RUNNING (jobProgress) ->
 * JOB_STATE_COMPLETED on a clock computed per request, so they progress while the server is down.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RestartableServer, readBody, sendJson, type Fault, type RecordedRequest } from "./http-util.js";

export interface FakeFireworksOptions {
  apiKey: string;
  account: string;
  datasetProcessMs?: number;
  validateMs?: number;
  runMs?: number;
  supportedModels?: string[];
}

interface Dataset {
  id: string;
  state: "UPLOADING" | "READY";
  exampleCount: string;
  format: string;
  content?: string;
  uploadedMs?: number;
  displayName?: string;
}

interface Job {
  id: string;
  body: Record<string, any>;
  createdMs: number;
  cancelledMs?: number;
}

const GRPC: Record<number, [number, string]> = { 400: [3, "INVALID_ARGUMENT"], 401: [16, "UNAUTHENTICATED"], 403: [7, "PERMISSION_DENIED"], 404: [5, "NOT_FOUND"], 409: [6, "ALREADY_EXISTS"], 429: [8, "RESOURCE_EXHAUSTED"], 500: [13, "INTERNAL"], 503: [14, "UNAVAILABLE"] };
const gwError = (status: number, message: string) => ({ code: GRPC[status]?.[0] ?? 2, message, details: [] });

export class FakeFireworksServer {
  readonly options: Required<FakeFireworksOptions>;
  readonly datasets = new Map<string, Dataset>();
  readonly jobs = new Map<string, Job>();
  readonly requests: (RecordedRequest & { body?: string })[] = [];
  readonly deletedDatasets: string[] = [];
  /** Files of each output model's download (tests put a real PEFT adapter here). */
  artifacts?: Record<string, Buffer>;
  private faults: (Fault & { left: number })[] = [];
  private readonly http: RestartableServer;

  constructor(options: FakeFireworksOptions) {
    this.options = { datasetProcessMs: 50, validateMs: 80, runMs: 300, supportedModels: ["accounts/fireworks/models/qwen3-8b", "accounts/fireworks/models/llama-v3p1-8b-instruct"], ...options };
    this.http = new RestartableServer((req, res) => {
      this.handle(req, res).catch((e) => {
        if (!res.headersSent) sendJson(res, 500, gwError(500, `fake server bug: ${(e as Error).message}`));
      });
    });
  }

  get baseURL(): string {
    return this.http.baseUrl;
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

  private jobJson(j: Job) {
    const o = this.options;
    const now = j.cancelledMs ?? Date.now();
    const t = now - j.createdMs;
    let state = "JOB_STATE_CREATING";
    let percent: number | undefined;
    if (t >= o.validateMs / 2) state = "JOB_STATE_VALIDATING";
    if (t >= o.validateMs) {
      state = "JOB_STATE_RUNNING";
      percent = Math.min(100, Math.round(((t - o.validateMs) / o.runMs) * 100));
    }
    if (t >= o.validateMs + o.runMs) state = "JOB_STATE_COMPLETED";
    if (j.cancelledMs !== undefined && state !== "JOB_STATE_COMPLETED") state = "JOB_STATE_CANCELLED";
    const b = j.body;
    const done = state === "JOB_STATE_COMPLETED";
    return {
      name: `accounts/${o.account}/supervisedFineTuningJobs/${j.id}`,
      displayName: b.displayName ?? "",
      createTime: new Date(j.createdMs).toISOString(),
      ...(done ? { completedTime: new Date(j.createdMs + o.validateMs + o.runMs).toISOString() } : {}),
      updateTime: new Date(Math.min(now, j.createdMs + o.validateMs + o.runMs)).toISOString(),
      dataset: b.dataset,
      state,
      status: { code: "OK", message: "" },
      createdBy: "tunekit@example.test",
      outputModel: b.outputModel ?? `accounts/${o.account}/models/${j.id}`,
      baseModel: b.baseModel,
      epochs: b.epochs ?? 1,
      learningRate: b.learningRate ?? 0.0001,
      loraRank: b.loraRank ?? 8,
      maxContextLength: b.maxContextLength ?? 8192,
      ...(b.batchSize !== undefined ? { batchSize: b.batchSize } : {}),
      ...(b.evaluationDataset ? { evaluationDataset: b.evaluationDataset } : {}),
      ...(percent !== undefined ? { jobProgress: { percent, epoch: 1 } } : {}),
    };
  }

  private datasetJson(d: Dataset) {
    if (d.state === "UPLOADING" && d.uploadedMs !== undefined && Date.now() - d.uploadedMs >= this.options.datasetProcessMs) d.state = "READY";
    return { name: `accounts/${this.options.account}/datasets/${d.id}`, displayName: d.displayName ?? d.id, createTime: new Date().toISOString(), state: d.state, status: { code: "OK", message: "" }, exampleCount: d.exampleCount, userUploaded: {}, format: d.format };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    const method = req.method ?? "GET";
    const body = await readBody(req);
    const auth = req.headers.authorization;
    const record: RecordedRequest & { body?: string } = { method, path, query: Object.fromEntries(url.searchParams), at: Date.now(), status: 0, ...(auth ? { authorization: auth } : {}) };
    if ((req.headers["content-type"] ?? "").startsWith("application/json")) record.body = body.toString("utf8");
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
      return reply(fault.status, fault.body ?? gwError(fault.status, `injected ${fault.status}`), fault.headers);
    }
    let m: RegExpMatchArray | null;
    // Signed URLs carry their own authorisation, like a cloud bucket's.
    if ((m = path.match(/^\/signed\/upload\/([^/]+)\/([^/]+)$/)) && method === "PUT") {
      const d = this.datasets.get(m[1]);
      if (!d) return reply(404, { message: "no such upload" });
      d.content = body.toString("utf8");
      record.status = 200;
      res.writeHead(200).end();
      return;
    }
    if ((m = path.match(/^\/signed\/download\/([^/]+)\/([^/]+)$/)) && method === "GET") {
      const file = this.artifacts?.[decodeURIComponent(m[2])];
      if (!file) return reply(404, { message: "no such object" });
      record.status = 200;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": file.length }).end(file);
      return;
    }
    if (auth !== `Bearer ${this.options.apiKey}`) return reply(401, gwError(401, "unauthenticated: invalid API key"));
    const prefix = `/v1/accounts/${this.options.account}`;
    if (!path.startsWith(prefix)) return reply(403, gwError(403, `permission denied for ${path}`));
    const rest = path.slice(prefix.length);

    if (rest === "/datasets" && method === "POST") {
      const p = JSON.parse(body.toString("utf8") || "{}");
      if (typeof p.datasetId !== "string" || !/^[a-z0-9-]{1,63}$/.test(p.datasetId)) return reply(400, gwError(400, "datasetId must be 1-63 lowercase letters, digits or hyphens"));
      if (this.datasets.has(p.datasetId)) return reply(409, gwError(409, `dataset ${p.datasetId} already exists`));
      const d: Dataset = { id: p.datasetId, state: "UPLOADING", exampleCount: String(p.dataset?.exampleCount ?? "0"), format: p.dataset?.format ?? "FORMAT_UNSPECIFIED", displayName: p.dataset?.displayName };
      this.datasets.set(d.id, d);
      return reply(200, this.datasetJson(d));
    }
    if ((m = rest.match(/^\/datasets\/([^/:]+)(?::(upload|getUploadEndpoint|validateUpload))?$/))) {
      const d = this.datasets.get(m[1]);
      if (!d) return reply(404, gwError(404, `dataset ${m[1]} not found`));
      const verb = m[2];
      if (!verb && method === "GET") return reply(200, this.datasetJson(d));
      if (!verb && method === "DELETE") {
        this.datasets.delete(d.id);
        this.deletedDatasets.push(d.id);
        return reply(200, {});
      }
      if (verb === "upload" && method === "POST") {
        const form = await new Request("http://x/", { method: "POST", headers: { "content-type": req.headers["content-type"] ?? "" }, body }).formData();
        const file = form.get("file");
        if (!file || typeof file === "string") return reply(400, gwError(400, "missing file"));
        d.content = Buffer.from(await file.arrayBuffer()).toString("utf8");
        d.uploadedMs = Date.now();
        return reply(200, { id: d.id, object: "file", bytes: Buffer.byteLength(d.content), created_at: Math.floor(Date.now() / 1000), filename: (file as File).name, purpose: "fine-tune" });
      }
      if (verb === "getUploadEndpoint" && method === "POST") {
        const p = JSON.parse(body.toString("utf8") || "{}");
        const names = Object.keys(p.filenameToSize ?? {});
        return reply(200, { filenameToSignedUrls: Object.fromEntries(names.map((n) => [n, `${this.baseURL}/signed/upload/${d.id}/${encodeURIComponent(n)}?X-Goog-Signature=fake`])) });
      }
      if (verb === "validateUpload" && method === "POST") {
        if (d.content === undefined) return reply(400, gwError(400, "nothing was uploaded"));
        d.uploadedMs = Date.now();
        return reply(200, {});
      }
    }
    if (rest === "/supervisedFineTuningJobs" && method === "POST") {
      const p = JSON.parse(body.toString("utf8") || "{}");
      const id = url.searchParams.get("supervisedFineTuningJobId") ?? `sftj-${Math.random().toString(36).slice(2, 10)}`;
      if (this.jobs.has(id)) return reply(409, gwError(409, `supervisedFineTuningJob ${id} already exists`));
      if (typeof p.dataset !== "string") return reply(400, gwError(400, "dataset is required"));
      const d = this.datasets.get(p.dataset.split("/").pop()!);
      if (!d || this.datasetJson(d).state !== "READY") return reply(400, gwError(400, `dataset ${p.dataset} is not ready`));
      if (!this.options.supportedModels.includes(p.baseModel)) return reply(400, gwError(400, `base model ${p.baseModel} is not supported for fine-tuning`));
      const job: Job = { id, body: p, createdMs: Date.now() };
      this.jobs.set(id, job);
      return reply(200, this.jobJson(job));
    }
    if ((m = rest.match(/^\/supervisedFineTuningJobs\/([^/:]+)(?::(cancel))?$/))) {
      const job = this.jobs.get(m[1]);
      if (!job) return reply(404, gwError(404, `supervisedFineTuningJob ${m[1]} not found`));
      if (!m[2] && method === "GET") return reply(200, this.jobJson(job));
      if (m[2] === "cancel" && method === "POST") {
        const state = this.jobJson(job).state;
        if (state === "JOB_STATE_COMPLETED" || state === "JOB_STATE_CANCELLED") return reply(400, gwError(400, `job ${job.id} is already ${state}`));
        job.cancelledMs = Date.now();
        return reply(200, {});
      }
    }
    if ((m = rest.match(/^\/models\/([^/:]+)(?::(getDownloadEndpoint))?$/)) && method === "GET") {
      const job = [...this.jobs.values()].find((j) => j.id === m![1] && this.jobJson(j).state === "JOB_STATE_COMPLETED");
      if (!job) return reply(404, gwError(404, `model ${m[1]} not found`));
      if (!m[2]) return reply(200, { name: `accounts/${this.options.account}/models/${job.id}`, kind: "HF_PEFT_ADDON", state: "READY", baseModelDetails: {}, peftDetails: { baseModel: job.body.baseModel, r: job.body.loraRank ?? 8 } });
      return reply(200, { filenameToSignedUrls: Object.fromEntries(Object.keys(this.artifacts ?? {}).map((n) => [n, `${this.baseURL}/signed/download/${job.id}/${encodeURIComponent(n)}?X-Goog-Signature=fake`])) });
    }
    return reply(404, gwError(404, `Not found: ${method} ${path}`));
  }
}
