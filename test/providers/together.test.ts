/**
 * The Together AI trainer against the fake Together server through the real `together-ai` SDK: the
 * same Trainer interface and follow loop as OpenAI, proven on a second backend.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore, type Store } from "../../src/store/index.js";
import { createTogetherTrainer } from "../../src/providers/together/trainer.js";
import { submitTraining } from "../../src/providers/submit.js";
import { followJob, type FollowUpdate } from "../../src/providers/follow.js";
import { FakeTogetherServer } from "../servers/fake-together.js";
import { tempDir } from "../helpers/fixtures.js";
import { runCli } from "../helpers/cli.js";
import { assertHistoryInOrder, writeChatJsonl } from "./data.js";

const KEY = "tgp_v1_" + "fakeTogetherKeyForTests123456";
const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference";
let server: FakeTogetherServer;
let tmp: { dir: string; cleanup: () => void };
let store: Store;
let data: string;
const trainer = () => createTogetherTrainer({ env: { TOGETHER_API_KEY: KEY, TOGETHER_BASE_URL: server.baseURL }, pollMs: 20, maxRetries: 2 });

before(async () => {
  server = await new FakeTogetherServer({ apiKey: KEY }).start();
  tmp = tempDir();
  store = openStore({ home: join(tmp.dir, "home") });
  data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
});
after(async () => {
  store.close();
  await server.stop();
  tmp.cleanup();
});

test("Together: upload (302 + PUT), LoRA job by default, follow events + metrics + checkpoints, result", async () => {
  const valid = writeChatJsonl(tmp.dir, "valid.jsonl", 3, "v");
  const t = trainer();
  const started = await submitTraining(t, { trainingFile: data, validationFile: valid, params: { model: MODEL, hyperparameters: { n_epochs: 2 }, suffix: "tk", seed: 3 } }, { store: store, confirm: () => true });
  assert.ok(started.ok, JSON.stringify(!started.ok && started.error));
  const job = server.jobs.get(started.snapshot.remoteId)!;
  assert.deepEqual(job.body.training_type, { type: "Lora", lora_r: 8, lora_alpha: 16, lora_dropout: 0, lora_trainable_modules: "all-linear" });
  assert.equal(job.body.n_epochs, 2);
  assert.equal(job.body.random_seed, 3);
  assert.equal(job.body.batch_size, "max");
  // The upload went through the presigned URL without the key.
  const put = server.requests.find((r) => r.method === "PUT");
  assert.ok(put && put.authorization === undefined);
  const updates: FollowUpdate[] = [];
  const out = await followJob(t, store, started.job.id, { pollMs: 20, onUpdate: (u) => updates.push(u) });
  assert.ok(out.ok);
  const rec = store.getJob(started.job.id)!;
  assert.equal(rec.status, "succeeded");
  assert.match(rec.fineTunedModel!, /^tunekit-fake\/Meta-Llama-3\.1-8B-Instruct-Reference-tk-/);
  assert.deepEqual(store.getMetrics(rec.id).map((m) => m.step), [1, 2, 3, 4, 5]);
  assert.equal(typeof store.getMetrics(rec.id)[0].values.valid_loss, "number");
  // Every server event stored exactly once although the endpoint has no cursor.
  assert.equal(store.listEvents(rec.id).filter((e) => e.type === "message").length, job.events.length);
  assert.deepEqual(store.listCheckpoints(rec.id).map((c) => c.step), [5]);
  assertHistoryInOrder(store.statusHistory(rec.id).map((h) => h.status), ["queued", "running", "succeeded"], "succeeded");
  assert.equal(updates.filter((u) => u.type === "metrics").length, 5);
  const res = await t.result(started.snapshot.remoteId);
  assert.ok(res.ok && res.value.kind === "hosted" && res.cost?.amount === 0.42 && res.cost.basis === "billed");

  // Same bytes again: reused, no second upload.
  const posts = server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length;
  const again = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(again.ok && again.value.training.reused);
  assert.equal(server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length, posts);
});

test("Together: failed job reason, 400 naming the parameter, 401, parameters checked before spending", async () => {
  const t = trainer();
  server.nextJobFailure = { atStep: 2, message: "CUDA out of memory during training" };
  const started = await submitTraining(t, { trainingFile: data, params: { model: MODEL } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  await followJob(t, store, started.job.id, { pollMs: 20 });
  const rec = store.getJob(started.job.id)!;
  assert.equal(rec.status, "failed");
  assert.deepEqual(rec.error, { code: "job_error", message: "CUDA out of memory during training", param: null });

  const prepared = await t.prepare({ trainingFile: data }, { cache: store });
  assert.ok(prepared.ok);
  const r400 = await t.start(prepared.value, { model: "not-a-model" });
  assert.ok(!r400.ok && r400.error.code === "invalid_request" && r400.error.param === "model");

  const bad = await createTogetherTrainer({ env: { TOGETHER_API_KEY: "wrong-key-123456789", TOGETHER_BASE_URL: server.baseURL } }).status(started.snapshot.remoteId);
  assert.ok(!bad.ok && bad.error.code === "auth" && /TOGETHER_API_KEY/.test(bad.error.message));
  assert.ok(!bad.error.message.includes("wrong-key-123456789"));

  const v = t.validateParams({ model: MODEL, hyperparameters: { learning_rate_multiplier: 2 } });
  assert.ok(!v.ok && v.error.param === "learning_rate_multiplier");
  const e = t.validateParams({ model: MODEL, hyperparameters: { n_epochs: 21 } });
  assert.ok(!e.ok && /between 1 and 20/.test(e.error.message));
  const badRank = t.validateParams({ model: MODEL, lora: { r: 0 } });
  assert.ok(!badRank.ok && badRank.error.param === "lora.r");

  // LoRA settings given by the user replace the defaults.
  const custom = await t.start(prepared.value, { model: MODEL, lora: { r: 32, alpha: 64, modules: "q_proj,v_proj" }, hyperparameters: { learning_rate: 0.0002 } });
  assert.ok(custom.ok);
  const body = server.jobs.get(custom.value.remoteId)!.body;
  assert.deepEqual(body.training_type, { type: "Lora", lora_r: 32, lora_alpha: 64, lora_dropout: 0, lora_trainable_modules: "q_proj,v_proj" });
  assert.equal(body.learning_rate, 0.0002);
});

test("Together: cancel, and following survives a server outage", async () => {
  const t = trainer();
  const started = await submitTraining(t, { trainingFile: data, params: { model: MODEL } }, { store: store, confirm: () => true });
  assert.ok(started.ok);
  let stopped = false;
  const updates: FollowUpdate[] = [];
  const out = await followJob(createTogetherTrainer({ env: { TOGETHER_API_KEY: KEY, TOGETHER_BASE_URL: server.baseURL }, maxRetries: 0 }), store, started.job.id, {
    pollMs: 20,
    maxBackoffMs: 100,
    onUpdate: (u) => {
      updates.push(u);
      if (!stopped && u.type === "metrics") {
        stopped = true;
        void server.stop().then(() => setTimeout(() => void server.restart(), 800));
      }
    },
  });
  assert.ok(out.ok);
  assert.ok(updates.some((u) => u.type === "retry"));
  assert.equal(store.getJob(started.job.id)!.status, "succeeded");

  const second = await submitTraining(t, { trainingFile: data, params: { model: MODEL } }, { store: store, confirm: () => true });
  assert.ok(second.ok);
  const c = await t.cancel(second.snapshot.remoteId);
  assert.ok(c.ok && c.value.status === "cancelled");
});

test("tunekit train --provider together --yes --json runs to the end through the CLI", async () => {
  const home = join(tmp.dir, "clihome");
  const r = await runCli(["train", data, "--provider", "together", "--model", MODEL, "--yes", "--json"], {
    env: { TOGETHER_API_KEY: KEY, TOGETHER_BASE_URL: server.baseURL, TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const est = lines.find((l) => l.type === "estimate");
  assert.equal(est.exactTokens, false);
  assert.equal(est.epochs, 1); // Together's default, not OpenAI's rule
  assert.equal(est.billedTokens, est.datasetTokens);
  const done = lines[lines.length - 1];
  assert.equal(done.type, "done");
  assert.equal(done.status, "succeeded");
});
