/**
 * The plain-JS decoder and the PEFT reader/merge against the PyTorch reference fixtures: base logits,
 * LoRA logits (adapter read from its PEFT folder and merged), and greedy decoding of stories260K.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../../src/engine/io/model.js";
import { readSafetensors } from "../../src/engine/io/safetensors.js";
import { readPeftAdapter } from "../../src/engine/io/peft.js";
import { mergeLora } from "../../src/engine/models/lora.js";
import { JsDecoder } from "../../src/engine/generate/js-decoder.js";
import { argmax } from "../../src/engine/generate/sampling.js";
import { sharedFixture } from "../helpers/fixtures.js";
import { relError } from "./compare.js";

const dir = fileURLToPath(new URL("../fixtures/reference/", import.meta.url));
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));

for (const m of manifest.models) {
  test(`js decoder matches PyTorch logits, base and LoRA-merged: ${m.name}`, async () => {
    const model = await loadModel(join(dir, m.modelDir));
    const ref = (await readSafetensors(join(dir, m.logitsFile))).tensors.get("logits")!;
    const refLora = (await readSafetensors(join(dir, m.lora.logitsFile))).tensors.get("logits")!;
    const adapter = await readPeftAdapter(join(dir, m.lora.adapterDir), { config: model.config, baseModel: m.name });
    assert.equal(adapter.scalings.size, model.config.numLayers * m.lora.targets.length);
    for (const s of adapter.scalings.values()) assert.ok(Math.abs(s - m.lora.scaling) < 1e-12);
    const base = new JsDecoder(model.config, model.weights);
    const merged = new JsDecoder(model.config, mergeLora(model.config, model.weights, adapter));
    const V = model.config.vocabSize;
    const T = m.inputIds[0].length;
    m.inputIds.forEach((ids: number[], b: number) => {
      const ours = base.allLogits(ids);
      const oursLora = merged.allLogits(ids);
      for (let t = 0; t < T; t++) {
        const off = (b * T + t) * V;
        assert.ok(relError(ours[t], ref.data.subarray(off, off + V)) < 1e-4, `base logits b=${b} t=${t}`);
        assert.ok(relError(oursLora[t], refLora.data.subarray(off, off + V)) < 1e-4, `lora logits b=${b} t=${t}`);
      }
    });
    // The base weights were not modified by the merge.
    const again = new JsDecoder(model.config, model.weights).allLogits(m.inputIds[0]);
    assert.ok(relError(again[T - 1], ref.data.subarray((T - 1) * V, T * V)) < 1e-4);
  });
}

for (const m of manifest.models.filter((x: { greedy?: unknown }) => x.greedy)) {
  test(`js decoder: ${m.name} greedy decoding matches PyTorch token for token`, async () => {
    const model = await loadModel(join(dir, m.modelDir));
    const dec = new JsDecoder(model.config, model.weights);
    const { logits, batch } = await dec.start([m.greedy.promptIds]);
    const out: number[] = [];
    let l = logits[0];
    while (out.length < m.greedy.tokens.length) {
      out.push(argmax(l));
      l = (await batch.next([out[out.length - 1]]))[0];
    }
    assert.deepEqual(out, m.greedy.tokens);
  });
}

test("js decoder: stories260K greedy from BOS matches PyTorch token for token", { skip: !sharedFixture("models", "stories260K") }, async () => {
  const model = await loadModel(sharedFixture("models", "stories260K")!);
  const dec = new JsDecoder(model.config, model.weights);
  const { logits, batch } = await dec.start([manifest.greedy.promptIds]);
  const out: number[] = [];
  let l = logits[0];
  while (out.length < manifest.greedy.tokens.length) {
    out.push(argmax(l));
    l = (await batch.next([out[out.length - 1]]))[0];
  }
  assert.deepEqual(out, manifest.greedy.tokens);
});
