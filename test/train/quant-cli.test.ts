/** `--base-bits` through the CLI: train, generate, eval and distill on stories260K (shared fixture), and bad values. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCliInProcess } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { nameDataset, writeJsonl } from "./helpers/tiny.js";

test("--base-bits 3 (or any value but 4, 8, 32) is a clear error before any work, for every command", async () => {
  const tmp = tempDir("tunekit-qcli-bad-");
  try {
    const data = writeJsonl(join(tmp.dir, "ok.jsonl"), nameDataset());
    const out = join(tmp.dir, "run");
    const runs = [
      ["train", data, "--model", "m", "-o", out, "--base-bits", "3"],
      ["generate", "--model", "m", "--prompt", "hi", "--base-bits", "16"],
      ["eval", "--data", data, "--model", "name=a,local=m", "-o", join(tmp.dir, "ev"), "--base-bits", "four"],
      ["distill", data, "--teacher", "local=m", "-o", join(tmp.dir, "d.jsonl"), "--base-bits", "2"],
    ];
    for (const args of runs) {
      const r = await runCliInProcess(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /invalid_base_bits/, args[0]);
      assert.match(r.stderr, /--base-bits must be 4, 8 or 32/, args[0]);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    assert.ok(!existsSync(out));
    const hosted = await runCliInProcess(["train", data, "--model", "m", "-o", out, "--provider", "together", "--base-bits", "4"]);
    assert.equal(hosted.code, 2);
    assert.match(hosted.stderr, /local training only/);
  } finally {
    tmp.cleanup();
  }
});

test("train --base-bits 4, then generate, eval and distill --base-bits 8 on stories260K", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const tmp = tempDir("tunekit-qcli-");
  try {
    const data = writeJsonl(join(tmp.dir, "names.jsonl"), nameDataset());
    const run = join(tmp.dir, "run");
    const tr = await runCliInProcess(["train", data, "--model", model, "-o", run, "--max-steps", "3", "--batch-size", "4", "--base-bits", "4", "--json"]);
    assert.equal(tr.code, 0, tr.stderr);
    const done = tr.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((e) => e.type === "done");
    assert.equal(done.step, 3);
    assert.equal(JSON.parse(readFileSync(join(run, "run.json"), "utf8")).options.baseBits, 4);
    assert.ok(existsSync(join(run, "adapter", "adapter_model.safetensors")));

    const gen = await runCliInProcess(["generate", "--model", model, "--adapter", join(run, "adapter"), "--prompt", "Pam has a hat.", "--max-tokens", "5", "--base-bits", "8", "--json"]);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /"completionTokens": ?[1-9]/);

    const heldOut = writeJsonl(join(tmp.dir, "heldout.jsonl"), nameDataset().slice(0, 2));
    const ev = await runCliInProcess(["eval", "--data", heldOut, "--model", `name=tuned,run=${run}`, "-o", join(tmp.dir, "report"), "--max-tokens", "4", "--threads", "1", "--base-bits", "8", "--no-cache", "--json"]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.ok(existsSync(join(tmp.dir, "report", "results.json")));

    const prompts = join(tmp.dir, "prompts.txt");
    writeFileSync(prompts, "Once upon a time\nThe dog\n");
    // stories260K never ends a chat reply, so distill drops both answers as cut off: they were generated.
    const ds = await runCliInProcess(["distill", prompts, "--teacher", `local=${model}`, "-o", join(tmp.dir, "distilled.jsonl"), "--max-tokens", "8", "--base-bits", "8", "--json"]);
    assert.match(ds.stderr, /nothing_kept.*truncated 2/, ds.stderr);
  } finally {
    tmp.cleanup();
  }
});
