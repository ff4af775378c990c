/** `tunekit generate` as a user runs it: stories260K greedy, JSON output, adapters, hub ids, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { startFakeHub } from "../helpers/fake-hub.js";
import { readModelConfig } from "../../src/engine/io/config.js";
import { writePeftAdapter } from "../../src/engine/io/peft.js";
import { loraParamShapes } from "../../src/engine/models/lora.js";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { TextGenerator } from "../../src/engine/generate/generator.js";

const manifest = JSON.parse(readFileSync(new URL("../fixtures/reference/manifest.json", import.meta.url), "utf8"));
const stories = sharedFixture("models", "stories260K");

test("generate CLI: stories260K from BOS prints the PyTorch greedy story; --json has counts and timings", { skip: !stories }, async () => {
  const r = await runCli(["generate", "--model", "../shared/fixtures/models/stories260K", "--raw", "--prompt", "", "--max-tokens", "64"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, manifest.greedy.text + "\n");
  assert.match(r.stdout, /^Once upon a time, there was a little girl named Lily\./);
  const j = await runCli(["generate", "-m", stories!, "--raw", "-p", "Once upon a time", "--max-tokens", "12", "--stop", "Lily", "--json"]);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.equal(out.text, ", there was a little girl named ");
  assert.equal(out.finishReason, "stop");
  assert.equal(out.stoppedBy, "Lily");
  assert.ok(out.promptTokens >= 4 && out.completionTokens > 0 && out.completionTokens <= 12);
  assert.ok(out.timings.totalMs > 0);
  // Plain output streams; held-back stop-string prefixes never leak into it.
  const plain = await runCli(["generate", "-m", stories!, "--raw", "-p", "Once upon a time", "--max-tokens", "12", "--stop", "Lily"]);
  assert.equal(plain.stdout, ", there was a little girl named \n");
});

test("generate CLI: a PEFT adapter changes the output exactly as merging it does", { skip: !stories }, async () => {
  const t = tempDir();
  try {
    const config = await readModelConfig(join(stories!, "config.json"));
    const spec = { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ["q", "v", "down"] };
    let k = 0;
    const params = new Map(loraParamShapes(config, spec).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => 0.3 * Math.sin(++k))]));
    await writePeftAdapter(join(t.dir, "adapter"), { config, spec, params, baseModel: "stories260K" });
    const r = await runCli(["generate", "-m", stories!, "--adapter", join(t.dir, "adapter"), "--raw", "-p", "", "--max-tokens", "24", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const text = JSON.parse(r.stdout).text;
    assert.ok(!manifest.greedy.text.startsWith(text), "the adapter changes the output");
    const js = await TextGenerator.load(stories!, { backend: "js", adapter: join(t.dir, "adapter") });
    assert.equal((await js.generate("", { raw: true, maxTokens: 24 })).text, text, "ONNX with the merged adapter = JS reference");

    // An adapter for another base is refused without a stack trace.
    const wider = parseModelConfig({ ...config.raw, hidden_size: 32, head_dim: 4 });
    await writePeftAdapter(join(t.dir, "other"), { config: wider, spec, params: new Map(loraParamShapes(wider, spec).map(({ name, shape }) => [name, new Float32Array(shape[0] * shape[1])])), baseModel: "stories260K" });
    const bad = await runCli(["generate", "-m", stories!, "--adapter", join(t.dir, "other"), "--raw", "-p", ""]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /adapter_base_mismatch/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  } finally {
    t.cleanup();
  }
});

test("generate CLI: a hub id downloads through HF_ENDPOINT into HF_HOME, then works offline", { skip: !stories }, async () => {
  const t = tempDir();
  const files: Record<string, Buffer> = {};
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) files[f] = readFileSync(join(stories!, f));
  const hub = await startFakeHub({ "karpathy/stories260K": { sha: "1".repeat(40), files } });
  try {
    const env = { HF_HOME: join(t.dir, "hf"), HF_ENDPOINT: hub.url };
    const r = await runCli(["generate", "-m", "karpathy/stories260K", "--raw", "-p", "", "--max-tokens", "64"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, manifest.greedy.text + "\n");
    await hub.close();
    const off = await runCli(["generate", "-m", "karpathy/stories260K", "--raw", "-p", "", "--max-tokens", "8"], { env: { ...env, HF_HUB_OFFLINE: "1" } });
    assert.equal(off.code, 0, off.stderr);
    assert.ok(manifest.greedy.text.startsWith(off.stdout.trimEnd()));
  } finally {
    await hub.close();
    t.cleanup();
  }
});

test("generate CLI: --messages completes each example (reference kept), with the plain or a given chat template", { skip: !stories }, async () => {
  const t = tempDir();
  try {
    const file = join(t.dir, "m.jsonl");
    writeFileSync(
      file,
      [
        JSON.stringify({ messages: [{ role: "user", content: "Tell me a story." }, { role: "assistant", content: "Once upon a time." }] }),
        "",
        JSON.stringify({ messages: [{ role: "system", content: "Be kind." }, { role: "user", content: "Hi" }] }),
        "not json",
        JSON.stringify({ messages: [{ role: "wizard", content: "x" }] }),
      ].join("\n"),
    );
    const r = await runCli(["generate", "-m", stories!, "--messages", file, "--max-tokens", "10"]);
    assert.equal(r.code, 1, "invalid lines make the exit code 1");
    assert.match(r.stderr, /m\.jsonl:4: error: not valid JSON/);
    assert.match(r.stderr, /m\.jsonl:5: error: message 1 needs a role/);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.line), [1, 3]);
    assert.equal(lines[0].reference, "Once upon a time.");
    assert.equal(lines[1].reference, undefined);
    const gen = await TextGenerator.load(stories!, { threads: 1 });
    assert.equal(gen.chatTemplate.plain, true, "stories260K has no chat template: the plain one, as in training");
    const alone = await gen.generate([{ role: "user", content: "Tell me a story." }], { maxTokens: 10 });
    assert.equal(lines[0].text, alone.text);
    assert.equal(lines[0].promptTokens, alone.promptTokens);
    await gen.dispose();

    // A Jinja template file replaces the model's: the prompt is exactly what it renders.
    writeFileSync(join(t.dir, "t.jinja"), "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}");
    const j = await runCli(["generate", "-m", stories!, "--chat-template", join(t.dir, "t.jinja"), "-p", "Once upon a time", "--max-tokens", "8", "--json"]);
    assert.equal(j.code, 0, j.stderr);
    const raw = await runCli(["generate", "-m", stories!, "--raw", "-p", "Once upon a time", "--max-tokens", "8", "--json"]);
    assert.equal(JSON.parse(j.stdout).text, JSON.parse(raw.stdout).text);
    assert.equal(JSON.parse(j.stdout).promptTokens, JSON.parse(raw.stdout).promptTokens);
  } finally {
    t.cleanup();
  }
});

test("generate CLI: usage and input errors are clear, with exit codes and no stack traces", { skip: !stories }, async () => {
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, "empty.jsonl"), "\n\n");
    const cases: [string[], number, RegExp][] = [
      [["generate", "--prompt", "x"], 2, /--model is required/],
      [["generate", "-m", stories!, "--prompt", "x", "--messages", "f.jsonl"], 2, /exactly one of --prompt or --messages/],
      [["generate", "-m", stories!, "--raw", "--prompt", "x", "--top-p", "2"], 2, /--top-p must be a number between 0 and 1/],
      [["generate", "-m", join(t.dir, "nope"), "--raw", "--prompt", "x"], 2, /model_not_found/],
      [["generate", "-m", stories!, "--raw", "--prompt", "Once upon a time ".repeat(200)], 1, /prompt_too_long.*512/],
      [["generate", "-m", stories!, "--messages", "missing.jsonl"], 2, /file_not_found/],
      [["generate", "-m", stories!, "--messages", "x.jsonl", "--raw"], 2, /--raw applies to --prompt/],
      [["generate", "-m", stories!, "--messages", join(t.dir, "empty.jsonl")], 1, /empty_file.*no examples to complete/],
    ];
    for (const [args, code, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
      assert.equal(r.stdout, "");
    }
  } finally {
    t.cleanup();
  }
});
