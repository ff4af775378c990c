/**
 * The committed PyTorch fixtures (scripts/reference/decoder_reference.py) are consistent with our
 * loaders: every reference model loads and validates, logits/gradients have the documented shapes, and
 * the manifest's numbers are finite. The engine and JS-decoder tests compare against the same files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../src/engine/io/model.js";
import { readSafetensors } from "../../src/engine/io/safetensors.js";

const dir = fileURLToPath(new URL("../fixtures/reference/", import.meta.url));
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));

test("reference fixtures: models load, logits and LoRA gradients have the documented shapes", async () => {
  const families = new Set<string>();
  assert.ok(manifest.models.length >= 8);
  for (const m of manifest.models) {
    const model = await loadModel(join(dir, m.modelDir));
    families.add(model.config.family);
    const B = m.inputIds.length;
    const T = m.inputIds[0].length;
    const V = model.config.vocabSize;
    const logits = (await readSafetensors(join(dir, m.logitsFile))).tensors.get("logits")!;
    assert.deepEqual(logits.shape, [B, T, V], m.name);
    assert.ok(logits.data.every(Number.isFinite));
    const lora = (await readSafetensors(join(dir, m.lora.logitsFile))).tensors.get("logits")!;
    assert.notDeepEqual([...lora.data.slice(0, 10)], [...logits.data.slice(0, 10)], "LoRA changes the logits");
    const grads = (await readSafetensors(join(dir, m.lora.gradsFile))).tensors;
    const adapter = (await readSafetensors(join(dir, m.lora.adapterDir, "adapter_model.safetensors"))).tensors;
    assert.equal(grads.size, model.config.numLayers * m.lora.targets.length * 2);
    for (const [name, g] of grads) {
      assert.deepEqual(g.shape, adapter.get(name)!.shape, name);
      assert.ok(g.data.some((v) => v !== 0), `${name} gradient is nonzero`);
    }
    assert.ok(Number.isFinite(m.lora.lossSum) && m.lora.lossSum > 0);
  }
  assert.deepEqual([...families].sort(), ["gemma3", "llama", "mistral", "qwen2", "qwen3", "smollm3"], "every family has a reference model");
});

test("reference fixtures: the multimodal Gemma 3 checkpoint loads its text model and leaves the vision tower out, saying so", async () => {
  const m = manifest.models.find((x: { name: string }) => x.name === "gemma3_multimodal_tied");
  const model = await loadModel(join(dir, m.modelDir));
  assert.ok(model.weights.has("model.layers.0.self_attn.q_norm.weight"), "text tensors under our names");
  assert.ok(![...model.weights.keys()].some((k) => k.includes("vision")));
  assert.match(model.notes.join("\n"), /vision tower \(2 tensors\) is not loaded/);
  assert.equal(model.config.raw.model_type, "gemma3_text", "merged export writes the text model's config");
  assert.deepEqual(model.config.raw.architectures, ["Gemma3ForCausalLM"]);
});

test("reference fixtures: the stories260K greedy tokens decode to the known story", () => {
  const g = manifest.greedy;
  assert.ok(g, "greedy fixture present (regenerate the fixtures with stories260K available)");
  assert.equal(g.tokens.length, 64);
  assert.match(g.text, /^Once upon a time, there was a little girl named Lily\./);
});
