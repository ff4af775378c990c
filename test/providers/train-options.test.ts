/**
 * `tunekit train --provider ...` option handling, in-process through the CLI's own `main` (no network:
 * every case here is refused before a request would be made).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { main } from "../../src/cli/main.js";
import { tempDir } from "../helpers/fixtures.js";
import { writeChatJsonl } from "./data.js";

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const sink = (append: (s: string) => void) => new Writable({ write: (c, _e, cb) => (append(String(c)), cb()) });
  const code = await main(args, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), env: { NO_COLOR: "1", ...env }, cwd: process.cwd() });
  return { code, out, err };
}

test("hosted train refuses local-only options and maps learning-rate options per provider", async () => {
  const t = tempDir();
  try {
    const data = writeChatJsonl(t.dir, "train.jsonl", 12);
    // A port nothing listens on: reaching the network would fail loudly instead of passing.
    const env = { OPENAI_API_KEY: "sk-unused-1234567890", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", TOGETHER_API_KEY: "tg-unused", TOGETHER_BASE_URL: "http://127.0.0.1:9/v1", TUNEKIT_HOME: t.dir };
    const openai = ["train", data, "--provider", "openai", "--model", "gpt-4o-mini-2024-07-18", "--yes"];
    const together = ["train", data, "--provider", "together", "--model", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", "--yes"];

    let r = await run([...openai, "--max-steps", "10"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--max-steps applies to local training only, not to --provider openai/);
    r = await run([...openai, "--lr", "0.0001"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--lr: learning_rate is not accepted by this provider/);
    assert.match(r.err, /use --lr-multiplier X/);
    r = await run([...openai, "--lora-r", "16"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--lora-\*: this provider does not take LoRA settings/);
    r = await run([...together, "--lr-multiplier", "2"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /use --lr X/);
    r = await run([...together, "--lora-r", "0"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--lora-r: LoRA rank must be an integer/);
    r = await run([...openai, "--batch-size", "two"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--batch-size must be a positive integer or "auto"/);
    r = await run(["train", data, "--provider", "openai", "--yes"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /--model is required with --provider openai/);
    r = await run([...openai.slice(0, 4), "--provider", "acme"], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown provider "acme"/);
    for (const x of [r.out, r.err]) assert.ok(!x.includes("sk-unused-1234567890"));
  } finally {
    t.cleanup();
  }
});
