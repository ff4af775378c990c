/**
 * Together through the real `together-ai` SDK against the fake on 127.0.0.1: its own price estimate
 * before confirmation, checkpoints and events in the job store, the supported base models, DPO data
 * refused, and the download endpoint (302 to a presigned URL, a zstd tar) brought home with
 * `jobs pull` and checked against a tiny base model built here; the key searched for everywhere.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { tinyAdapterFiles, writeTinyChatModel } from "../helpers/tiny-chat-model.js";
import { FakeTogetherServer } from "../servers/fake-together.js";
import { writeChatJsonl } from "./data.js";

const KEY = "tgp_" + "TogetherPullSecretKey0987654321";
const MODEL = "Qwen/Qwen3-8B";
let server: FakeTogetherServer;
let tmp: { dir: string; cleanup: () => void };
let base: string;
const outputs: string[] = [];
const keep = (r: CliResult) => (outputs.push(r.stdout, r.stderr), r);
const lines = (s: string) => s.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const env = (home: string) => ({ TOGETHER_API_KEY: KEY, TOGETHER_BASE_URL: server.baseURL, TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" });
const uploads = () => server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length;

before(async () => {
  server = await new FakeTogetherServer({ apiKey: KEY, stepMs: 30, pricePerMTok: 0.48 }).start();
  tmp = tempDir("tunekit-together-pull-");
  base = await writeTinyChatModel(join(tmp.dir, "base"));
  server.artifacts = { adapter: await tinyAdapterFiles(base, MODEL) };
});
after(async () => {
  try {
    assertSecretNowhere(KEY, outputs, [tmp.dir]);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test("Together's own estimate before confirmation; checkpoints and events in the store; pull -> a run folder eval uses", async () => {
  const data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
  const home = join(tmp.dir, "home1");
  server.inject({ method: "POST", path: /^\/v1\/fine-tunes\/estimate-price$/, status: 503 });
  const r = keep(await runCli(["train", data, "--provider", "together", "--model", MODEL, "--epochs", "2", "--yes", "--json"], { env: env(home) }));
  assert.equal(r.code, 0, r.stderr);
  const ev = lines(r.stdout);
  const estimate = ev.find((l) => l.type === "estimate");
  const f = [...server.files.values()].find((x) => x.filename === "train.jsonl")!;
  const trainTokens = Math.ceil(f.content!.length / 4) * 2;
  assert.equal(estimate.providerEstimate.trainTokens, trainTokens, "Together's own count");
  assert.equal(estimate.providerEstimate.cost, Math.round((trainTokens / 1e6) * 0.48 * 1e6) / 1e6);
  assert.equal(estimate.pricePerMTok, 1, "and the catalog's list price beside it");
  const order = ev.map((l) => l.type);
  assert.ok(order.indexOf("estimate") < order.indexOf("started"));
  const started = ev.find((l) => l.type === "started");
  assert.equal(ev.at(-1).status, "succeeded");
  const show = keep(await runCli(["jobs", "show", started.job, "--json"], { env: env(home) }));
  const details = JSON.parse(show.stdout);
  assert.ok(details.checkpoints.length >= 1, "checkpoints are in the store");
  assert.ok(details.events.some((e: { message: string }) => /Job finished/.test(e.message)), "events are in the store");
  assert.ok(details.metrics.length >= 1);

  const run = join(tmp.dir, "pulled");
  const pull = keep(await runCli(["jobs", "pull", started.remoteId, "-o", run, "--base", base], { env: env(home) }));
  assert.equal(pull.code, 0, pull.stderr);
  assert.match(pull.stdout, /adapter of tk_\w+ \(together ft-\w+\) written to/);
  assert.match(pull.stdout, /checked against the base model/);
  const dl = server.requests.filter((q) => q.path.startsWith("/blob/"));
  assert.equal(dl.length, 1);
  assert.equal(dl[0].authorization, undefined, "the presigned URL gets no API key");
  const evalDir = join(tmp.dir, "eval");
  const ev2 = keep(await runCli(["eval", "--data", data, "--model", `name=base,local=${base}`, "--model", `name=tuned,job=${started.job}`, "-o", evalDir, "--max-tokens", "6", "--limit", "2", "--json"], { env: env(home) }));
  assert.equal(ev2.code, 0, ev2.stderr);
  assert.match(JSON.parse(ev2.stdout).models[1].runnerId, /adapter/, "job= of a pulled job runs the adapter locally");

  // An adapter for another base is refused, and nothing is left behind.
  server.artifacts = { adapter: await tinyAdapterFiles(base, MODEL, { hiddenSize: 64 }) };
  const bad = keep(await runCli(["jobs", "pull", started.job, "-o", join(tmp.dir, "bad"), "--base", base], { env: env(home) }));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error\[adapter_base_mismatch\] the adapter does not fit this base model/);
  assert.ok(!existsSync(join(tmp.dir, "bad")), "no folder is left behind");
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
  server.artifacts = { adapter: await tinyAdapterFiles(base, MODEL) };
});

test("a base model Together cannot fine-tune, and DPO data, are refused before any upload", async () => {
  const data = writeChatJsonl(tmp.dir, "m.jsonl", 12, "m");
  const home = join(tmp.dir, "home2");
  const before = uploads();
  const r = keep(await runCli(["train", data, "--provider", "together", "--model", "Qwen/Qwen9-9000B", "--yes"], { env: env(home) }));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error\[unsupported_model\] Together AI cannot fine-tune "Qwen\/Qwen9-9000B": it is not among the 3 base models its API lists/);
  const dpo = join(tmp.dir, "prefs.jsonl");
  writeFileSync(dpo, JSON.stringify({ input: { messages: [{ role: "user", content: "Hi" }] }, preferred_output: [{ role: "assistant", content: "Hello!" }], non_preferred_output: [{ role: "assistant", content: "What." }] }) + "\n");
  const d = keep(await runCli(["train", dpo, "--provider", "together", "--model", MODEL, "--yes"], { env: env(home) }));
  assert.equal(d.code, 1, d.stderr);
  assert.match(d.stderr, /is preference \(DPO\) data: tunekit fine-tunes with supervised examples only/);
  assert.match(d.stderr, /Keep the preferred reply of each pair/);
  assert.doesNotMatch(d.stderr, /missing_messages/);
  assert.equal(uploads(), before);
});
