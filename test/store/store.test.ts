import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { openStore, openDatabase, migrations, tunekitHome } from "../../src/store/index.js";
import { tempDir } from "../helpers/fixtures.js";

test("openStore creates tunekit.db in TUNEKIT_HOME with WAL, foreign keys and the latest schema", () => {
  const t = tempDir();
  try {
    const home = join(t.dir, "home");
    assert.equal(tunekitHome({ env: { TUNEKIT_HOME: home } }), home);
    const store = openStore({ env: { TUNEKIT_HOME: home } });
    assert.ok(existsSync(join(home, "tunekit.db")));
    assert.equal(store.db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(store.db.pragma("foreign_keys", { simple: true }), 1);
    assert.equal(store.db.pragma("user_version", { simple: true }), migrations.length);
    assert.ok((store.db.pragma("busy_timeout", { simple: true }) as number) >= 1000);
    store.close();
    // Reopening does not re-run migrations (they would fail on existing tables).
    openStore({ home }).close();
  } finally {
    t.cleanup();
  }
});

test("an appended migration runs once on an existing database; a failing one rolls back", () => {
  const t = tempDir();
  try {
    openStore({ home: t.dir }).close();
    const extra = [...migrations, { version: migrations.length + 1, name: "test cache", up: "CREATE TABLE eval_test_cache (k TEXT PRIMARY KEY, v TEXT);" }];
    const db = openDatabase({ home: t.dir, migrations: extra });
    assert.equal(db.pragma("user_version", { simple: true }), extra.length);
    db.prepare("INSERT INTO eval_test_cache VALUES ('a', 'b')").run();
    db.close();
    const bad = [...extra, { version: extra.length + 1, name: "broken", up: "CREATE TABLE half_done (x); CREATE TABLE nonsense syntax error;" }];
    assert.throws(() => openDatabase({ home: t.dir, migrations: bad }));
    const check = new Database(join(t.dir, "tunekit.db"));
    assert.equal(check.pragma("user_version", { simple: true }), extra.length);
    assert.equal((check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get() as { n: number }).n, 0);
    check.close();
    // A database newer than this tunekit is refused with a clear error.
    assert.throws(() => openDatabase({ home: t.dir }), /newer than this tunekit understands/);
  } finally {
    t.cleanup();
  }
});

test("jobs: create, find by id / remote id / prefix, update with status history, events dedupe, metrics, checkpoints", () => {
  const t = tempDir();
  const store = openStore({ home: t.dir });
  try {
    const job = store.createJob({ kind: "hosted", provider: "openai", model: "gpt-4o-mini-2024-07-18", datasetPath: "/d.jsonl", datasetSha256: "abc", params: { n_epochs: 3 } });
    assert.match(job.id, /^tk_[0-9a-f]{12}$/);
    assert.equal(job.status, "created");
    assert.deepEqual(job.params, { n_epochs: 3 });
    store.updateJob(job.id, { remoteId: "ftjob-1", status: "queued" });
    store.updateJob(job.id, { status: "queued", trainedTokens: 5 }); // same status: no new history row
    store.updateJob(job.id, { status: "failed", error: { code: "invalid_file", message: "bad line 3" }, statusMessage: "bad line 3" });
    assert.equal(store.findJob("ftjob-1")?.id, job.id);
    assert.equal(store.findJob(job.id.slice(0, 6))?.id, job.id);
    assert.equal(store.findJob("nope"), undefined);
    const got = store.getJob(job.id)!;
    assert.equal(got.trainedTokens, 5);
    assert.deepEqual(got.error, { code: "invalid_file", message: "bad line 3" });
    assert.deepEqual(store.statusHistory(job.id).map((h) => h.status), ["created", "queued", "failed"]);
    assert.equal(store.statusHistory(job.id)[2].message, "bad line 3");

    const ev = (id: string, at: number) => ({ remoteId: id, createdAt: at, level: "info", type: "message", message: id });
    assert.equal(store.addEvents(job.id, [ev("e1", 1), ev("e2", 2)]), 2);
    assert.equal(store.addEvents(job.id, [ev("e2", 2), ev("e3", 3)]), 1);
    assert.deepEqual(store.listEvents(job.id).map((e) => e.remoteId), ["e1", "e2", "e3"]);

    store.addMetrics(job.id, [{ step: 2, values: { train_loss: 1.5 } }, { step: 1, values: { train_loss: 2, valid_loss: 2.5 } }]);
    store.addMetrics(job.id, [{ step: 2, values: { train_loss: 1.4, bogus: Number.NaN } }]);
    assert.deepEqual(store.getMetrics(job.id), [
      { step: 1, values: { train_loss: 2, valid_loss: 2.5 } },
      { step: 2, values: { train_loss: 1.4 } },
    ]);
    store.upsertCheckpoints(job.id, [{ remoteId: "ckpt-1", step: 10, modelId: "ft:x:ckpt-step-10", metrics: { train_loss: 1 }, createdAt: 5 }]);
    assert.deepEqual(store.listCheckpoints(job.id), [{ remoteId: "ckpt-1", step: 10, modelId: "ft:x:ckpt-step-10", metrics: { train_loss: 1 }, createdAt: 5 }]);

    const local = store.recordLocalRun({ model: "/models/smol", datasetPath: "/d.jsonl", params: { rank: 8 } });
    store.updateRun(local.id, { status: "succeeded", outputDir: "/out/adapter", metrics: [{ step: 1, values: { train_loss: 3 } }] });
    assert.equal(store.getJob(local.id)!.outputDir, "/out/adapter");
    assert.equal(store.listJobs({ kind: "local" }).length, 1);
    assert.equal(store.listJobs().length, 2);

    store.recordUploadedFile({ provider: "openai", baseUrl: "http://x/v1", purpose: "fine-tune", sha256: "abc", remoteFileId: "file-1", bytes: 10 });
    assert.equal(store.findUploadedFile("openai", "http://x/v1", "fine-tune", "abc")?.remoteFileId, "file-1");
    assert.equal(store.findUploadedFile("openai", "http://y/v1", "fine-tune", "abc"), undefined);
    store.forgetUploadedFile("openai", "http://x/v1", "fine-tune", "abc");
    assert.equal(store.findUploadedFile("openai", "http://x/v1", "fine-tune", "abc"), undefined);

    // Deleting a job cascades to its rows (foreign keys are on).
    store.deleteJob(job.id);
    assert.equal((store.db.prepare("SELECT count(*) AS n FROM job_events").get() as { n: number }).n, 0);
  } finally {
    store.close();
    t.cleanup();
  }
});

test("two processes writing at once do not corrupt the store or lose rows", async () => {
  const t = tempDir();
  try {
    const child = fileURLToPath(new URL("./writer-child.ts", import.meta.url));
    const n = 400;
    const run = (tag: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, ["--import", "tsx", child, t.dir, tag, String(n)], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        p.stdout.on("data", (d) => (out += d));
        p.stderr.on("data", (d) => (err += d));
        p.on("close", (code) => resolve({ code, out, err }));
      });
    // Both start on a database that does not exist yet, so they also race on the migrations.
    const [a, b] = await Promise.all([run("a"), run("b")]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    const store = openStore({ home: t.dir });
    assert.equal(store.db.pragma("integrity_check", { simple: true }), "ok");
    assert.equal(store.listJobs({ limit: 10_000 }).length, 2 * n);
    assert.equal((store.db.prepare("SELECT count(*) AS n FROM job_events").get() as { n: number }).n, 2 * n);
    assert.equal((store.db.prepare("SELECT count(*) AS n FROM job_status_history").get() as { n: number }).n, 4 * n);
    store.close();
  } finally {
    t.cleanup();
  }
});
