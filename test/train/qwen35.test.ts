/**
 * Qwen3.5 end to end on a tiny random hybrid model (Gated DeltaNet + gated attention layers) with the
 * real ONNX engine: LoRA on attention, MLP and Gated DeltaNet projections learns a reply format, the
 * PEFT adapter carries PEFT's module names and reads back, the merged export loads with the adapter's
 * logits; packed rows are refused with `unsupported_packing`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/engine/train/defaults.js";
import { train, type TrainRunEvent } from "../../src/engine/train/train-run.js";
import { readSafetensors } from "../../src/engine/io/safetensors.js";
import { isTunekitError } from "../../src/util/errors.js";
import { loadModel } from "../../src/engine/io/model.js";
import { readPeftAdapter } from "../../src/engine/io/peft.js";
import { mergeLora } from "../../src/engine/models/lora.js";
import { createInferenceModel } from "../../src/engine/models/causal-lm.js";
import { exportMerged } from "../../src/export/merged.js";
import { tempDir } from "../helpers/fixtures.js";
import { ALPHABET, BOS, EOS, formatDataset, tinyBackend, writeJsonl, writeTinyModel } from "./helpers/tiny.js";

const tmp = tempDir("tunekit-train-qwen35-");
test.after(() => tmp.cleanup());

const QWEN35_TINY = {
  architectures: ["Qwen3_5ForCausalLM"],
  model_type: "qwen3_5_text",
  vocab_size: ALPHABET.length + 3,
  hidden_size: 48,
  intermediate_size: 96,
  num_hidden_layers: 4,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 16,
  linear_num_key_heads: 2,
  linear_num_value_heads: 4,
  linear_key_head_dim: 8,
  linear_value_head_dim: 8,
  linear_conv_kernel_dim: 4,
  full_attention_interval: 4,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_parameters: { rope_type: "default", rope_theta: 10000, partial_rotary_factor: 0.25 },
  tie_word_embeddings: true,
  bos_token_id: BOS,
  eos_token_id: EOS,
  torch_dtype: "float32",
};

test("qwen3.5: a tiny hybrid model learns a reply format with LoRA on attention, MLP and Gated DeltaNet projections", async () => {
  const model = await writeTinyModel(join(tmp.dir, "model"), 3, QWEN35_TINY);
  const data = writeJsonl(join(tmp.dir, "format.jsonl"), formatDataset(48, 1));
  const out = join(tmp.dir, "run");
  const events: TrainRunEvent[] = [];
  const r = await train(
    { data, model, outDir: out, options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 8, lr: 1e-2, batchSize: 8, warmup: 4, lora: { ...DEFAULT_TRAIN_OPTIONS.lora, r: 4, targets: "all-linear" } } },
    { onEvent: (e) => events.push(e) },
    tinyBackend(),
  );
  assert.equal(r.done.reason, "completed");
  const steps = events.filter((e) => e.type === "step") as Extract<TrainRunEvent, { type: "step" }>[];
  assert.ok(steps.at(-1)!.loss < steps[0].loss * 0.6, `loss ${steps[0].loss} -> ${steps.at(-1)!.loss}`);
  const cfg = JSON.parse(readFileSync(join(out, "adapter", "adapter_config.json"), "utf8"));
  assert.deepEqual(cfg.target_modules, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "in_proj_qkv", "in_proj_z", "out_proj"]);
  const names = [...(await readSafetensors(join(out, "adapter", "adapter_model.safetensors"))).tensors.keys()];
  assert.ok(names.includes("base_model.model.model.layers.0.linear_attn.in_proj_qkv.lora_A.weight"));
  assert.ok(names.includes("base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight"));
  assert.ok(!names.some((n) => /layers\.0\.self_attn|layers\.3\.linear_attn/.test(n)), "each layer adapts only the projections it has");

  // The PEFT adapter reads back; the merged export loads as a Qwen3.5 model with base + adapter's logits.
  const base = await loadModel(model);
  const adapter = await readPeftAdapter(join(out, "adapter"), { config: base.config });
  const tuned = mergeLora(base.config, base.weights, adapter);
  const mergedDir = join(tmp.dir, "merged");
  await exportMerged(out, mergedDir);
  const merged = await loadModel(mergedDir);
  assert.equal(merged.config.family, "qwen3_5");
  const ids = [[BOS, 5, 9, 14, 20, 7, 3, 11]];
  const a = await createInferenceModel(base.config, tuned, { threads: 1 });
  const b = await createInferenceModel(merged.config, merged.weights, { threads: 1 });
  const la = await a.allLogits(ids);
  const lb = await b.allLogits(ids);
  const c = await createInferenceModel(base.config, base.weights, { threads: 1 });
  const lbase = await c.allLogits(ids);
  for (const m of [a, b, c]) await m.dispose();
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < la.length; i++) {
    diff = Math.max(diff, Math.abs(la[i] - lb[i]));
    moved = Math.max(moved, Math.abs(la[i] - lbase[i]));
  }
  assert.ok(diff < 1e-5, `merged export logits differ by ${diff}`);
  assert.ok(moved > 1e-2, "the adapter changes the logits");
});

test("qwen3.5: --packing is refused with unsupported_packing before any training", async () => {
  const model = await writeTinyModel(join(tmp.dir, "model-p"), 3, QWEN35_TINY);
  const data = writeJsonl(join(tmp.dir, "p.jsonl"), formatDataset(8, 2));
  await assert.rejects(
    train({ data, model, outDir: join(tmp.dir, "run-p"), options: { ...DEFAULT_TRAIN_OPTIONS, packing: true } }, { onEvent: () => {} }, tinyBackend()),
    (e: unknown) => isTunekitError(e) && e.code === "unsupported_packing",
  );
});
