/**
 * The hosted-training CLI end to end: the real CLI process, the real `openai` SDK, the fake OpenAI
 * server on 127.0.0.1, a fresh TUNEKIT_HOME per test. Includes killing the CLI mid-watch and resuming.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, projectRoot, type CliResult } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { openStore } from "../../src/store/index.js";
import { FakeOpenAIServer } from "../servers/fake-openai-ft.js";
import { assertHistoryInOrder, writeChatJsonl } from "./data.js";

const KEY = "sk-proj-" + "T0pS3cr3tKeyForTunekitTests9XyZ";
let server: FakeOpenAIServer;
let tmp: { dir: string; cleanup: () => void };
let data: string;
let home = "";
let n = 0;

function freshHome(): string {
  home = join(tmp.dir, `home${++n}`);
  return home;
}
const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: server.baseURL, TUNEKIT_HOME: home, TUNEKIT_POLL_MS: "25" });
const jsonLines = (s: string) => s.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l));
const train = (args: string[], extra: { input?: string } = {}) =>
  runCli(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", ...args], { env: env(), ...extra });
const uploads = () => server.requests.filter((r) => r.method === "POST" && r.path === "/v1/files").length;

/** The key must appear nowhere: outputs, and every file in the tunekit home (db, WAL, SHM). */
function assertNoKey(outputs: CliResult[]): void {
  for (const r of outputs) {
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY), "the API key appeared in CLI output");
  }
  for (const dir of readdirSync(tmp.dir).filter((d) => d.startsWith("home"))) {
    // Every file at any depth (the database and its WAL, caches).
    for (const f of readdirSync(join(tmp.dir, dir), { recursive: true, encoding: "utf8" })) {
      const path = join(tmp.dir, dir, f);
      if (!statSync(path).isFile()) continue;
      const bytes = readFileSync(path);
      assert.equal(bytes.indexOf(Buffer.from(KEY)), -1, `the API key was found in ${dir}/${f}`);
      assert.equal(bytes.indexOf(Buffer.from(KEY.slice(8))), -1, `part of the API key was found in ${dir}/${f}`);
    }
  }
}
const allOutputs: CliResult[] = [];

before(async () => {
  server = await new FakeOpenAIServer({ apiKey: KEY, stepMs: 40 }).start();
  tmp = tempDir();
  data = writeChatJsonl(tmp.dir, "train.jsonl", 12);
});
after(async () => {
  try {
    assertNoKey(allOutputs);
  } finally {
    await server.stop();
    tmp.cleanup();
  }
});

test("without a terminal and without --yes, hosted training refuses before uploading anything", async () => {
  freshHome();
  const before = uploads();
  const r = await train([]);
  allOutputs.push(r);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--yes/);
  assert.match(r.stderr, /billed tokens/);
  assert.equal(uploads(), before);
});

/** Runs the CLI, calling `onLine` with each JSON line of stdout as it arrives. */
function spawnCli(args: string[], onLine: (line: Record<string, any>) => void): Promise<CliResult> {
  const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", mainTs, ...args], { cwd: projectRoot, env: { ...process.env, NO_COLOR: "1", ...env() }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      pending += d;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith("{")) onLine(JSON.parse(line));
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input`. */
function runOnTty(args: string[], input: string): Promise<{ code: number | null; output: string }> {
  const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
  const cmd = [process.execPath, "--import", "tsx", mainTs, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], { cwd: projectRoot, env: { ...process.env, NO_COLOR: "1", ...env() }, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(input);
  });
}
const hasScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

test("on a terminal the cost is confirmed by a prompt: 'n' uploads nothing, 'y' runs the job", { skip: hasScript ? false : "util-linux `script` is not installed" }, async () => {
  freshHome();
  const before = uploads();
  const no = await runOnTty(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18"], "n\n");
  allOutputs.push({ code: no.code, signal: null, stdout: no.output, stderr: "" });
  assert.equal(no.code, 0, no.output);
  assert.match(no.output, /Start the openai fine-tuning job\? \[y\/N\]/);
  assert.match(no.output, /Not started; nothing was uploaded/);
  assert.equal(uploads(), before);
  const yes = await runOnTty(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18"], "y\n");
  allOutputs.push({ code: yes.code, signal: null, stdout: yes.output, stderr: "" });
  assert.equal(yes.code, 0, yes.output);
  assert.match(yes.output, /succeeded/);
  assert.equal(uploads(), before + 1);
});

test("a dataset with errors is refused locally (exit 1), nothing uploaded", async () => {
  freshHome();
  const bad = join(tmp.dir, "bad.jsonl");
  writeFileSync(bad, readFileSync(data, "utf8") + '{"messages": [{"role": "user", "content": "no reply"}]\n');
  const before = uploads();
  const r = await runCli(["train", bad, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes"], { env: env() });
  allOutputs.push(r);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /bad\.jsonl:13/);
  assert.match(r.stderr, /Nothing was uploaded/);
  assert.equal(uploads(), before);
});

test("out-of-range hyperparameters are a usage error naming the option, before any request", async () => {
  freshHome();
  const before = server.requests.length;
  const r = await train(["--epochs", "80", "--yes"]);
  allOutputs.push(r);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--epochs: n_epochs must be between 1 and 50/);
  assert.equal(server.requests.length, before);
});

test("train --provider openai --yes --json: estimate, upload, job, metrics, checkpoints, done; jobs list/show see it", async () => {
  freshHome();
  const r = await train(["--yes", "--json", "--epochs", "3", "--suffix", "cli", "--seed", "5", "--lr-multiplier", "auto"]);
  allOutputs.push(r);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const estimate = lines.find((l) => l.type === "estimate");
  assert.equal(estimate.epochs, 3);
  assert.equal(estimate.examples, 12);
  assert.equal(estimate.billedTokens, 3 * estimate.datasetTokens);
  assert.ok(estimate.cost > 0);
  const started = lines.find((l) => l.type === "started");
  const job = server.jobs.get(started.remoteId)!;
  assert.deepEqual(job.body.method, { type: "supervised", supervised: { hyperparameters: { n_epochs: 3, learning_rate_multiplier: "auto" } } });
  assert.deepEqual(lines.filter((l) => l.type === "metrics").map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(lines.some((l) => l.type === "checkpoint"));
  const done = lines[lines.length - 1];
  assert.equal(done.type, "done");
  assert.equal(done.status, "succeeded");
  assert.equal(done.fineTunedModel, job.fine_tuned_model);

  const list = await runCli(["jobs", "list", "--json"], { env: env() });
  allOutputs.push(list);
  assert.equal(list.code, 0, list.stderr);
  const jobs = JSON.parse(list.stdout);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0].remoteId, started.remoteId);
  assert.equal(jobs[0].status, "succeeded");
  const show = await runCli(["jobs", "show", started.remoteId, "--json"], { env: env() });
  allOutputs.push(show);
  const details = JSON.parse(show.stdout);
  assert.equal(details.job.id, started.job);
  assert.equal(details.metrics.length, 6);
  assertHistoryInOrder(details.history.map((h: { status: string }) => h.status), ["validating_files", "queued", "running", "succeeded"], "succeeded");
  const human = await runCli(["jobs", "show", started.job], { env: env() });
  allOutputs.push(human);
  assert.match(human.stdout, /succeeded/);
  assert.match(human.stdout, /checkpoints/);

  // The same data again: no second upload.
  const before = uploads();
  const again = await train(["--yes", "--json"]);
  allOutputs.push(again);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(jsonLines(again.stdout).find((l) => l.type === "started").reusedUpload, true);
  assert.equal(uploads(), before);
});

test("the CLI killed (SIGKILL) mid-watch; `jobs watch` resumes to the end without duplicates, through a server outage", async () => {
  freshHome();
  Object.assign(server.options, { stepMs: 200 });
  // The job stops at step 1 until the resumed watch is up: the kill lands mid-job, deterministically.
  server.pauseAtStep = 1;
  try {
    const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", mainTs, "train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes", "--json"], {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: "1", ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const killed = new Promise<void>((resolve) => child.on("close", () => resolve()));
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (jsonLines(out).some((l) => l.type === "metrics" && l.step >= 1)) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("close", () => resolve());
    });
    await killed;
    allOutputs.push({ code: null, signal: "SIGKILL", stdout: out, stderr: err });
    const started = jsonLines(out).find((l) => l.type === "started");
    assert.ok(started, err);
    const store = openStore({ home });
    assert.notEqual(store.getJob(started.job)!.status, "succeeded");
    store.close();

    // Resume; and while `jobs watch` follows, the API server dies and comes back.
    let outage = false;
    let restartedAt = Infinity;
    const w = await spawnCli(["jobs", "watch", started.job, "--json"], (line) => {
      if (!outage && line.type === "status") {
        outage = true;
        server.resume();
        void server.stop().then(() =>
          setTimeout(() => {
            restartedAt = Date.now();
            void server.restart();
          }, 700),
        );
      }
    });
    allOutputs.push(w);
    assert.equal(w.code, 0, w.stderr);
    const lines = jsonLines(w.stdout);
    // The SDK's own retries or the follow loop's backoff carried the watch across the outage.
    assert.ok(outage, "the server was stopped during the watch");
    assert.ok(server.requests.some((r) => r.at >= restartedAt && r.path.includes(started.remoteId)), "the watch went on after the restart");
    // Resumed after the cursor: the steps seen before the kill are not reported again.
    const steps = lines.filter((l) => l.type === "metrics").map((l) => l.step);
    assert.ok(!steps.includes(1), `step 1 was reported again: ${steps}`);
    assert.equal(lines[lines.length - 1].status, "succeeded");
    const after = openStore({ home });
    const job = after.getJob(started.job)!;
    assert.equal(job.status, "succeeded");
    assert.deepEqual(after.getMetrics(job.id).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
    const serverEvents = server.jobs.get(job.remoteId!)!.events.map((e) => e.id);
    assert.deepEqual(after.listEvents(job.id).map((e) => e.remoteId), serverEvents);
    after.close();
    // Watching a finished job prints its summary and exit code straight from the store.
    const again = await runCli(["jobs", "watch", started.job], { env: env() });
    allOutputs.push(again);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /succeeded/);
  } finally {
    server.pauseAtStep = undefined;
    server.resume();
    Object.assign(server.options, { stepMs: 40 });
  }
});

test("a failed job reports its code and message (exit 1); a bad key is a clear 401 (exit 2)", async () => {
  freshHome();
  server.nextJobFailure = { stage: "validating", code: "invalid_training_file", message: "The job failed due to an invalid training file. Line 4: too many tokens.", param: "training_file" };
  const r = await train(["--yes"]);
  allOutputs.push(r);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /failed/);
  assert.match(r.stdout, /invalid_training_file: The job failed due to an invalid training file\. Line 4/);

  const bad = await runCli(["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes"], {
    env: { ...env(), OPENAI_API_KEY: "sk-wrong-" + KEY.slice(8) },
  });
  allOutputs.push(bad);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /rejected the API key \(401\)/);
  assert.match(bad.stderr, /OPENAI_API_KEY/);
  assert.ok(!bad.stderr.includes(KEY.slice(8)));

});

test("Ctrl-C stops watching but not the job; jobs cancel cancels it; unknown ids are a clear error", async () => {
  freshHome();
  Object.assign(server.options, { queueMs: 60_000 });
  try {
    // The job sits in the queue while the CLI watches it.
    const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", mainTs, "train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes", "--json"], {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: "1", ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (jsonLines(out).some((l) => l.type === "status" && l.status === "queued")) resolve();
      });
      child.on("close", () => resolve());
    });
    // Ctrl-C stops watching, not the job, and says how to resume.
    child.kill("SIGINT");
    assert.equal(await closed, 130, err);
    assert.match(err, /stopped watching; the job keeps running\. Resume with `tunekit jobs watch tk_/);
    allOutputs.push({ code: 130, signal: null, stdout: out, stderr: err });
    const started = jsonLines(out).find((l) => l.type === "started");
    assert.ok(started);
    assert.equal(server.jobs.get(started.remoteId)!.status, "queued");
    const c = await runCli(["jobs", "cancel", started.job, "--json"], { env: env() });
    allOutputs.push(c);
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).status, "cancelled");
    assert.equal(server.jobs.get(started.remoteId)!.status, "cancelled");
    const again = await runCli(["jobs", "cancel", started.job], { env: env() });
    allOutputs.push(again);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already finished/);
  } finally {
    Object.assign(server.options, { queueMs: 100 });
  }
  const missing = await runCli(["jobs", "show", "ftjob-doesnotexist"], { env: env() });
  allOutputs.push(missing);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no job "ftjob-doesnotexist"/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  assert.ok(existsSync(join(home, "tunekit.db")));
});
