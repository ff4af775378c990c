/**
 * The store's schema, as an ordered list of migrations. Each one runs once, in order, inside a
 * transaction; the database's `PRAGMA user_version` records the last one applied.
 *
 * HOW TO ADD A MIGRATION (other areas do this, e.g. evaluation's generation cache):
 *   - APPEND an entry at the end of `migrations` with `version` = previous version + 1.
 *   - Never edit or reorder an entry that has been committed: databases in users' homes already ran it.
 *   - `up` is plain SQL (several statements allowed). Prefix your tables with your area
 *     (e.g. `eval_generation_cache`) so names never collide.
 *   - No `BEGIN`/`COMMIT` inside `up`: the runner wraps every migration in its own transaction.
 */

export interface Migration {
  version: number;
  name: string;
  up: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: "jobs, status history, events, metrics, checkpoints, uploaded files",
    up: `
      CREATE TABLE jobs (
        id                 TEXT PRIMARY KEY,
        kind               TEXT NOT NULL CHECK (kind IN ('local', 'hosted')),
        provider           TEXT NOT NULL,
        remote_id          TEXT,
        base_url           TEXT,
        model              TEXT,
        dataset_path       TEXT,
        dataset_sha256     TEXT,
        validation_path    TEXT,
        validation_sha256  TEXT,
        training_file_id   TEXT,
        validation_file_id TEXT,
        params_json        TEXT NOT NULL DEFAULT '{}',
        status             TEXT NOT NULL,
        result_json        TEXT,
        error_json         TEXT,
        fine_tuned_model   TEXT,
        output_dir         TEXT,
        trained_tokens     INTEGER,
        estimated_finish   INTEGER,
        event_cursor       TEXT,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX jobs_remote ON jobs (provider, remote_id) WHERE remote_id IS NOT NULL;
      CREATE INDEX jobs_created ON jobs (created_at);

      CREATE TABLE job_status_history (
        id       INTEGER PRIMARY KEY,
        job_id   TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        status   TEXT NOT NULL,
        message  TEXT,
        at       INTEGER NOT NULL
      );
      CREATE INDEX job_status_history_job ON job_status_history (job_id, id);

      CREATE TABLE job_events (
        id         INTEGER PRIMARY KEY,
        job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        remote_id  TEXT,
        created_at INTEGER NOT NULL,
        level      TEXT NOT NULL DEFAULT 'info',
        type       TEXT NOT NULL DEFAULT 'message',
        message    TEXT NOT NULL DEFAULT '',
        data_json  TEXT
      );
      CREATE UNIQUE INDEX job_events_remote ON job_events (job_id, remote_id) WHERE remote_id IS NOT NULL;
      CREATE INDEX job_events_job ON job_events (job_id, created_at, id);

      CREATE TABLE job_metrics (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        step   INTEGER NOT NULL,
        name   TEXT NOT NULL,
        value  REAL NOT NULL,
        at     INTEGER NOT NULL,
        PRIMARY KEY (job_id, step, name)
      );

      CREATE TABLE job_checkpoints (
        job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        remote_id    TEXT NOT NULL,
        step         INTEGER NOT NULL,
        model_id     TEXT,
        metrics_json TEXT,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (job_id, remote_id)
      );

      CREATE TABLE uploaded_files (
        provider       TEXT NOT NULL,
        base_url       TEXT NOT NULL,
        purpose        TEXT NOT NULL,
        sha256         TEXT NOT NULL,
        remote_file_id TEXT NOT NULL,
        filename       TEXT,
        bytes          INTEGER,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (provider, base_url, purpose, sha256)
      );
    `,
  },
  {
    version: 2,
    name: "evaluation: generation cache",
    // One row per (model, prompt, sampling parameters): a rerun of an evaluation costs nothing.
    // Failed calls are never cached. `key` is a sha256 over the canonical request.
    up: `
      CREATE TABLE eval_generation_cache (
        key         TEXT PRIMARY KEY,
        model_id    TEXT NOT NULL,
        request_json TEXT NOT NULL,
        text        TEXT NOT NULL,
        tokens_in   INTEGER NOT NULL,
        tokens_out  INTEGER NOT NULL,
        latency_ms  REAL NOT NULL,
        created_at  INTEGER NOT NULL
      );
      CREATE INDEX eval_generation_cache_model ON eval_generation_cache (model_id);
    `,
  },
  {
    version: 3,
    name: "generation cache: finish reason",
    // Why a cached generation ended ("stop", "length", ...): distillation drops answers cut off at the
    // token limit, also when they come from the cache. NULL for rows written before.
    up: `ALTER TABLE eval_generation_cache ADD COLUMN finish_reason TEXT;`,
  },
];
