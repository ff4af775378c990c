/**
 * Every new family end to end through the CLI, as a user runs it, on tiny random models with
 * tokenizers in the models' own layouts and their chat templates: `tunekit train` (PEFT adapter in
 * PEFT's naming), `generate` with the adapter, `export --merged` (its logits equal base + adapter),
 * and one `eval` over all the tuned runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { loadModel } from "../../src/engine/io/model.js";
import { readPeftAdapter } from "../../src/engine/io/peft.js";
import { readSafetensors, writeSafetensors } from "../../src/engine/io/safetensors.js";
import { createInferenceModel } from "../../src/engine/models/causal-lm.js";
import { mergeLora } from "../../src/engine/models/lora.js";
import { expectedTensorShapes } from "../../src/engine/models/tensors.js";
import { Rng } from "../../src/engine/train/rng.js";
import { runCli, projectRoot } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { chatmlTokenizerFiles, gemmaStyleTokenizerFiles, type TokenizerFiles } from "../helpers/test-tokenizers.js";
import { writeJsonl } from "./helpers/tiny.js";
import type { ChatExample } from "../../src/dataset/types.js";
import { train, type TrainRunEvent } from "../../src/engine/train/train-run.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/engine/train/defaults.js";

const tmp = tempDir("tunekit-families-e2e-");
test.after(() => tmp.cleanup());

const template = (name: string) => readFileSync(join(projectRoot, "test", "fixtures", "chat-templates", name), "utf8");

interface FamilyCase {
  name: string;
  config: (vocab: number) => Record<string, unknown>;
  tokenizer: () => TokenizerFiles;
  /** The PEFT name of layer 0's q_proj lora_A. */
  peftQ: string;
}

const small = { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, torch_dtype: "float32" };

const CASES: FamilyCase[] = [
  {
    name: "qwen3",
    config: (v) => ({ architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", vocab_size: v, head_dim: 16, tie_word_embeddings: true, rope_theta: 1000000, eos_token_id: 258, ...small }),
    tokenizer: () => chatmlTokenizerFiles(template("qwen3.jinja")),
    peftQ: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
  },
  {
    name: "gemma3",
    config: (v) => ({
      architectures: ["Gemma3ForCausalLM"],
      model_type: "gemma3_text",
      vocab_size: v,
      head_dim: 8,
      layer_types: ["sliding_attention", "full_attention"],
      sliding_window: 16,
      query_pre_attn_scalar: 8,
      tie_word_embeddings: false,
      bos_token_id: 2,
      eos_token_id: 1,
      ...small,
    }),
    tokenizer: () => gemmaStyleTokenizerFiles(template("gemma3-format.jinja")),
    peftQ: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
  },
  {
    name: "gemma3-multimodal",
    config: (v) => ({
      architectures: ["Gemma3ForConditionalGeneration"],
      model_type: "gemma3",
      torch_dtype: "bfloat16",
      text_config: { model_type: "gemma3_text", vocab_size: v, head_dim: 8, sliding_window: 16, sliding_window_pattern: 2, query_pre_attn_scalar: 8, ...small },
      vision_config: { model_type: "siglip_vision_model" },
      bos_token_id: 2,
      eos_token_id: 1,
    }),
    tokenizer: () => gemmaStyleTokenizerFiles(template("gemma3-format.jinja")),
    peftQ: "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight",
  },
  {
    name: "smollm3",
    // Without a system prompt SmolLM3's template writes its long default instructions: a longer context.
    config: (v) => ({ architectures: ["SmolLM3ForCausalLM"], model_type: "smollm3", vocab_size: v, no_rope_layer_interval: 2, eos_token_id: 258, ...small, max_position_embeddings: 2048 }),
    tokenizer: () => chatmlTokenizerFiles(template("smollm3.jinja")),
    peftQ: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
  },
];

/** A tiny random model folder: config.json, model.safetensors (a multimodal one under language_model.*), tokenizer files. */
async function writeFamilyModel(dir: string, c: FamilyCase): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const tok = c.tokenizer();
  const raw = c.config(tok.size);
  const config = parseModelConfig(raw);
  const rng = new Rng(7);
  const prefix = config.checkpointPrefixes ? "language_model." : "";
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const norm = shape.length === 1 && name.includes("norm");
    for (let i = 0; i < n; i++) data[i] = norm ? (config.norm === "rms_one_plus" ? 0 : 1) + (rng.nextFloat() - 0.5) * 0.1 : (rng.nextFloat() * 2 - 1) * 0.2;
    return { name: prefix + name, shape, data };
  });
  if (prefix) tensors.push({ name: "vision_tower.vision_model.post_layernorm.weight", shape: [4], data: new Float32Array(4) });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok.tokenizerJson));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(tok.tokenizerConfig));
}

const WORDS = ["apple", "river", "stone", "cloud", "maple", "tiger", "lemon", "ocean", "piano", "robin", "candle", "meadow"];
const data: ChatExample[] = WORDS.map((w) => ({
  messages: [
    { role: "system", content: "Reply with the word in capitals." },
    { role: "user", content: `Word: ${w}` },
    { role: "assistant", content: `WORD: ${w.toUpperCase()}` },
  ],
}));

const runs: { name: string; run: string; model: string }[] = [];

for (const c of CASES) {
  test(`${c.name}: tunekit train, generate with the adapter, export --merged (same logits as base + adapter)`, async () => {
    const model = join(tmp.dir, c.name, "model");
    await writeFamilyModel(model, c);
    const file = writeJsonl(join(tmp.dir, c.name, "data.jsonl"), data);
    const run = join(tmp.dir, c.name, "run");
    const t = await runCli(["train", file, "--model", model, "-o", run, "--max-steps", "3", "--batch-size", "4", "--max-seq-len", "200", "--lora-r", "4", "--lr", "0.01", "--test-split", "0.25", "--json"]);
    assert.equal(t.code, 0, t.stderr + t.stdout);
    const events = t.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events.at(-1).type, "done");
    assert.equal(events.filter((e) => e.type === "step").length, 3);
    assert.equal(events.some((e) => e.code === "system_prompt_dropped"), false, "every template keeps the system prompt");
    assert.equal(events.some((e) => e.code === "text_model_only"), c.name === "gemma3-multimodal");
    runs.push({ name: c.name, run, model });

    // The adapter in PEFT's naming, loadable back.
    const adapterDir = join(run, "adapter");
    const cfg = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8"));
    assert.deepEqual(cfg.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
    const stored = (await readSafetensors(join(adapterDir, "adapter_model.safetensors"))).tensors;
    assert.ok(stored.has(c.peftQ), `${c.peftQ} in ${[...stored.keys()].slice(0, 3).join(", ")}`);
    const base = await loadModel(model);
    const adapter = await readPeftAdapter(adapterDir, { config: base.config, baseModel: model });
    assert.equal(adapter.params.size, stored.size);

    const g = await runCli(["generate", "--model", model, "--adapter", adapterDir, "--prompt", "Word: apple", "--max-tokens", "5", "--json"]);
    assert.equal(g.code, 0, g.stderr);
    const out = JSON.parse(g.stdout);
    assert.ok(out.completionTokens >= 1 && out.promptTokens > 5, g.stdout);
    if (c.name === "gemma3-multimodal") assert.match(g.stderr, /vision tower \(1 tensors\) is not loaded/);

    const merged = join(tmp.dir, c.name, "merged");
    const e = await runCli(["export", run, "--merged", merged]);
    assert.equal(e.code, 0, e.stderr);
    const m = await loadModel(merged);
    assert.equal(m.config.family, base.config.family);
    assert.equal(m.notes.length, 0, "the merged export is the text model alone");
    const ids = [[2, 40, 41, 42, 43, 44, 45]];
    const fromMerged = await createInferenceModel(m.config, m.weights, { threads: 1 });
    const fromAdapter = await createInferenceModel(base.config, mergeLora(base.config, base.weights, adapter), { threads: 1 });
    const plain = await createInferenceModel(base.config, base.weights, { threads: 1 });
    const a = await fromMerged.allLogits(ids);
    const b = await fromAdapter.allLogits(ids);
    const p = await plain.allLogits(ids);
    await fromMerged.dispose();
    await fromAdapter.dispose();
    await plain.dispose();
    assert.ok(p.some((v, i) => Math.abs(v - b[i]) > 1e-3), "the trained adapter changes the model");
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst < 1e-4, `merged export differs from base + adapter by ${worst}`);
  });
}

test("train warns, with the file and lines, when the model's chat template drops the system prompt", async () => {
  const dropping =
    "{% for m in messages %}{% if m.role == 'user' %}{{ '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' }}{% elif m.role == 'assistant' %}{{ '<|im_start|>assistant\\n' + m.content + '<|im_end|>\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const c: FamilyCase = { ...CASES[0], name: "qwen3-dropping", tokenizer: () => chatmlTokenizerFiles(dropping) };
  const model = join(tmp.dir, c.name, "model");
  await writeFamilyModel(model, c);
  // Lines 2 and 4 have a system prompt; 1 and 3 do not.
  const file = writeJsonl(join(tmp.dir, c.name, "data.jsonl"), data.slice(0, 4).map((ex, i) => (i % 2 === 0 ? { messages: ex.messages.slice(1) } : ex)));
  const events: TrainRunEvent[] = [];
  await train({ data: file, model, outDir: join(tmp.dir, c.name, "run"), options: { ...DEFAULT_TRAIN_OPTIONS, maxSteps: 1, batchSize: 2, maxSeqLen: 128 } }, { onEvent: (e) => events.push(e) });
  const w = events.filter((e): e is Extract<TrainRunEvent, { type: "warning" }> => e.type === "warning" && e.code === "system_prompt_dropped");
  assert.equal(w.length, 1);
  assert.match(w[0].message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: .*2 example\\(s\\) \\(lines 2, 4\\)`));
  assert.deepEqual(w[0].details, { file, lines: [2, 4] });
});

test("eval: the tuned runs of every family against held-out data, in one report", async () => {
  assert.equal(runs.length, CASES.length, "the training tests ran first");
  const report = join(tmp.dir, "eval");
  const args = ["eval", "--data", join(runs[0].run, "split", "test.jsonl"), "-o", report, "--limit", "2", "--max-tokens", "4", "--json"];
  for (const r of runs) args.push("--model", `name=${r.name},run=${r.run}`);
  const e = await runCli(args);
  assert.equal(e.code, 0, e.stderr);
  const res = JSON.parse(readFileSync(join(report, "results.json"), "utf8"));
  assert.deepEqual(
    res.models.map((x: { name: string }) => x.name),
    runs.map((r) => r.name),
  );
});
