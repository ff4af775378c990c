/** The train and export commands as a user runs them (spawned CLI). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../helpers/cli.js";
import { openStore } from "../../src/store/store.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { nameDataset, writeJsonl } from "./helpers/tiny.js";

const tmp = tempDir("tunekit-train-cli-");
test.after(() => tmp.cleanup());

test("train refuses a dataset with errors before loading any model, and leaves no run folder", async () => {
  const bad = join(tmp.dir, "bad.jsonl");
  writeFileSync(bad, '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n{"messages": [\n');
  const out = join(tmp.dir, "run-bad");
  const r = await runCli(["train", bad, "--model", join(tmp.dir, "no-such-model"), "-o", out]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /invalid_dataset/);
  assert.match(r.stderr, /line 2/);
  assert.ok(!existsSync(out));
});

test("train usage errors: missing --model, bad --lora-targets, --validation with --test-split", async () => {
  const data = writeJsonl(join(tmp.dir, "ok.jsonl"), nameDataset());
  let r = await runCli(["train", data, "-o", join(tmp.dir, "x")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--model is required/);
  r = await runCli(["train", data, "--model", "m", "-o", join(tmp.dir, "x"), "--lora-targets", "q,zz"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown target "zz"/);
  r = await runCli(["train", data, "--model", "m", "-o", join(tmp.dir, "x"), "--validation", data, "--test-split", "0.1"]);
  assert.equal(r.code, 2);
  r = await runCli(["train", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--lora-targets/);
  assert.match(r.stdout, /--provider/);
});

test("train refuses a dataset with nothing to learn (every assistant turn has weight 0)", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const zero = nameDataset().map((ex) => ({ messages: ex.messages.map((m) => (m.role === "assistant" ? { ...m, weight: 0 as const } : m)) }));
  const data = writeJsonl(join(tmp.dir, "zero.jsonl"), zero);
  const r = await runCli(["train", data, "--model", model, "-o", join(tmp.dir, "run-zero"), "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const last = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(last.type, "error");
  assert.equal(last.code, "empty_loss_mask");
  // The nested form hosted training's error events use, for scripts that read both.
  assert.equal(last.error.code, "empty_loss_mask");
  assert.equal(last.error.message, last.message);
});

const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

test("Ctrl-C stops with a checkpoint; --resume finishes; --json events; export --merged and --ollama", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const data = writeJsonl(join(tmp.dir, "names.jsonl"), nameDataset());
  const run = join(tmp.dir, "run");
  const home = join(tmp.dir, "home");
  const child = spawn(process.execPath, ["--import", "tsx", mainTs, "train", data, "--model", model, "-o", run, "--epochs", "2", "--batch-size", "8", "--lr", "5e-3", "--test-split", "0.125", "--eval-every", "4", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", TUNEKIT_HOME: home },
  });
  let stdout = "";
  let sent = false;
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    if (!sent && stdout.includes('"type":"step"')) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
  assert.equal(code, 130, stderr);
  const events = stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(events[0].type, "start");
  const done = events.at(-1);
  assert.equal(done.type, "done");
  assert.equal(done.reason, "interrupted");
  assert.ok(done.step < 14);
  assert.ok(events.some((e) => e.type === "checkpoint" && e.step === done.step));
  assert.equal(JSON.parse(readFileSync(join(run, "run.json"), "utf8")).status, "interrupted");

  const resumed = await runCli(["train", "--resume", run, "--json"], { env: { TUNEKIT_HOME: home } });
  assert.equal(resumed.code, 0, resumed.stderr);
  const rev = resumed.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(rev[0].resumedFromStep, done.step);
  assert.equal(rev.at(-1).type, "done");
  assert.equal(rev.at(-1).reason, "completed");
  assert.equal(rev.at(-1).step, 14);
  assert.ok(rev.some((e) => e.type === "eval" && typeof e.gap === "number"));

  const again2 = await runCli(["train", "--resume", run], { env: { TUNEKIT_HOME: home } });
  assert.equal(again2.code, 2);
  assert.match(again2.stderr, /already finished/);

  // The run is listed in the job store once, finished, with its losses.
  const store = openStore({ home });
  try {
    const jobs = store.listJobs({ provider: "local" });
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].status, "succeeded");
    assert.equal(jobs[0].outputDir, run);
    const points = store.getMetrics(jobs[0].id);
    assert.ok(points.some((p) => p.step === 14));
  } finally {
    store.close();
  }

  const merged = await runCli(["export", run, "--merged", join(tmp.dir, "merged"), "--json"]);
  assert.equal(merged.code, 0, merged.stderr);
  const m = JSON.parse(merged.stdout);
  assert.deepEqual(m.files, ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
  const again = await runCli(["export", run, "--merged", join(tmp.dir, "merged")]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /not empty/);
  // stories260K has no chat template: the Ollama folder gets a GGUF and tunekit's plain template as TEMPLATE.
  const ol = await runCli(["export", run, "--ollama", join(tmp.dir, "ollama")]);
  assert.equal(ol.code, 0, ol.stderr);
  assert.match(ol.stdout, /ollama create run -f .*ollama\/Modelfile/);
  const modelfile = readFileSync(join(tmp.dir, "ollama", "Modelfile"), "utf8");
  assert.match(modelfile, /^FROM \.\/model\.gguf$/m);
  assert.doesNotMatch(modelfile, /^ADAPTER/m);
  assert.ok(existsSync(join(tmp.dir, "ollama", "model.gguf")));
});

test("a learning rate that diverges stops with a clear error (exit 1) and keeps the last good checkpoint", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const data = writeJsonl(join(tmp.dir, "div.jsonl"), nameDataset().slice(0, 24));
  const run = join(tmp.dir, "run-div");
  const r = await runCli(["train", data, "--model", model, "-o", run, "--lr", "1e38", "--max-grad-norm", "0", "--save-every", "1", "--epochs", "3", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const err = events.at(-1);
  assert.equal(err.type, "error");
  assert.equal(err.code, "diverged");
  assert.match(err.message, /NaN|Infinity/);
  const lastCk = events.filter((e) => e.type === "checkpoint").at(-1);
  const { loadCheckpoint } = await import("../../src/engine/train/checkpoint.js");
  const ck = (await loadCheckpoint(join(run, "checkpoint.safetensors")))!;
  assert.equal(ck.state.step, lastCk.step);
  for (const v of ck.params.values()) assert.ok(v.every(Number.isFinite), "checkpoint holds only finite weights");
  assert.equal(JSON.parse(readFileSync(join(run, "run.json"), "utf8")).status, "failed");
  assert.ok(!existsSync(join(run, "adapter")));
});

test("--gradient-checkpointing and --threads train the same steps; an explicit --save-every is the only checkpoint cadence", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const data = writeJsonl(join(tmp.dir, "gc.jsonl"), nameDataset().slice(0, 24));
  const run = async (name: string, extra: string[]) => {
    const r = await runCli(["train", data, "--model", model, "-o", join(tmp.dir, name), "--max-steps", "4", "--batch-size", "2", "--save-every", "100", "--json", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  };
  const plain = await run("run-plain", []);
  const recomputed = await run("run-gc", ["--gradient-checkpointing", "--threads", "1"]);
  const losses = (events: { type: string; loss?: number }[]) => events.filter((e) => e.type === "step").map((e) => e.loss!);
  assert.equal(losses(plain).length, 4);
  losses(recomputed).forEach((l, i) => assert.ok(Math.abs(l - losses(plain)[i]) <= 1e-5 * Math.abs(losses(plain)[i]), `step ${i + 1}: ${l} vs ${losses(plain)[i]}`));
  // Fewer than ten steps make the automatic eval cadence every step; checkpoints still follow --save-every.
  assert.deepEqual(plain.filter((e) => e.type === "checkpoint").map((e) => e.step), [4]);
  assert.equal(JSON.parse(readFileSync(join(tmp.dir, "run-gc", "run.json"), "utf8")).options.gradientCheckpointing, true);
});
