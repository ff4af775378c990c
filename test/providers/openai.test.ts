import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore, type Store } from "../../src/store/index.js";
import { createOpenAITrainer } from "../../src/providers/openai/trainer.js";
import { submitTraining } from "../../src/providers/submit.js";
import { followJob, type FollowUpdate } from "../../src/providers/follow.js";
import { FakeOpenAIServer } from "../servers/fake-openai-ft.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertHistoryInOrder, writeChatJsonl } from "./data.js";

const KEY = "sk-test-" + "Zq8vR2mK7pX4wL9nT3yB6cF1";
let server: FakeOpenAIServer;
let tmp: { dir: string; cleanup: () => void };
let store: Store;
let data: string;
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseURL });
const trainer = (extra: NodeJS.ProcessEnv = {}) => createOpenAITrainer({ env: { ...env(), ...extra }, pollMs: 20, maxRetries: 3 });

before(async () => {
  server = await new FakeOpenAIServer({ apiKey: KEY }).start();
  tmp = tempDir();
  store = openStore({ home: join(tmp.dir, "home") });
  data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
});
after(async () => {
  store.close();
  await server.stop();
  tmp.cleanup();
});

test("a job runs end to end through the real SDK: upload, create, follow events + metrics + checkpoints, result", async () => {
  const valid = writeChatJsonl(tmp.dir, "valid.jsonl", 4, "v");
  const t = trainer();
  const started = await submitTraining(t, { trainingFile: data, validationFile: valid, params: { model: "gpt-4o-mini-2024-07-18", hyperparameters: { n_epochs: 2, batch_size: "auto" }, suffix: "tk", seed: 7 } }, { store: store, confirm: () => true });
  assert.ok(started.ok, JSON.stringify(!started.ok && started.error));
  const created = server.jobs.get(started.snapshot.remoteId)!;
  assert.deepEqual(created.body.method, { type: "supervised", supervised: { hyperparameters: { n_epochs: 2, batch_size: "auto" } } });
  assert.equal(created.body.suffix, "tk");
  assert.equal(created.body.seed, 7);
  assert.equal((created.body.metadata as Record<string, string>).tunekit_job, started.job.id);
  const updates: FollowUpdate[] = [];
  const out = await followJob(t, store, started.job.id, { pollMs: 20, onUpdate: (u) => updates.push(u) });
  assert.ok(out.ok);
  const job = store.getJob(started.job.id)!;
  assert.equal(job.status, "succeeded");
  assert.match(job.fineTunedModel!, /^ft:gpt-4o-mini-2024-07-18:tunekit-fake:tk:/);
  assert.equal(job.trainedTokens, created.tokensPerEpoch * 2);
  const metrics = store.getMetrics(job.id);
  assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(metrics[5].values.train_loss < metrics[0].values.train_loss);
  assert.equal(typeof metrics[0].values.valid_loss, "number");
  assert.equal(typeof metrics[0].values.train_mean_token_accuracy, "number");
  // Every server event stored exactly once, in order.
  assert.deepEqual(store.listEvents(job.id).map((e) => e.remoteId), created.events.map((e) => e.id));
  assertHistoryInOrder(store.statusHistory(job.id).map((h) => h.status), ["validating_files", "queued", "running", "succeeded"], "succeeded");
  assert.deepEqual(store.listCheckpoints(job.id).map((c) => c.step), created.checkpoints.slice(-3).map((c) => c.step_number));
  assert.deepEqual(store.listCheckpoints(job.id).map((c) => c.step), [3, 6]); // 2 epochs of 3 steps
  assert.ok(updates.some((u) => u.type === "metrics" && u.step === 6));
  assert.equal(updates[updates.length - 1].type, "done");
  const res = await t.result(started.snapshot.remoteId);
  assert.ok(res.ok && res.value.kind === "hosted" && res.value.model === job.fineTunedModel);
  assert.deepEqual(res.usage, { trainedTokens: job.trainedTokens });
  assert.equal(res.cost?.basis, "estimate");
  assert.equal(res.cost?.amount, Math.round((job.trainedTokens! / 1e6) * 3.0 * 10000) / 10000); // gpt-4o-mini: $3 / 1M
});

test("the same file is not uploaded twice; a file deleted remotely is uploaded again", async () => {
  const t = trainer();
  const p1 = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(p1.ok);
  const uploadsBefore = server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length;
  const p2 = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(p2.ok && p2.value.training.reused);
  assert.equal(p2.value.training.remoteFileId, p1.value.training.remoteFileId);
  assert.equal(server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length, uploadsBefore);
  server.files.get(p1.value.training.remoteFileId)!.deleted = true;
  const p3 = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(p3.ok && !p3.value.training.reused);
  assert.notEqual(p3.value.training.remoteFileId, p1.value.training.remoteFileId);
});

test("429 with retry-after is waited out and retried; persistent 5xx becomes a retryable server error", async () => {
  const t = trainer();
  const prepared = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(prepared.ok);
  server.inject({ method: "POST", path: /^\/v1\/fine_tuning\/jobs$/, status: 429, headers: { "retry-after": "1" } });
  const startedAt = Date.now();
  const r = await t.start(prepared.value, { model: "gpt-4o-mini-2024-07-18" });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  const posts = server.requests.filter((q) => q.method === "POST" && q.path === "/v1/fine_tuning/jobs" && q.at >= startedAt);
  assert.deepEqual(posts.map((q) => q.status), [429, 200]);
  assert.ok(posts[1].at - posts[0].at >= 950, `retried after ${posts[1].at - posts[0].at} ms, retry-after was 1 s`);

  server.inject({ method: "GET", path: /^\/v1\/fine_tuning\/jobs\/[^/]+$/, status: 500, times: 4 });
  const s = await createOpenAITrainer({ env: env(), maxRetries: 1 }).status(r.value.remoteId);
  assert.ok(!s.ok);
  assert.equal(s.error.code, "server");
  assert.equal(s.error.status, 500);
  assert.equal(s.error.retryable, true);
  const s2 = await trainer().status(r.value.remoteId); // 2 faults left; maxRetries 3 gets through
  assert.ok(s2.ok);
});

test("401, 403 and a 400 naming the bad parameter come back as clear error values without the key", async () => {
  const bad = createOpenAITrainer({ env: { OPENAI_API_KEY: "sk-wrong-key-1234567890", OPENAI_BASE_URL: server.baseURL } });
  const r401 = await bad.status("ftjob-x");
  assert.ok(!r401.ok);
  assert.equal(r401.error.code, "auth");
  assert.match(r401.error.message, /OPENAI_API_KEY/);
  assert.doesNotMatch(r401.error.message, /sk-wrong-key-1234567890/);

  const none = await createOpenAITrainer({ env: {} }).status("ftjob-x");
  assert.ok(!none.ok && none.error.code === "auth" && /OPENAI_API_KEY is not set/.test(none.error.message));

  server.inject({ method: "POST", path: /^\/v1\/fine_tuning\/jobs$/, status: 403 });
  const t = trainer();
  const prepared = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(prepared.ok);
  const r403 = await t.start(prepared.value, { model: "gpt-4o-mini-2024-07-18" });
  // A 403 on job creation is OpenAI's wind-down refusal: named as such, with the ways that remain.
  assert.ok(!r403.ok && r403.error.code === "fine_tuning_closed" && r403.error.status === 403, JSON.stringify(!r403.ok && r403.error));
  assert.match(r403.error.message, /no longer accepts new fine-tuning jobs for this organisation/);
  assert.match(r403.error.message, /--provider together.*--provider fireworks/);

  const r400 = await t.start(prepared.value, { model: "gpt-2-tiny" });
  assert.ok(!r400.ok);
  assert.equal(r400.error.code, "invalid_request");
  assert.equal(r400.error.param, "model");
  assert.match(r400.error.message, /parameter `model`/);

  // Out-of-range values are refused before any request is made.
  const before = server.requests.length;
  const v = t.validateParams({ model: "gpt-4o-mini-2024-07-18", hyperparameters: { n_epochs: 51 } });
  assert.ok(!v.ok && v.error.param === "n_epochs");
  assert.equal(server.requests.length, before);
});

test("a failed job reports its error code and message; a bad file is refused at processing", async () => {
  const t = trainer();
  server.nextJobFailure = { stage: "running", atStep: 3, code: "exceeded_quota", message: "Fine-tuning job failed: you exceeded your training quota." };
  const started = await submitTraining(t, { trainingFile: data, params: { model: "gpt-4o-mini-2024-07-18" } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  const out = await followJob(t, store, started.job.id, { pollMs: 20 });
  assert.ok(out.ok);
  const job = store.getJob(started.job.id)!;
  assert.equal(job.status, "failed");
  assert.deepEqual(job.error, { code: "exceeded_quota", message: "Fine-tuning job failed: you exceeded your training quota.", param: null });
  assert.deepEqual(store.getMetrics(job.id).map((m) => m.step), [1, 2]);
  const res = await t.result(started.snapshot.remoteId);
  assert.ok(!res.ok && res.error.code === "job_failed" && /exceeded_quota/.test(res.error.message));

  const broken = join(tmp.dir, "broken.jsonl");
  writeFileSync(broken, '{"messages": []}\nnot json\n');
  const p = await t.prepare({ trainingFile: broken }, { cache: store });
  assert.ok(!p.ok);
  assert.equal(p.error.code, "file_processing");
  assert.match(p.error.message, /Line 2/);
});

test("following survives the server going away mid-job and coming back", async () => {
  const t = trainer();
  const started = await submitTraining(t, { trainingFile: data, params: { model: "gpt-4o-mini-2024-07-18" } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  const updates: FollowUpdate[] = [];
  let stopped = false;
  const follow = followJob(createOpenAITrainer({ env: env(), maxRetries: 0 }), store, started.job.id, {
    pollMs: 20,
    maxBackoffMs: 100,
    onUpdate: (u) => {
      updates.push(u);
      if (!stopped && u.type === "metrics" && u.step === 1) {
        stopped = true;
        void server.stop().then(() => setTimeout(() => void server.restart(), 800));
      }
    },
  });
  const out = await follow;
  assert.ok(out.ok, JSON.stringify(!out.ok && out.error));
  assert.ok(updates.some((u) => u.type === "retry" && u.code === "connection"), "a retry was reported while the server was down");
  const job = store.getJob(started.job.id)!;
  assert.equal(job.status, "succeeded");
  assert.deepEqual(store.getMetrics(job.id).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  assert.equal(store.listEvents(job.id).length, server.jobs.get(job.remoteId!)!.events.length);
});

test("events are paged with the cursor: a 250-step job stores every metric once", async () => {
  const saved = { ...server.options };
  Object.assign(server.options, { steps: 250, stepMs: 1 });
  try {
    const t = trainer();
    const started = await submitTraining(t, { trainingFile: data, params: { model: "gpt-4o-mini-2024-07-18", hyperparameters: { n_epochs: 1 } } }, { store: store, confirm: () => true });
    assert.ok(started.ok);
    await new Promise((r) => setTimeout(r, 600)); // let the whole job happen before the first look
    const out = await followJob(t, store, started.job.id, { pollMs: 20 });
    assert.ok(out.ok);
    assert.equal(store.getMetrics(started.job.id).length, 250);
    const evPages = server.requests.filter((q) => q.path.endsWith("/events") && q.path.includes(started.snapshot.remoteId));
    assert.ok(evPages.some((q) => q.query.after), "paged with after=");
  } finally {
    Object.assign(server.options, saved);
  }
});

test("cancel moves a running job to cancelled", async () => {
  const t = trainer();
  const started = await submitTraining(t, { trainingFile: data, params: { model: "gpt-4o-mini-2024-07-18" } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  const c = await t.cancel(started.snapshot.remoteId);
  assert.ok(c.ok && c.value.status === "cancelled");
  const again = await t.cancel(started.snapshot.remoteId);
  assert.ok(!again.ok && again.error.code === "invalid_request");
});

test("a job whose creation was cut off before its id was stored is found again by its tunekit_job tag", async () => {
  const t = trainer();
  const job = store.createJob({ kind: "hosted", provider: "openai", baseUrl: t.baseUrl, model: "gpt-4o-mini-2024-07-18" });
  const prepared = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(prepared.ok);
  store.updateJob(job.id, { trainingFileId: prepared.value.training.remoteFileId });
  // The provider creates the job, but the process dies before the remote id reaches the store.
  const created = await t.start(prepared.value, { model: "gpt-4o-mini-2024-07-18", metadata: { tunekit_job: job.id } });
  assert.ok(created.ok);
  assert.equal(store.getJob(job.id)!.remoteId, undefined);
  const out = await followJob(t, store, job.id, { pollMs: 20 });
  assert.ok(out.ok, JSON.stringify(!out.ok && out.error));
  const rec = store.getJob(job.id)!;
  assert.equal(rec.remoteId, created.value.remoteId);
  assert.equal(rec.status, "succeeded");
  const filtered = server.requests.find((r) => r.path === "/v1/fine_tuning/jobs" && r.method === "GET");
  assert.equal(filtered?.query["metadata[tunekit_job]"], job.id);

  // A job that never reached the provider is reported as such.
  const never = store.createJob({ kind: "hosted", provider: "openai", baseUrl: t.baseUrl, model: "gpt-4o-mini-2024-07-18", trainingFileId: prepared.value.training.remoteFileId });
  const none = await followJob(t, store, never.id, { pollMs: 20 });
  assert.ok(!none.ok && none.error.code === "not_started");
});

test("followJob once: one poll brings the store up to date and returns without waiting", async () => {
  const t = trainer();
  server.options.validateMs = 10_000; // the first poll surely finds the job validating
  const started = await submitTraining(t, { trainingFile: data, params: { model: "gpt-4o-mini-2024-07-18" } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  const first = await followJob(t, store, started.job.id, { once: true, pollMs: 60_000 });
  server.options.validateMs = 100;
  assert.ok(first.ok);
  assert.equal(store.getJob(started.job.id)!.status, "validating_files");
  await new Promise((r) => setTimeout(r, 900)); // the whole job happens meanwhile
  const t0 = Date.now();
  const second = await followJob(t, store, started.job.id, { once: true, pollMs: 60_000 });
  assert.ok(second.ok);
  assert.ok(Date.now() - t0 < 5000);
  const rec = store.getJob(started.job.id)!;
  assert.equal(rec.status, "succeeded");
  assert.equal(store.getMetrics(rec.id).length, 6);
  assert.ok(store.listCheckpoints(rec.id).length > 0);
  assert.ok(rec.result?.fineTunedModel);
});
