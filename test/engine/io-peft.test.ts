import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { readPeftAdapter, writePeftAdapter } from "../../src/engine/io/peft.js";
import { loraParamShapes, mergeLora, parseLoraTensorName } from "../../src/engine/models/lora.js";
import { readSafetensors, writeSafetensors } from "../../src/engine/io/safetensors.js";
import { TunekitError } from "../../src/util/errors.js";
import { tempDir } from "../helpers/fixtures.js";

const config = parseModelConfig({
  architectures: ["LlamaForCausalLM"],
  vocab_size: 16,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
});
const spec = { r: 2, alpha: 4, dropout: 0.05, rslora: false, targets: ["q", "v", "down"] };

function params(): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  let k = 0;
  for (const { name, shape } of loraParamShapes(config, spec)) m.set(name, Float32Array.from({ length: shape[0] * shape[1] }, () => Math.cos(k++)));
  return m;
}

const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof TunekitError && e.code === code && (!re || re.test(e.message));

test("peft: writes PEFT names, shapes and config; reads them back", async () => {
  const t = tempDir();
  try {
    const p = params();
    await writePeftAdapter(t.dir, { config, spec, params: p, baseModel: "acme/tiny" });
    const cfg = JSON.parse(readFileSync(join(t.dir, "adapter_config.json"), "utf8"));
    assert.equal(cfg.peft_type, "LORA");
    assert.equal(cfg.task_type, "CAUSAL_LM");
    assert.equal(cfg.r, 2);
    assert.equal(cfg.lora_alpha, 4);
    assert.equal(cfg.bias, "none");
    assert.equal(cfg.fan_in_fan_out, false);
    assert.equal(cfg.use_rslora, false);
    assert.deepEqual(cfg.target_modules, ["q_proj", "v_proj", "down_proj"]);
    assert.equal(cfg.base_model_name_or_path, "acme/tiny");
    const { tensors } = await readSafetensors(join(t.dir, "adapter_model.safetensors"));
    assert.deepEqual(tensors.get("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")!.shape, [2, 8]);
    assert.deepEqual(tensors.get("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight")!.shape, [4, 2]);
    assert.deepEqual(tensors.get("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")!.shape, [2, 12]);
    assert.equal(tensors.size, 2 * 3 * 2);
    const a = await readPeftAdapter(t.dir, { config, baseModel: "/models/tiny" });
    assert.equal(a.scalings.get("layers.0.self_attn.q_proj"), 2);
    assert.deepEqual(a.targetModules, ["q_proj", "v_proj", "down_proj"]);
    for (const [name, data] of p) assert.deepEqual([...a.params.get(name)!.data], [...data]);
  } finally {
    t.cleanup();
  }
});

test("peft: reads names other tools write; merge adds scaling * B A", async () => {
  const parsed = (name: string) => {
    const p = parseLoraTensorName(config, name);
    return p && { layer: p.layer, module: p.module.peft, ab: p.ab, param: p.param };
  };
  assert.deepEqual(parsed("base_model.model.model.layers.3.mlp.up_proj.lora_B.weight"), { layer: 3, module: "up_proj", ab: "B", param: "layers.3.mlp.up_proj.lora_B" });
  assert.deepEqual(parsed("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"), { layer: 0, module: "q_proj", ab: "A", param: "layers.0.self_attn.q_proj.lora_A" });
  assert.deepEqual(parsed("base_model.model.layers.1.self_attn.k_proj.lora_A"), { layer: 1, module: "k_proj", ab: "A", param: "layers.1.self_attn.k_proj.lora_A" });
  assert.equal(parsed("base_model.model.model.embed_tokens.weight"), undefined);
  assert.equal(parsed("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight"), undefined, "a module under the wrong parent is not ours");
  const t = tempDir();
  try {
    // rsLoRA adapter with a ".default" name variant and no ".weight".
    const A = Float32Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // [2, 8]
    const B = Float32Array.from({ length: 8 * 2 }, (_, i) => (i % 2 === 0 ? 1 : 0.5)); // [8, 2]
    await writeSafetensors(join(t.dir, "adapter_model.safetensors"), [
      { name: "base_model.model.model.layers.1.self_attn.o_proj.lora_A.default", shape: [2, 8], data: A },
      { name: "base_model.model.model.layers.1.self_attn.o_proj.lora_B.default", shape: [8, 2], data: B },
    ]);
    writeFileSync(join(t.dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 4, use_rslora: true, target_modules: ["o_proj"] }));
    const a = await readPeftAdapter(t.dir, { config });
    const s = 4 / Math.sqrt(2);
    assert.ok(Math.abs(a.scalings.get("layers.1.self_attn.o_proj")! - s) < 1e-12);
    const W = new Float32Array(64);
    const weights = new Map([["model.layers.1.self_attn.o_proj.weight", { shape: [8, 8], data: W }]]);
    const merged = mergeLora(config, weights, a).get("model.layers.1.self_attn.o_proj.weight")!;
    assert.equal(W[0], 0, "base untouched");
    // (B A)[i][j] = B[i][0] A[0][j] + B[i][1] A[1][j]: column 0 gets 1, column 1 gets 0.5.
    for (let i = 0; i < 8; i++) {
      assert.ok(Math.abs(merged.data[i * 8] - s) < 1e-6);
      assert.ok(Math.abs(merged.data[i * 8 + 1] - 0.5 * s) < 1e-6);
      assert.equal(merged.data[i * 8 + 2], 0);
    }
  } finally {
    t.cleanup();
  }
});

test("peft: an adapter for a different base, or a broken one, is refused clearly", async () => {
  const t = tempDir();
  try {
    await writePeftAdapter(join(t.dir, "a"), { config, spec, params: params(), baseModel: "acme/tiny" });
    const bigger = parseModelConfig({ ...config.raw, hidden_size: 16 });
    await assert.rejects(readPeftAdapter(join(t.dir, "a"), { config: bigger }), isCode("adapter_base_mismatch", /q_proj/));
    const fewer = parseModelConfig({ ...config.raw, num_hidden_layers: 1 });
    await assert.rejects(readPeftAdapter(join(t.dir, "a"), { config: fewer }), isCode("adapter_base_mismatch", /only 1 layers/));
    await assert.rejects(readPeftAdapter(join(t.dir, "a"), { config, baseModel: "other/model" }), isCode("adapter_base_mismatch", /acme\/tiny/));
    await readPeftAdapter(join(t.dir, "a"), { config, baseModel: "other/model", ignoreBaseName: true });
    // The same model named differently: a local folder, a hub revision, its snapshot in the HF cache.
    await readPeftAdapter(join(t.dir, "a"), { config, baseModel: "/models/tiny/" });
    await readPeftAdapter(join(t.dir, "a"), { config, baseModel: "acme/tiny@v2" });
    await readPeftAdapter(join(t.dir, "a"), { config, baseModel: `/root/.cache/huggingface/hub/models--acme--tiny/snapshots/${"a".repeat(40)}` });
    mkdirSync(join(t.dir, "empty"));
    await assert.rejects(readPeftAdapter(join(t.dir, "empty"), { config }), isCode("invalid_adapter", /adapter_config\.json/));
    writeFileSync(join(t.dir, "empty", "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 4 }));
    writeFileSync(join(t.dir, "empty", "adapter_model.bin"), "x");
    await assert.rejects(readPeftAdapter(join(t.dir, "empty"), { config }), isCode("invalid_adapter", /adapter_model\.bin/));
    writeFileSync(join(t.dir, "empty", "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, use_dora: true }));
    await assert.rejects(readPeftAdapter(join(t.dir, "empty"), { config }), isCode("invalid_adapter", /DoRA/));
    writeFileSync(join(t.dir, "empty", "adapter_config.json"), JSON.stringify({ peft_type: "PREFIX_TUNING" }));
    await assert.rejects(readPeftAdapter(join(t.dir, "empty"), { config }), isCode("invalid_adapter", /PREFIX_TUNING/));
  } finally {
    t.cleanup();
  }
});
