/**
 * The job store: every training job tunekit started, local or hosted, with its status history, events,
 * metrics, checkpoints and result, plus the files uploaded to each provider (so an unchanged dataset is
 * not uploaded twice). Plain typed records in, plain typed records out; SQLite underneath.
 *
 * Every write transaction is IMMEDIATE: a deferred one that reads first and writes later can fail at
 * once with SQLITE_BUSY when another process committed in between (the busy timeout does not help there).
 */
import { randomBytes } from "node:crypto";
import { openDatabase, type OpenDatabaseOptions, type SqliteDatabase } from "./open.js";

export type JobKind = "local" | "hosted";

/**
 * Normalised status across providers. Hosted providers map their own words onto these
 * (Together's "pending" -> queued, "completed" -> succeeded, "error" -> failed ...).
 */
export type JobStatus = "created" | "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];
export function isTerminalStatus(s: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(s);
}

export interface JobError {
  code: string;
  message: string;
  param?: string | null;
}

export interface JobRecord {
  /** tunekit's own id, e.g. "tk_3f9a1c0b2d4e". */
  id: string;
  kind: JobKind;
  /** "local", "openai", "together", ... */
  provider: string;
  /** The provider's job id (e.g. "ftjob-..."), once created. */
  remoteId?: string;
  /** The API base URL the job lives on (never the key). */
  baseUrl?: string;
  model?: string;
  datasetPath?: string;
  datasetSha256?: string;
  validationPath?: string;
  validationSha256?: string;
  trainingFileId?: string;
  validationFileId?: string;
  /** Hyperparameters and options as given (JSON). */
  params: Record<string, unknown>;
  status: JobStatus;
  /** Provider-specific result details (JSON). */
  result?: Record<string, unknown>;
  error?: JobError;
  /** Hosted: the fine-tuned model id. */
  fineTunedModel?: string;
  /** Local: the adapter folder. */
  outputDir?: string;
  trainedTokens?: number;
  /** Unix ms. */
  estimatedFinish?: number;
  /** The id of the newest remote event already stored (resume point for watching). */
  eventCursor?: string;
  /** Unix ms. */
  createdAt: number;
  updatedAt: number;
}

/** What a new job is created with: its kind and provider, and any of the fields known before the provider answers. */
export type NewJob = Pick<JobRecord, "kind" | "provider"> &
  Partial<
    Pick<
      JobRecord,
      "status" | "remoteId" | "baseUrl" | "model" | "datasetPath" | "datasetSha256" | "validationPath" | "validationSha256" | "trainingFileId" | "validationFileId" | "params" | "outputDir"
    >
  >;

export type JobPatch = Partial<Omit<JobRecord, "id" | "kind" | "provider" | "createdAt" | "updatedAt">> & {
  /** Stored with the status change in the history. */
  statusMessage?: string;
};

export interface StoredEvent {
  /** The provider's event id (dedupe key); absent for local events. */
  remoteId?: string;
  /** Unix ms. */
  createdAt: number;
  level: string;
  type: string;
  message: string;
  data?: unknown;
}

export interface MetricPoint {
  step: number;
  /** e.g. { train_loss: 1.2, valid_loss: 1.4, train_mean_token_accuracy: 0.6 } */
  values: Record<string, number>;
}

export interface StoredCheckpoint {
  remoteId: string;
  step: number;
  modelId?: string;
  metrics?: Record<string, number>;
  createdAt: number;
}

export interface StatusChange {
  status: JobStatus;
  message?: string;
  at: number;
}

export interface UploadedFile {
  provider: string;
  baseUrl: string;
  purpose: string;
  sha256: string;
  remoteFileId: string;
  filename?: string;
  bytes?: number;
  createdAt: number;
}

const COLUMNS: Record<string, string> = {
  remoteId: "remote_id",
  baseUrl: "base_url",
  model: "model",
  datasetPath: "dataset_path",
  datasetSha256: "dataset_sha256",
  validationPath: "validation_path",
  validationSha256: "validation_sha256",
  trainingFileId: "training_file_id",
  validationFileId: "validation_file_id",
  status: "status",
  fineTunedModel: "fine_tuned_model",
  outputDir: "output_dir",
  trainedTokens: "trained_tokens",
  estimatedFinish: "estimated_finish",
  eventCursor: "event_cursor",
};
const JSON_COLUMNS: Record<string, string> = { params: "params_json", result: "result_json", error: "error_json" };

interface JobRow {
  id: string;
  kind: JobKind;
  provider: string;
  remote_id: string | null;
  base_url: string | null;
  model: string | null;
  dataset_path: string | null;
  dataset_sha256: string | null;
  validation_path: string | null;
  validation_sha256: string | null;
  training_file_id: string | null;
  validation_file_id: string | null;
  params_json: string;
  status: JobStatus;
  result_json: string | null;
  error_json: string | null;
  fine_tuned_model: string | null;
  output_dir: string | null;
  trained_tokens: number | null;
  estimated_finish: number | null;
  event_cursor: string | null;
  created_at: number;
  updated_at: number;
}

function fromRow(r: JobRow): JobRecord {
  const rec: JobRecord = {
    id: r.id,
    kind: r.kind,
    provider: r.provider,
    params: JSON.parse(r.params_json),
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  for (const [key, col] of Object.entries(COLUMNS)) {
    const v = (r as unknown as Record<string, unknown>)[col];
    if (v !== null && v !== undefined) (rec as unknown as Record<string, unknown>)[key] = v;
  }
  if (r.result_json) rec.result = JSON.parse(r.result_json);
  if (r.error_json) rec.error = JSON.parse(r.error_json);
  return rec;
}

export function newJobId(): string {
  return `tk_${randomBytes(6).toString("hex")}`;
}

export class Store {
  readonly db: SqliteDatabase;
  /** Clock, replaceable in tests. */
  now: () => number = () => Date.now();

  constructor(db: SqliteDatabase) {
    this.db = db;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- jobs -------------------------------------------------------------------------------------

  createJob(input: NewJob): JobRecord {
    const id = newJobId();
    const t = this.now();
    const status = input.status ?? "created";
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO jobs (id, kind, provider, remote_id, base_url, model, dataset_path, dataset_sha256,
             validation_path, validation_sha256, training_file_id, validation_file_id, params_json, status,
             output_dir, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          input.kind,
          input.provider,
          input.remoteId ?? null,
          input.baseUrl ?? null,
          input.model ?? null,
          input.datasetPath ?? null,
          input.datasetSha256 ?? null,
          input.validationPath ?? null,
          input.validationSha256 ?? null,
          input.trainingFileId ?? null,
          input.validationFileId ?? null,
          JSON.stringify(input.params ?? {}),
          status,
          input.outputDir ?? null,
          t,
          t,
        );
      this.db.prepare(`INSERT INTO job_status_history (job_id, status, at) VALUES (?, ?, ?)`).run(id, status, t);
    }).immediate();
    return this.getJob(id)!;
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * Finds a job by tunekit id, by the provider's id (e.g. "ftjob-..."), or by a unique prefix of the
   * tunekit id. Returns undefined when nothing (or more than one job) matches.
   */
  findJob(ref: string): JobRecord | undefined {
    const direct = this.getJob(ref);
    if (direct) return direct;
    const byRemote = this.db.prepare(`SELECT * FROM jobs WHERE remote_id = ? ORDER BY created_at DESC`).all(ref) as JobRow[];
    if (byRemote.length === 1) return fromRow(byRemote[0]);
    if (byRemote.length > 1) return undefined;
    const escaped = ref.replace(/[\\%_]/g, (c) => "\\" + c);
    const byPrefix = this.db.prepare(`SELECT * FROM jobs WHERE id LIKE ? ESCAPE '\\' LIMIT 2`).all(escaped + "%") as JobRow[];
    return byPrefix.length === 1 ? fromRow(byPrefix[0]) : undefined;
  }

  listJobs(filter: { provider?: string; kind?: JobKind; limit?: number } = {}): JobRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.provider) {
      where.push("provider = ?");
      args.push(filter.provider);
    }
    if (filter.kind) {
      where.push("kind = ?");
      args.push(filter.kind);
    }
    const sql = `SELECT * FROM jobs ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1000) as JobRow[]).map(fromRow);
  }

  /** Updates fields of a job; a status change is also appended to its history. */
  updateJob(id: string, patch: JobPatch): JobRecord {
    const t = this.now();
    this.db.transaction(() => {
      const current = this.db.prepare(`SELECT status FROM jobs WHERE id = ?`).get(id) as { status: string } | undefined;
      if (!current) throw new Error(`no job ${id} in the store`);
      const sets: string[] = [];
      const args: unknown[] = [];
      for (const [key, value] of Object.entries(patch)) {
        if (value === undefined || key === "statusMessage") continue;
        if (COLUMNS[key]) {
          sets.push(`${COLUMNS[key]} = ?`);
          args.push(value);
        } else if (JSON_COLUMNS[key]) {
          sets.push(`${JSON_COLUMNS[key]} = ?`);
          args.push(value === null ? null : JSON.stringify(value));
        }
      }
      sets.push("updated_at = ?");
      args.push(t);
      this.db.prepare(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ?`).run(...args, id);
      if (patch.status && patch.status !== current.status) {
        this.db
          .prepare(`INSERT INTO job_status_history (job_id, status, message, at) VALUES (?, ?, ?, ?)`)
          .run(id, patch.status, patch.statusMessage ?? null, t);
      }
    }).immediate();
    return this.getJob(id)!;
  }

  statusHistory(id: string): StatusChange[] {
    const rows = this.db
      .prepare(`SELECT status, message, at FROM job_status_history WHERE job_id = ? ORDER BY id`)
      .all(id) as { status: JobStatus; message: string | null; at: number }[];
    return rows.map((r) => ({ status: r.status, at: r.at, ...(r.message ? { message: r.message } : {}) }));
  }

  deleteJob(id: string): void {
    this.db.prepare(`DELETE FROM jobs WHERE id = ?`).run(id);
  }

  // ---- local runs (engine T) ----------------------------------------------------------------------

  /** Records a local training run; returns its record (status "running" unless given). */
  recordLocalRun(input: Omit<NewJob, "kind" | "provider"> & { provider?: string }): JobRecord {
    return this.createJob({ ...input, kind: "local", provider: input.provider ?? "local", status: input.status ?? "running" });
  }

  /** Updates a local run: status, result, error, outputDir, metrics (appended). */
  updateRun(id: string, patch: JobPatch & { metrics?: MetricPoint[]; events?: StoredEvent[] }): JobRecord {
    const { metrics, events, ...rest } = patch;
    return this.db.transaction(() => {
      if (metrics) this.addMetrics(id, metrics);
      if (events) this.addEvents(id, events);
      return this.updateJob(id, rest);
    }).immediate();
  }

  // ---- events, metrics, checkpoints -----------------------------------------------------------------

  /** Stores events; those whose remoteId is already stored are skipped. Returns how many were new. */
  addEvents(jobId: string, events: StoredEvent[]): number {
    const stmt = this.db.prepare(
      `INSERT OR IGNORE INTO job_events (job_id, remote_id, created_at, level, type, message, data_json)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    let added = 0;
    this.db.transaction(() => {
      for (const e of events) {
        const r = stmt.run(
          jobId,
          e.remoteId ?? null,
          e.createdAt,
          e.level,
          e.type,
          e.message,
          e.data === undefined ? null : JSON.stringify(e.data),
        );
        added += r.changes;
      }
    }).immediate();
    return added;
  }

  /** Events in the order they happened. */
  listEvents(jobId: string): StoredEvent[] {
    const rows = this.db
      .prepare(`SELECT * FROM job_events WHERE job_id = ? ORDER BY created_at, id`)
      .all(jobId) as { remote_id: string | null; created_at: number; level: string; type: string; message: string; data_json: string | null }[];
    return rows.map((r) => ({
      ...(r.remote_id ? { remoteId: r.remote_id } : {}),
      createdAt: r.created_at,
      level: r.level,
      type: r.type,
      message: r.message,
      ...(r.data_json ? { data: JSON.parse(r.data_json) } : {}),
    }));
  }

  addMetrics(jobId: string, points: MetricPoint[]): void {
    const t = this.now();
    const stmt = this.db.prepare(`INSERT OR REPLACE INTO job_metrics (job_id, step, name, value, at) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const p of points) {
        for (const [name, value] of Object.entries(p.values)) {
          if (typeof value === "number" && Number.isFinite(value)) stmt.run(jobId, p.step, name, value, t);
        }
      }
    }).immediate();
  }

  /** Metrics grouped by step, ascending. */
  getMetrics(jobId: string): MetricPoint[] {
    const rows = this.db
      .prepare(`SELECT step, name, value FROM job_metrics WHERE job_id = ? ORDER BY step, name`)
      .all(jobId) as { step: number; name: string; value: number }[];
    const out: MetricPoint[] = [];
    for (const r of rows) {
      let last = out[out.length - 1];
      if (!last || last.step !== r.step) {
        last = { step: r.step, values: {} };
        out.push(last);
      }
      last.values[r.name] = r.value;
    }
    return out;
  }

  upsertCheckpoints(jobId: string, checkpoints: StoredCheckpoint[]): void {
    const stmt = this.db.prepare(
      `INSERT OR REPLACE INTO job_checkpoints (job_id, remote_id, step, model_id, metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const c of checkpoints) {
        stmt.run(jobId, c.remoteId, c.step, c.modelId ?? null, c.metrics ? JSON.stringify(c.metrics) : null, c.createdAt);
      }
    }).immediate();
  }

  listCheckpoints(jobId: string): StoredCheckpoint[] {
    const rows = this.db
      .prepare(`SELECT * FROM job_checkpoints WHERE job_id = ? ORDER BY step`)
      .all(jobId) as { remote_id: string; step: number; model_id: string | null; metrics_json: string | null; created_at: number }[];
    return rows.map((r) => ({
      remoteId: r.remote_id,
      step: r.step,
      ...(r.model_id ? { modelId: r.model_id } : {}),
      ...(r.metrics_json ? { metrics: JSON.parse(r.metrics_json) } : {}),
      createdAt: r.created_at,
    }));
  }

  // ---- uploaded files ---------------------------------------------------------------------------------

  findUploadedFile(provider: string, baseUrl: string, purpose: string, sha256: string): UploadedFile | undefined {
    const r = this.db
      .prepare(`SELECT * FROM uploaded_files WHERE provider = ? AND base_url = ? AND purpose = ? AND sha256 = ?`)
      .get(provider, baseUrl, purpose, sha256) as
      | { provider: string; base_url: string; purpose: string; sha256: string; remote_file_id: string; filename: string | null; bytes: number | null; created_at: number }
      | undefined;
    if (!r) return undefined;
    return {
      provider: r.provider,
      baseUrl: r.base_url,
      purpose: r.purpose,
      sha256: r.sha256,
      remoteFileId: r.remote_file_id,
      ...(r.filename ? { filename: r.filename } : {}),
      ...(r.bytes !== null ? { bytes: r.bytes } : {}),
      createdAt: r.created_at,
    };
  }

  recordUploadedFile(f: Omit<UploadedFile, "createdAt">): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO uploaded_files (provider, base_url, purpose, sha256, remote_file_id, filename, bytes, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(f.provider, f.baseUrl, f.purpose, f.sha256, f.remoteFileId, f.filename ?? null, f.bytes ?? null, this.now());
  }

  forgetUploadedFile(provider: string, baseUrl: string, purpose: string, sha256: string): void {
    this.db
      .prepare(`DELETE FROM uploaded_files WHERE provider = ? AND base_url = ? AND purpose = ? AND sha256 = ?`)
      .run(provider, baseUrl, purpose, sha256);
  }
}

/** Opens the store in TUNEKIT_HOME (default ~/.tunekit), creating and migrating it as needed. */
export function openStore(options: OpenDatabaseOptions = {}): Store {
  return new Store(openDatabase(options));
}
