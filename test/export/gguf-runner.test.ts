/**
 * Running an exported GGUF through llama.cpp from tunekit's own commands: `generate --model FILE.gguf`
 * and `eval --model name=...,gguf=FILE` give (at f32, greedy) what the same model gives on tunekit's
 * engine; node-llama-cpp is loaded only for GGUF files, and its absence is a clear error.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportGguf } from "../../src/export/gguf/export.js";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { CHATML_TEMPLATE, familyConfigs, writeModelFolder, writeRun } from "../helpers/gguf-models.js";
import { chatmlTokenizerFiles } from "../helpers/test-tokenizers.js";

const tmp = tempDir("tunekit-gguf-run-");
test.after(() => tmp.cleanup());
const hide = fileURLToPath(new URL("../helpers/hide-node-llama-cpp.mjs", import.meta.url));

test("generate --model FILE.gguf: raw and chat prompts, and --messages, give what the model folder gives (f32, greedy)", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const gguf = join(tmp.dir, "stories.gguf");
  await exportGguf({ model: stories }, gguf, { dtype: "f32" });
  const outputs: string[] = [];
  for (const args of [["--raw", "--prompt", "Once upon a time"], ["--prompt", "Tell me a story about a cat.", "--stop", "."]]) {
    const mine = await runCli(["generate", "--model", stories, ...args, "--max-tokens", "40", "--json"]);
    const theirs = await runCli(["generate", "--model", gguf, ...args, "--max-tokens", "40", "--json", "--threads", "1"]);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(theirs.code, 0, theirs.stderr);
    const a = JSON.parse(mine.stdout);
    const b = JSON.parse(theirs.stdout);
    assert.equal(b.text, a.text, args.join(" "));
    assert.deepEqual([b.promptTokens, b.completionTokens, b.finishReason, b.stoppedBy], [a.promptTokens, a.completionTokens, a.finishReason, a.stoppedBy], args.join(" "));
    outputs.push(b.text);
  }
  // Streaming output equals the JSON text.
  const streamed = await runCli(["generate", "--model", gguf, "--raw", "--prompt", "Once upon a time", "--max-tokens", "40", "--threads", "1"]);
  assert.equal(streamed.stdout, outputs[0] + "\n");
  // --messages: one JSON line per example.
  const msgs = join(tmp.dir, "prompts.jsonl");
  writeFileSync(msgs, ['{"messages":[{"role":"user","content":"Hi"}]}', '{"messages":[{"role":"user","content":"A dog"},{"role":"assistant","content":"ran"}]}'].join("\n") + "\n");
  const m1 = await runCli(["generate", "--model", stories, "--messages", msgs, "--max-tokens", "12"]);
  const m2 = await runCli(["generate", "--model", gguf, "--messages", msgs, "--max-tokens", "12", "--threads", "1"]);
  assert.equal(m2.code, 0, m2.stderr);
  const texts = (s: string) => s.trim().split("\n").map((l) => [JSON.parse(l).line, JSON.parse(l).text, JSON.parse(l).reference]);
  assert.deepEqual(texts(m2.stdout), texts(m1.stdout));
});

test("eval --model name=...,gguf=FILE: the merged f32 GGUF answers as the run does; a q8_0 export is a row beside it", async () => {
  const tok = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const m = await writeModelFolder(join(tmp.dir, "qwen"), familyConfigs(tok.size, 0).qwen2, tok);
  const run = join(tmp.dir, "run");
  await writeRun(run, m.dir, m.config, { r: 4, alpha: 8, targets: "all-linear" });
  const f32 = join(tmp.dir, "tuned-f32.gguf");
  const q8 = join(tmp.dir, "tuned-q8.gguf");
  await exportGguf({ runDir: run }, f32, { dtype: "f32" });
  await exportGguf({ runDir: run }, q8, { dtype: "q8_0" });
  const data = join(tmp.dir, "heldout.jsonl");
  writeFileSync(
    data,
    ["What is 2+2?", "Name a colour.", "Say hello."].map((q, i) => JSON.stringify({ messages: [{ role: "user", content: q }, { role: "assistant", content: `answer ${i}` }] })).join("\n") + "\n",
  );
  const report = join(tmp.dir, "report");
  const r = await runCli(["eval", "--data", data, "--model", `name=tuned,run=${run}`, "--model", `name=f32,gguf=${f32}`, "--model", `name=q8,gguf=${q8}`, "-o", report, "--max-tokens", "10", "--threads", "1", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(readFileSync(join(report, "results.json"), "utf8"));
  const outputs = (name: string) => res.models.find((x: { name: string }) => x.name === name).examples.map((e: { output: string }) => e.output);
  assert.deepEqual(outputs("f32"), outputs("tuned"));
  assert.equal(outputs("q8").length, 3);
  assert.match(res.models.find((x: { name: string }) => x.name === "q8").runnerId, /^gguf:.*tuned-q8\.gguf#/);
});

test("without node-llama-cpp: a GGUF model is a clear error with the install hint; other models do not need it", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const env = { NODE_OPTIONS: `--import=${hide}` };
  const g = await runCli(["generate", "--model", join(tmp.dir, "absent-or-not.gguf"), "--prompt", "hi"], { env });
  assert.equal(g.code, 2);
  assert.match(g.stderr, /error\[file_not_found\] .*no such GGUF file/);
  const gguf = join(tmp.dir, "stories-hidden.gguf");
  await exportGguf({ model: stories }, gguf, { dtype: "f16" });
  const h = await runCli(["generate", "--model", gguf, "--prompt", "hi"], { env });
  assert.equal(h.code, 2);
  assert.match(h.stderr, /error\[llama_cpp_missing\] running a GGUF file needs node-llama-cpp/);
  assert.match(h.stderr, /hint: install it next to tunekit: npm install node-llama-cpp@3\.21\.1/);
  // The engine's own path, and the export itself, never import it.
  const ok = await runCli(["generate", "--model", stories, "--raw", "--prompt", "Once", "--max-tokens", "3"], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const ex = await runCli(["export", "--model", stories, "--gguf", join(tmp.dir, "exported-without.gguf")], { env });
  assert.equal(ex.code, 0, ex.stderr);
});
