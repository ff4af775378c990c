/**
 * Bad input to the GGUF and Ollama exports: a clear error with a stable code, exit 2 from the CLI,
 * and nothing written (no partial file, no temporary file left behind).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportGguf, ggufNamesFor } from "../../src/export/gguf/export.js";
import { llama } from "../../src/engine/models/families/llama.js";
import type { ModelFamily } from "../../src/engine/models/family.js";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { CHATML_TEMPLATE, chatTemplateFixture, familyConfigs, writeModelFolder, writeRun } from "../helpers/gguf-models.js";
import { chatmlTokenizerFiles, gemmaStyleTokenizerFiles } from "../helpers/test-tokenizers.js";

const tmp = tempDir("tunekit-gguf-bad-");
test.after(() => tmp.cleanup());

const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
const gm = gemmaStyleTokenizerFiles(chatTemplateFixture("gemma3-format.jinja"));
const configs = familyConfigs(bl.size, gm.size);
let counter = 0;

async function model(raw: Record<string, unknown>, tok = bl) {
  return writeModelFolder(join(tmp.dir, `m${counter++}`), raw, tok);
}

test("usage errors: no target, two targets, --model with a run, a bad --dtype", async () => {
  const cases: [string[], RegExp][] = [
    [["export", "runs/x"], /exactly one of --gguf/],
    [["export", "runs/x", "--gguf", "a.gguf", "--ollama", "o"], /exactly one of --gguf/],
    [["export", "runs/x", "--model", "m", "--gguf", "a.gguf"], /RUN_DIR or --model, not both/],
    [["export", "--model", "m", "--ollama", "o"], /--model goes with --gguf/],
    [["export", "runs/x", "--gguf", "a.gguf", "--dtype", "q4_0"], /--dtype must be one of f32, f16, bf16, q8_0/],
    [["export", "runs/x", "--gguf-adapter", "a.gguf", "--dtype", "f32"], /--dtype applies to --gguf and --ollama/],
  ];
  for (const [args, msg] of cases) {
    const r = await runCli(args, { cwd: tmp.dir });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /error\[usage\]/);
    assert.match(r.stderr, msg);
  }
});

test("an existing target file is never overwritten; an existing non-empty --ollama folder is refused", async () => {
  const m = await model(configs.qwen2);
  const out = join(tmp.dir, "exists.gguf");
  writeFileSync(out, "keep me");
  const r = await runCli(["export", "--model", m.dir, "--gguf", out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error\[already_exists\] .*exists\.gguf already exists; an export never replaces a file/);
  assert.equal(readFileSync(out, "utf8"), "keep me");

  const run = join(tmp.dir, "run-exists");
  await writeRun(run, m.dir, m.config, { r: 2, alpha: 4, targets: ["q", "v"] });
  const folder = join(tmp.dir, "ollama-exists");
  mkdirSync(folder);
  writeFileSync(join(folder, "notes.txt"), "mine");
  const o = await runCli(["export", run, "--ollama", folder]);
  assert.equal(o.code, 2);
  assert.match(o.stderr, /error\[output_not_empty\]/);
  assert.deepEqual(readdirSync(folder), ["notes.txt"]);
});

test("a run whose base model files are gone: run_base_model_missing, nothing written", async () => {
  const m = await model(configs.llama);
  const run = join(tmp.dir, "run-orphan");
  await writeRun(run, m.dir, m.config, { r: 2, alpha: 4, targets: ["q", "v"] });
  rmSync(m.dir, { recursive: true });
  for (const args of [["--gguf", join(tmp.dir, "orphan.gguf")], ["--gguf-adapter", join(tmp.dir, "orphan-lora.gguf")], ["--ollama", join(tmp.dir, "orphan-ollama")]]) {
    const r = await runCli(["export", run, ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error\[run_base_model_missing\] .*run\.json: the base model of .*run-orphan is gone/);
    assert.match(r.stderr, /hint: put the base model back at /);
    assert.ok(!existsSync(args[1]));
  }
  assert.deepEqual(readdirSync(tmp.dir).filter((f) => f.includes(".tmp-")), []);
});

test("a family without a llama.cpp mapping is refused by name", () => {
  const noGguf: ModelFamily = { ...llama, id: "newfamily", label: "NewForCausalLM (a family without llama.cpp names)", gguf: undefined };
  assert.throws(() => ggufNamesFor(noGguf), (e: Error & { code?: string; hint?: string }) => e.code === "gguf_unsupported_architecture" && /NewForCausalLM/.test(e.message) && /no mapping/.test(e.message) && /--merged/.test(e.hint ?? ""));
  assert.equal(ggufNamesFor(llama).architecture, "llama");
});

test("configurations llama.cpp's graphs cannot run as trained are refused before anything is written", async () => {
  const refusals: [string, Record<string, unknown>, RegExp, typeof bl][] = [
    ["SmolLM3 NoPE layers off llama.cpp's every-4th pattern", { ...configs.smollm3, no_rope_layers: [1, 0, 1, 1] }, /every 4th layer; this model leaves it out of layers 1/, bl],
    ["a Qwen3 output-projection bias", { ...configs.qwen3, attention_bias: true }, /output projection has a bias/, bl],
    ["Gemma 3 attention scale other than 1/sqrt(head_dim)", { ...configs.gemma3, query_pre_attn_scalar: 64 }, /attention scale/, gm],
    ["Gemma 3 sliding layers in no repeating pattern", { ...configs.gemma3, num_hidden_layers: 4, layer_types: ["sliding_attention", "full_attention", "full_attention", "sliding_attention"] }, /repeating pattern/, gm],
    ["Qwen3.5 full-attention layers at no fixed interval", { ...configs.qwen35, layer_types: ["linear_attention", "full_attention", "linear_attention", "linear_attention"] }, /full_attention_interval/, bl],
    ["Qwen3.5 linear-attention key and value heads of different sizes", { ...configs.qwen35, linear_value_head_dim: 32 }, /ssm\.state_size/, bl],
    ["llama3 rope scaling on Qwen3", { ...configs.qwen3, rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }, /llama3 rope scaling/, bl],
  ];
  for (const [what, raw, msg, tok] of refusals) {
    const m = await model(raw, tok);
    const out = join(tmp.dir, `refused-${counter}.gguf`);
    await assert.rejects(exportGguf({ model: m.dir }, out), (e: Error & { code?: string }) => e.code === "gguf_unsupported_config" && msg.test(e.message), what);
    assert.ok(!existsSync(out), what);
  }
  // The CLI says it as an error with the code, exit 2.
  const m = await model({ ...configs.qwen3, attention_bias: true });
  const r = await runCli(["export", "--model", m.dir, "--gguf", join(tmp.dir, "cli-refused.gguf")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error\[gguf_unsupported_config\] llama.cpp cannot run this model as trained/);
});

test("a tokenizer llama.cpp would split differently is refused (gguf_pretokenizer_unknown)", async () => {
  const tj = { ...bl.tokenizerJson, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: "\\s+|\\w+" }, behavior: "Isolated", invert: false }, { type: "ByteLevel", add_prefix_space: false, use_regex: false }] } };
  const m = await model(configs.qwen2, { ...bl, tokenizerJson: tj });
  const out = join(tmp.dir, "pretok.gguf");
  await assert.rejects(exportGguf({ model: m.dir }, out), (e: Error & { code?: string }) => e.code === "gguf_pretokenizer_unknown" && /hash [0-9a-f]{64}/.test(e.message));
  assert.ok(!existsSync(out));
});

test("disk full while writing a GGUF: disk_full, no partial file and no temporary file", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const mnt = join(tmp.dir, "small");
  mkdirSync(mnt);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt], { stdio: "ignore" });
  } catch {
    process.stderr.write("\n*** SKIPPING disk-full test: cannot mount a small tmpfs here (needs root) ***\n");
    return t.skip("cannot mount a tmpfs (not root)");
  }
  try {
    const r = await runCli(["export", "--model", stories, "--gguf", join(mnt, "stories.gguf"), "--dtype", "f32"]); // about 1 MB
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /error\[disk_full\]/);
    assert.deepEqual(readdirSync(mnt), []);
  } finally {
    execFileSync("umount", [mnt]);
  }
});
