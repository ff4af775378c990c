/**
 * Fireworks end to end against a fake of its documented REST API on 127.0.0.1: the real CLI and the
 * shared HTTP helper, with 429 + Retry-After, 5xx, a dropped connection, a server restart with
 * `jobs watch` resuming, a refused job (its dataset deleted again), `jobs pull` of the adapter checked
 * against a tiny base model built here, then generate / eval / export on the pulled run, and the key
 * searched for in every output and file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, projectRoot, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { tinyAdapterFiles, writeTinyChatModel } from "../helpers/tiny-chat-model.js";
import { FakeFireworksServer } from "../servers/fake-fireworks.js";
import { FireworksTrainer } from "../../src/providers/fireworks/trainer.js";
import { openStore } from "../../src/store/index.js";
import { writeChatJsonl } from "./data.js";

const KEY = "fw_" + "S3cretFireworksKeyForTunekit0123";
const MODEL = "accounts/fireworks/models/qwen3-8b";
let server: FakeFireworksServer;
let tmp: { dir: string; cleanup: () => void };
let data: string;
let valid: string;
let base: string;
const outputs: string[] = [];
const env = (home: string) => ({ FIREWORKS_API_KEY: KEY, FIREWORKS_ACCOUNT_ID: "acme", FIREWORKS_BASE_URL: server.baseURL, TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" });
const lines = (s: string) => s.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const keep = (r: CliResult) => (outputs.push(r.stdout, r.stderr), r);

before(async () => {
  server = await new FakeFireworksServer({ apiKey: KEY, account: "acme" }).start();
  tmp = tempDir("tunekit-fireworks-");
  data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
  valid = writeChatJsonl(tmp.dir, "valid.jsonl", 4, "v");
  base = await writeTinyChatModel(join(tmp.dir, "base"));
  server.artifacts = await tinyAdapterFiles(base, "Qwen/Qwen3-8B");
});
after(async () => {
  try {
    assertSecretNowhere(KEY, outputs, [tmp.dir]);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test("datasets are named by content and uploaded once; big files go through a signed URL without the key", async () => {
  const home = join(tmp.dir, "lib");
  const store = openStore({ home });
  try {
    const t = new FireworksTrainer({ env: env(home), pollMs: 10 });
    const first = await t.prepare({ trainingFile: data }, { cache: store });
    assert.ok(first.ok, JSON.stringify(!first.ok && first.error));
    assert.match(first.value.training.remoteFileId, /^accounts\/acme\/datasets\/tunekit-[0-9a-f]{20}$/);
    const again = await t.prepare({ trainingFile: data }, { cache: store });
    assert.ok(again.ok && again.value.training.reused);
    assert.equal(server.requests.filter((r) => r.path.endsWith(":upload")).length, 1);
    const created = JSON.parse(server.requests.find((r) => r.method === "POST" && r.path === "/v1/accounts/acme/datasets")!.body!);
    assert.deepEqual(created.dataset, { displayName: "train.jsonl", exampleCount: "12", format: "CHAT", userUploaded: {} });

    const big = new FireworksTrainer({ env: env(home), pollMs: 10, singleUploadBytes: 10 });
    const signed = await big.prepare({ trainingFile: valid }, { cache: store });
    assert.ok(signed.ok, JSON.stringify(!signed.ok && signed.error));
    const put = server.requests.find((r) => r.method === "PUT" && r.path.startsWith("/signed/upload/"))!;
    assert.equal(put.status, 200);
    assert.equal(put.authorization, undefined, "the API key is not sent to the signed URL");
    assert.ok(server.requests.some((r) => r.path.endsWith(":validateUpload")));

    const noAccount = await new FireworksTrainer({ env: { FIREWORKS_API_KEY: KEY } }).prepare({ trainingFile: data });
    assert.ok(!noAccount.ok && /FIREWORKS_ACCOUNT_ID is not set/.test(noAccount.error.message));
  } finally {
    store.close();
  }
});

test("train --provider fireworks: hyperparameters as Fireworks takes them, 429/5xx/dropped connections waited out, then pull, generate, eval, export", async () => {
  const home = join(tmp.dir, "home1");
  server.inject({ method: "POST", path: /supervisedFineTuningJobs$/, status: 429, headers: { "retry-after": "1" } });
  server.inject({ method: "GET", path: /supervisedFineTuningJobs\/[^/:]+$/, status: 503, times: 2 });
  server.inject({ method: "GET", path: /\/datasets\/[^/:]+$/, status: 0, drop: true });
  const r = keep(await runCli(["train", data, "--provider", "fireworks", "--model", MODEL, "--validation", valid, "--epochs", "2", "--lr", "0.0002", "--lora-r", "16", "--batch-size", "65536", "--max-context-length", "4096", "--yes", "--json"], { env: env(home) }));
  assert.equal(r.code, 0, r.stderr);
  const ev = lines(r.stdout);
  const estimate = ev.find((l) => l.type === "estimate");
  assert.equal(estimate.epochs, 2);
  assert.equal(estimate.pricePerMTok, 0.5, "Fireworks' price for models up to 16B");
  assert.equal(estimate.pricesAsOf, "2026-12-06");
  const started = ev.find((l) => l.type === "started");
  const body = JSON.parse(server.requests.find((q) => q.method === "POST" && q.path.endsWith("/supervisedFineTuningJobs") && q.status === 200)!.body!);
  assert.deepEqual(
    { baseModel: body.baseModel, epochs: body.epochs, learningRate: body.learningRate, loraRank: body.loraRank, batchSize: body.batchSize, maxContextLength: body.maxContextLength },
    { baseModel: MODEL, epochs: 2, learningRate: 0.0002, loraRank: 16, batchSize: 65536, maxContextLength: 4096 },
  );
  assert.match(body.evaluationDataset, /^accounts\/acme\/datasets\/tunekit-/);
  assert.equal(started.remoteId, started.job.replace("_", "-"), "the Fireworks job id is derived from tunekit's");
  const creates = server.requests.filter((q) => q.method === "POST" && q.path.endsWith("/supervisedFineTuningJobs"));
  assert.deepEqual(creates.map((q) => q.status), [429, 200]);
  assert.ok(creates[1].at - creates[0].at >= 950, "Retry-After was honoured");
  assert.ok(server.requests.some((q) => q.status === -1), "a connection was dropped and retried");
  const states = ev.filter((l) => l.type === "status").map((l) => l.providerStatus);
  assert.ok(states.every((s: string) => s.startsWith("JOB_STATE_")) && states.at(-1) === "JOB_STATE_COMPLETED", states.join(" "));
  assert.equal(ev.at(-1).type, "done");
  assert.equal(ev.at(-1).fineTunedModel, `accounts/acme/models/${started.remoteId}`);

  const run = join(tmp.dir, "pulled");
  const pull = keep(await runCli(["jobs", "pull", started.job, "-o", run, "--base", base, "--json"], { env: env(home) }));
  assert.equal(pull.code, 0, pull.stderr);
  const p = JSON.parse(pull.stdout);
  assert.deepEqual(p.files, ["adapter/adapter_config.json", "adapter/adapter_model.safetensors"]);
  assert.equal(p.weights, "adapter");
  const rec = JSON.parse(readFileSync(join(run, "run.json"), "utf8"));
  assert.equal(rec.status, "completed");
  assert.equal(rec.source.provider, "fireworks");
  assert.equal(rec.source.adapterBaseModel, "Qwen/Qwen3-8B");
  assert.equal(JSON.parse(readFileSync(join(run, "adapter", "adapter_config.json"), "utf8")).base_model_name_or_path, base);
  const show = keep(await runCli(["jobs", "show", started.job, "--json"], { env: env(home) }));
  assert.equal(JSON.parse(show.stdout).job.outputDir, run);
  assert.ok(server.requests.filter((q) => q.path.startsWith("/signed/download/")).every((q) => q.authorization === undefined));

  // The pulled run works like a local one.
  const plain = keep(await runCli(["generate", "--model", base, "--prompt", "hello", "--max-tokens", "8", "--json"]));
  const tuned = keep(await runCli(["generate", "--model", base, "--adapter", join(run, "adapter"), "--prompt", "hello", "--max-tokens", "8", "--json"]));
  assert.equal(tuned.code, 0, tuned.stderr);
  assert.notEqual(JSON.parse(tuned.stdout).text, JSON.parse(plain.stdout).text, "the adapter changes the output");
  const evalDir = join(tmp.dir, "eval-fw");
  const ev2 = keep(await runCli(["eval", "--data", valid, "--model", `name=base,local=${base}`, "--model", `name=tuned,run=${run}`, "-o", evalDir, "--max-tokens", "8", "--limit", "2", "--json"], { env: env(home) }));
  assert.equal(ev2.code, 0, ev2.stderr);
  assert.deepEqual(JSON.parse(ev2.stdout).models.map((m: { name: string }) => m.name), ["base", "tuned"]);
  const merged = keep(await runCli(["export", run, "--merged", join(tmp.dir, "merged-fw"), "--json"]));
  assert.equal(merged.code, 0, merged.stderr);
  assert.ok(existsSync(join(tmp.dir, "merged-fw", "model.safetensors")));

  // Pulling into a folder that is not empty, or a job with no weights, is refused without a trace.
  const again = keep(await runCli(["jobs", "pull", started.job, "-o", run, "--base", base], { env: env(home) }));
  assert.equal(again.code, 2);
  assert.doesNotMatch(again.stderr, /\n\s+at /);
});

test("a base model Fireworks cannot tune is refused at creation and the uploaded dataset is deleted again", async () => {
  const home = join(tmp.dir, "home2");
  const own = writeChatJsonl(tmp.dir, "own.jsonl", 10, "own");
  const r = keep(await runCli(["train", own, "--provider", "fireworks", "--model", "accounts/fireworks/models/not-a-model", "--yes"], { env: env(home) }));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /base model accounts\/fireworks\/models\/not-a-model is not supported for fine-tuning/);
  assert.match(r.stderr, /deleted the files uploaded for this job/);
  assert.equal(server.deletedDatasets.length, 1);
  const list = keep(await runCli(["jobs", "list", "--json"], { env: env(home) }));
  const [job] = JSON.parse(list.stdout);
  assert.equal(job.status, "failed");
  assert.deepEqual(job.result.uploadsDeleted, [`accounts/acme/datasets/${server.deletedDatasets[0]}`]);
});

test("the server restarts while a job runs: the killed CLI's job is resumed by jobs watch; jobs cancel", async () => {
  const home = join(tmp.dir, "home3");
  const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", mainTs, "train", data, "--provider", "fireworks", "--model", MODEL, "--yes", "--json"], { cwd: projectRoot, env: { ...process.env, NO_COLOR: "1", ...env(home) }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let jobId = "";
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding("utf8").on("data", async (d: string) => {
      out += d;
      const started = lines(out).find((l) => l.type === "started");
      if (started && !jobId) {
        jobId = started.job;
        await server.stop();
        setTimeout(() => child.kill("SIGKILL"), 150);
      }
    });
    child.on("close", () => resolve());
  });
  outputs.push(out);
  assert.ok(jobId, out);
  await server.restart();
  const watch = keep(await runCli(["jobs", "watch", jobId, "--json"], { env: env(home) }));
  assert.equal(watch.code, 0, watch.stderr);
  const done = lines(watch.stdout).at(-1);
  assert.equal(done.type, "done");
  assert.equal(done.status, "succeeded");

  // Cancel: a job that is still running.
  server.options.runMs = 60_000;
  try {
    const t = new FireworksTrainer({ env: env(home) });
    const prepared = await t.prepare({ trainingFile: data });
    assert.ok(prepared.ok);
    const s = await t.start(prepared.value, { model: MODEL, metadata: { tunekit_job: "tk_cancelme" } });
    assert.ok(s.ok && s.value.remoteId === "tk-cancelme");
    const c = await t.cancel("tk-cancelme");
    assert.ok(c.ok && c.value.status === "cancelled" && c.value.providerStatus === "JOB_STATE_CANCELLED");
    const found = await t.findByTag("tk_cancelme");
    assert.ok(found.ok && found.value?.remoteId === "tk-cancelme");
  } finally {
    server.options.runMs = 300;
  }
});
