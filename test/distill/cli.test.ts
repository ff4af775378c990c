/**
 * `tunekit distill` as a user runs it: a child process, the real SDK against a fake server, the real
 * SQLite store. Resumability is checked with a real SIGKILL (and Ctrl-C) of the child in the middle
 * of a run and a counting server; a full disk with a small tmpfs (skipped loudly when not root).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, runCliInProcess } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { startFakeChat, type ChatRequestBody } from "../servers/fake-chat.js";
import { main } from "../../src/cli/main.js";
import { PassThrough } from "node:stream";

const KEY = "sk-" + "DistillCliKey5647382910abcdef";
const mainTs = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const tsx = import.meta.resolve("tsx");
const lastUser = (b: ChatRequestBody) => String([...b.messages].reverse().find((m) => m.role === "user")?.content ?? "");
const twoLines = (b: ChatRequestBody) => `TL;DR: ${lastUser(b)}\nNext step: we check it today.`;

function workspace(n: number) {
  const t = tempDir("tunekit-distill-cli-");
  const prompts = join(t.dir, "prompts.txt");
  writeFileSync(prompts, Array.from({ length: n }, (_, i) => `ticket ${i}: my order ${1000 + i} is late`).join("\n") + "\n");
  return { t, prompts, home: join(t.dir, "home"), out: join(t.dir, "data", "distilled.jsonl") };
}

/** The CLI in a child process whose pid we keep (to kill it). */
function spawnCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["--import", tsx, mainTs, ...args], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

test("distill --json: the report, a file validate and split accept, and the key in no output, cache or file", { timeout: 120_000 }, async () => {
  const s = await startFakeChat({ apiKey: KEY, reply: (b) => (lastUser(b).includes("7") ? "no idea" : twoLines(b)) });
  const { t, prompts, home, out } = workspace(12);
  try {
    const env = { TUNEKIT_HOME: home, OLD_MODEL_KEY: KEY };
    const args = ["distill", prompts, "--teacher", `name=old,endpoint=${s.baseUrl},model=ft:old,key_env=OLD_MODEL_KEY,price_in=0.3,price_out=1.2`, "-o", out, "--format", "line-template=TL;DR: / Next step:", "--system", "Answer every ticket in two lines.", "--json"];
    const r = await runCli(args, { env });
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.kept, 11);
    assert.deepEqual(rep.dropped, { format: 1, empty: 0, truncated: 0, failed: 0, duplicate: 0, not_reached: 0 });
    assert.deepEqual(rep.drops, [{ line: 8, reason: "format", detail: 'expected a line starting "TL;DR:" as line 1, got free text' }]);
    assert.equal(rep.output.written, true);
    assert.equal(rep.calls.teacher.made, 12);
    assert.equal(rep.teacher.name, "old");
    assert.deepEqual(rep.teacher.price, { inputPerM: 0.3, outputPerM: 1.2 });
    assert.ok(rep.costUsd > 0);
    assert.equal(rep.estimate.callsUpTo, 12);
    assert.equal(rep.complete, true);
    assert.equal(rep.stopped, null);

    const v = await runCliInProcess(["validate", out, "--json"], { env });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(JSON.parse(v.stdout).examples, 11);
    const sp = await runCliInProcess(["split", out, "-o", join(t.dir, "data"), "--test", "0.25"], { env });
    assert.equal(sp.code, 0, sp.stderr);

    // The terminal report, from the cache: no call.
    const again = await runCliInProcess(args.filter((a) => a !== "--json"), { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(s.requests.length, 12);
    assert.match(again.stdout, /distilled\.jsonl: 11 examples from 12 prompts, answered by old/);
    assert.match(again.stdout, /dropped +format 1\n.*prompts\.txt:8: format: expected a line starting "TL;DR:"/);
    assert.match(again.stdout, /calls +0 made, 12 from the cache/);
    assert.match(again.stdout, /cost +\$0\.0000 this run \(the cached answers were worth \$0\.\d+\), at \$0\.3 in \/ \$1\.2 out per 1M tokens: given in the model spec/);
    assert.match(again.stderr, /estimate: no call to make; 12 answers cached from an earlier run/);
    assertSecretNowhere(KEY, [r.stdout, r.stderr, v.stdout, again.stdout, again.stderr], [home, t.dir]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

for (const concurrency of [1, 4]) {
  test(`SIGKILL in the middle of a run (concurrency ${concurrency}) loses only the calls in flight; the rerun repeats nothing else`, { timeout: 120_000 }, async () => {
    const N = 16;
    const asked = new Map<string, number>();
    let phase: "answering" | "holding" | "rerun" = "answering";
    let arrived: (() => void) | undefined;
    const held = new Promise<void>((r) => (arrived = r));
    const never = new Promise<void>(() => {});
    // From the 7th request on, the first run's requests are held open (never answered): the child is killed then.
    const s = await startFakeChat({
      reply: twoLines,
      onRequest: async (b, i) => {
        asked.set(lastUser(b), (asked.get(lastUser(b)) ?? 0) + 1);
        if (phase === "answering" && i >= 6) {
          phase = "holding";
          arrived!();
        }
        if (phase === "holding") await never;
      },
    });
    const { t, prompts, home, out } = workspace(N);
    try {
      const env = { TUNEKIT_HOME: home };
      const args = ["distill", prompts, "--teacher", `endpoint=${s.baseUrl},model=old`, "-o", out, "--format", "line-template=TL;DR: / Next step:", "--concurrency", String(concurrency)];
      const run = spawnCli(args, env);
      await held;
      await new Promise((r) => setTimeout(r, 300)); // the answers already given reach the cache
      run.child.kill("SIGKILL");
      const killed = await run.done;
      assert.equal(killed.signal, "SIGKILL");
      assert.equal(existsSync(out), false, "no output file after a kill");
      assert.deepEqual(existsSync(join(t.dir, "data")) ? readdirSync(join(t.dir, "data")) : [], [], "no temp file either");
      const firstRun = new Map(asked);
      phase = "rerun";

      const r = await runCli(args, { env });
      assert.equal(r.code, 0, r.stderr);
      const lines = readFileSync(out, "utf8").trim().split("\n");
      assert.equal(lines.length, N);
      const repeated = [...asked.entries()].filter(([, n]) => n > 1).map(([p]) => p);
      // Only prompts that were in flight at the kill are asked again: at most `concurrency`.
      assert.ok(repeated.length >= 1 && repeated.length <= concurrency, `repeated: ${repeated.join("; ")}`);
      assert.equal(asked.size, N);
      if (concurrency === 1) {
        assert.equal(firstRun.size, 7);
        assert.deepEqual(repeated, ["ticket 6: my order 1006 is late"]);
        assert.equal(s.requests.length, N + 1);
      }
    } finally {
      await s.close();
      t.cleanup();
    }
  });
}

test("Ctrl-C stops at once with exit 130 and a note; nothing is written; the rerun continues", { timeout: 120_000 }, async () => {
  let release: (() => void) | undefined;
  let reached: (() => void) | undefined;
  const third = new Promise<void>((r) => (reached = r));
  const s = await startFakeChat({
    reply: twoLines,
    onRequest: async (_b, i) => {
      if (i === 2) {
        reached!();
        await new Promise<void>((r) => (release = r));
      }
    },
  });
  const { t, prompts, home, out } = workspace(5);
  try {
    const args = ["distill", prompts, "--teacher", `endpoint=${s.baseUrl},model=old`, "-o", out, "--concurrency", "1"];
    const run = spawnCli(args, { TUNEKIT_HOME: home });
    await third;
    run.child.kill("SIGINT");
    const r = await run.done;
    assert.equal(r.code, 130);
    assert.match(r.stderr, /interrupted; the answers so far are cached: rerun the same command to continue/);
    assert.equal(existsSync(out), false);
    release?.();
    const again = await runCli(args, { env: { TUNEKIT_HOME: home } });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /calls +3 made, 2 from the cache/);
  } finally {
    release?.();
    await s.close();
    t.cleanup();
  }
});

test("bad input and faults: clear errors with codes and exit codes, no output file", { timeout: 120_000 }, async () => {
  const s = await startFakeChat({ apiKey: KEY, reply: () => "" });
  const { t, prompts, home, out } = workspace(3);
  try {
    const env = { TUNEKIT_HOME: home, TUNEKIT_API_KEY: KEY };
    const teacher = `endpoint=${s.baseUrl},model=old`;
    writeFileSync(join(t.dir, "empty.txt"), "");
    writeFileSync(join(t.dir, "bad-schema.json"), '{"type": "object", "required": "intent"}');
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; code: number; error: string; message: RegExp }[] = [
      { args: [join(t.dir, "empty.txt"), "--teacher", teacher], code: 1, error: "empty_file", message: /the prompt file is empty/ },
      { args: [join(t.dir, "missing.txt"), "--teacher", teacher], code: 2, error: "file_not_found", message: /no such file/ },
      { args: [prompts, "--teacher", teacher, "--schema", join(t.dir, "bad-schema.json")], code: 2, error: "bad_schema", message: /\$\.required: must be a list of key names/ },
      { args: [prompts, "--teacher", teacher, "--format", "xml"], code: 2, error: "bad_format", message: /not a format/ },
      { args: [prompts, "--teacher", teacher, "--n", "3"], code: 2, error: "usage", message: /needs --temperature above 0/ },
      { args: [prompts, "--teacher", `${teacher},key=${KEY}`], code: 2, error: "bad_model_spec", message: /API keys are not accepted/ },
      { args: [prompts, "--teacher", teacher], env: { ...env, TUNEKIT_API_KEY: "sk-wrong-key-0000000000" }, code: 2, error: "teacher_auth", message: /refused the call: HTTP 401/ },
      // The teacher answers with nothing at all: every prompt is dropped as empty.
      { args: [prompts, "--teacher", teacher], code: 1, error: "nothing_kept", message: /no answer was kept.*empty 3/ },
      { args: [prompts, "--teacher", teacher, "--max-cost", "1"], code: 2, error: "price_unknown", message: /--max-cost needs the teacher's price/ },
    ];
    const outputs: string[] = [];
    for (const c of cases) {
      const r = await runCliInProcess(["distill", ...c.args, "-o", out, "--json"], { env: c.env ?? env });
      outputs.push(r.stdout, r.stderr);
      assert.equal(r.code, c.code, `${c.error}: ${r.stderr}`);
      const e = JSON.parse(r.stdout).error;
      assert.equal(e.code, c.error, r.stderr);
      assert.match(e.message, c.message);
      assert.doesNotMatch(r.stderr, /internal error|at .*\.ts:\d+/, "no stack trace");
      assert.equal(existsSync(out), false, c.error);
    }
    assertSecretNowhere(KEY, outputs, [home]);
  } finally {
    await s.close();
    t.cleanup();
  }
});

function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    process.stderr.write("\n*** SKIPPING disk-full test: cannot mount a small tmpfs here (needs root) ***\n");
    return false;
  }
}

test("a full disk: the output is refused whole (disk_full), the old file stays, and nothing paid for is lost", { timeout: 120_000 }, async (t) => {
  const big = "x".repeat(20_000);
  const s = await startFakeChat({ reply: (b) => `${twoLines(b)} ${big}` });
  const w = workspace(20);
  const mnt = join(w.t.dir, "small");
  if (!mountTmpfs(mnt, "256k")) {
    await s.close();
    w.t.cleanup();
    return t.skip("cannot mount a tmpfs (not root)");
  }
  try {
    const env = { TUNEKIT_HOME: w.home };
    writeFileSync(join(mnt, "out.jsonl"), "previous\n");
    const args = (out: string) => ["distill", w.prompts, "--teacher", `endpoint=${s.baseUrl},model=old`, "-o", out];
    const r = await runCliInProcess([...args(join(mnt, "out.jsonl")), "--json"], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, "disk_full");
    assert.deepEqual(readdirSync(mnt), ["out.jsonl"], "no temp file left");
    assert.equal(readFileSync(join(mnt, "out.jsonl"), "utf8"), "previous\n");
    assert.equal(s.requests.length, 20);
    const ok = await runCliInProcess(args(join(w.t.dir, "out.jsonl")), { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(s.requests.length, 20, "the answers came from the cache");
  } finally {
    execFileSync("umount", [mnt]);
    await s.close();
    w.t.cleanup();
  }
});

test("a full disk under the cache stops the run with disk_full; after making room the rerun asks only what was not stored", { timeout: 120_000 }, async (t) => {
  const big = "y".repeat(60_000);
  const s = await startFakeChat({ reply: (b) => `${twoLines(b)} ${big}` });
  const w = workspace(40);
  if (!mountTmpfs(w.home, "1m")) {
    await s.close();
    w.t.cleanup();
    return t.skip("cannot mount a tmpfs (not root)");
  }
  try {
    const env = { TUNEKIT_HOME: w.home };
    const args = ["distill", w.prompts, "--teacher", `endpoint=${s.baseUrl},model=old`, "-o", w.out, "--concurrency", "1", "--json"];
    const r = await runCliInProcess(args, { env });
    assert.equal(r.code, 2, r.stderr);
    const e = JSON.parse(r.stdout).error;
    assert.equal(e.code, "disk_full");
    assert.match(e.message, /generation cache/);
    assert.equal(existsSync(w.out), false);
    const first = s.requests.length;
    assert.ok(first > 1 && first < 40, `${first} requests before the disk filled`);
    execFileSync("mount", ["-o", "remount,size=16m", w.home]);
    const ok = await runCliInProcess(args, { env });
    assert.equal(ok.code, 0, ok.stderr);
    // Everything stored before the disk filled came from the cache; only the answer that could not be stored was asked again.
    assert.equal(s.requests.length, 41);
    assert.equal(JSON.parse(ok.stdout).calls.teacher.cached, first - 1);
  } finally {
    execFileSync("umount", [w.home]);
    await s.close();
    w.t.cleanup();
  }
});

test("on a terminal a progress bar shows prompts, calls/s, cost so far and the ETA", { timeout: 60_000 }, async () => {
  const s = await startFakeChat({ reply: twoLines, delayMs: 120 });
  const { t, prompts, home, out } = workspace(14);
  try {
    const stdout = Object.assign(new PassThrough(), { isTTY: false });
    const stderr = Object.assign(new PassThrough(), { isTTY: true, columns: 160 });
    let err = "";
    stderr.setEncoding("utf8").on("data", (d) => (err += d));
    const code = await main(["distill", prompts, "--teacher", `endpoint=${s.baseUrl},model=old,price_in=1,price_out=2`, "-o", out, "--concurrency", "1"], {
      stdout,
      stderr,
      env: { ...process.env, TUNEKIT_HOME: home, NO_COLOR: "1" },
      cwd: t.dir,
    });
    assert.equal(code, 0, err);
    assert.match(err, /distilling \[#*-*\] +\d+% \d+\/14 prompts ETA \d+s \d+\.\d calls\/s \$0\.\d{4}/);
  } finally {
    await s.close();
    t.cleanup();
  }
});
