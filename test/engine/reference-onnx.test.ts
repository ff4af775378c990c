/**
 * The ONNX graphs of every family against the committed PyTorch reference (scripts/reference/):
 * logits, LoRA logits (through mergeLora), the weighted loss sum and its LoRA gradients, and the
 * KV-cached inference path against the all-positions logits; greedy decoding token for token.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../../src/engine/io/model.js";
import { readSafetensors } from "../../src/engine/io/safetensors.js";
import { createInferenceModel, createTrainStep } from "../../src/engine/models/causal-lm.js";
import { loraParamShapes, loraWeights, mergeLora, parseLoraTensorName, type LoraSpec } from "../../src/engine/models/lora.js";
import { projectRoot } from "../helpers/cli.js";
import { sharedFixture } from "../helpers/fixtures.js";
import { relError } from "./compare.js";

const refDir = join(projectRoot, "test", "fixtures", "reference");
const manifest = JSON.parse(readFileSync(join(refDir, "manifest.json"), "utf8"));

/** max |a - b| / max |b|: the error relative to the reference's scale. */
for (const m of manifest.models) {
  test(`${m.name}: logits, LoRA logits, loss and LoRA gradients match PyTorch`, async () => {
    const { config, weights } = await loadModel(join(refDir, m.modelDir));
    const ids: number[][] = m.inputIds;
    const B = ids.length;
    const T = ids[0].length;

    const model = await createInferenceModel(config, weights, { threads: 1 });
    const logits = await model.allLogits(ids);
    const refLogits = (await readSafetensors(join(refDir, m.logitsFile))).tensors.get("logits")!;
    assert.deepEqual(refLogits.shape, [B, T, config.vocabSize]);
    const e1 = relError(logits, refLogits.data);
    assert.ok(e1 <= 1e-4, `logits rel error ${e1}`);

    // KV cache: prefill the first 5 tokens, then decode the rest one by one.
    const V = config.vocabSize;
    let { logits: last, cache } = await model.prefill(ids.map((r) => r.slice(0, 5)));
    for (let t = 5; t <= T; t++) {
      for (let b = 0; b < B; b++) {
        const ref = refLogits.data.subarray((b * T + t - 1) * V, (b * T + t) * V);
        const e = relError(last.subarray(b * V, (b + 1) * V), ref);
        assert.ok(e <= 1e-4, `cached logits at t=${t - 1} row ${b}: rel error ${e}`);
      }
      if (t < T) ({ logits: last, cache } = await model.decode(cache, ids.map((r) => r[t])));
    }
    await model.dispose();

    const lora = m.lora;
    // The fixture names targets by their PEFT module names (q_proj, ...), which specs accept too.
    const spec: LoraSpec = { r: lora.r, alpha: lora.alpha, rslora: lora.useRslora, targets: lora.targets };
    const adapter = (await readSafetensors(join(refDir, lora.adapterDir, "adapter_model.safetensors"))).tensors;
    const params = new Map<string, Float32Array>();
    for (const [k, v] of adapter) params.set(parseLoraTensorName(config, k)!.param, v.data);
    const shapes = loraParamShapes(config, spec);
    assert.equal(shapes.length, params.size, "adapter tensor count");
    for (const s of shapes) assert.equal(params.get(s.name)?.length, s.shape[0] * s.shape[1], s.name);

    const merged = await createInferenceModel(config, mergeLora(config, weights, loraWeights(config, spec, params)), { threads: 1 });
    const loraLogits = await merged.allLogits(ids);
    await merged.dispose();
    const refLora = (await readSafetensors(join(refDir, lora.logitsFile))).tensors.get("logits")!;
    const e2 = relError(loraLogits, refLora.data);
    assert.ok(e2 <= 1e-4, `LoRA logits rel error ${e2}`);

    const step = await createTrainStep(config, weights, spec, { threads: 1, vocabChunk: 24 });
    const batch = {
      batchSize: B,
      seqLen: T,
      inputIds: ids.flat(),
      targets: (lora.labels as number[][]).flat(),
      lossWeights: (lora.weights as number[][]).flat(),
    };
    const res = await step.run(batch, params);
    assert.ok(Math.abs(res.lossSum - lora.lossSum) / lora.lossSum <= 1e-5, `lossSum ${res.lossSum} vs ${lora.lossSum}`);
    assert.equal(res.tokenCount, lora.weightSum);
    const refGrads = (await readSafetensors(join(refDir, lora.gradsFile))).tensors;
    for (const [k, v] of refGrads) {
      const name = parseLoraTensorName(config, k)!.param;
      const got = res.grads.get(name);
      assert.ok(got, `no gradient for ${name}`);
      const e = relError(got, v.data);
      assert.ok(e <= 1e-4, `grad ${name} rel error ${e}`);
    }
    const ev = await step.evalLoss(batch, params);
    assert.ok(Math.abs(ev.lossSum - lora.lossSum) / lora.lossSum <= 1e-5, `eval lossSum ${ev.lossSum}`);
    await step.dispose();
  });
}

for (const m of manifest.models.filter((x: { greedy?: unknown }) => x.greedy)) {
  test(`${m.name}: greedy decoding with the KV cache matches PyTorch token for token`, async () => {
    const { config, weights } = await loadModel(join(refDir, m.modelDir));
    const model = await createInferenceModel(config, weights, { threads: 1 });
    let { logits, cache } = await model.prefill([m.greedy.promptIds]);
    const out: number[] = [];
    const argmax = (l: Float32Array) => l.reduce((best, v, i, a) => (v > a[best] ? i : best), 0);
    for (let i = 0; i < m.greedy.tokens.length; i++) {
      out.push(argmax(logits));
      ({ logits, cache } = await model.decode(cache, [out[i]]));
    }
    await model.dispose();
    assert.deepEqual(out, m.greedy.tokens);
  });
}

test("stories260K: greedy decoding from BOS matches PyTorch token for token", async (t) => {
  const dir = sharedFixture("models", "stories260K");
  if (!dir) return t.skip("shared fixture models/stories260K missing");
  const g = manifest.greedy;
  const { config, weights } = await loadModel(dir);
  const model = await createInferenceModel(config, weights, { threads: 1 });
  let { logits, cache } = await model.prefill([g.promptIds]);
  const out: number[] = [];
  const argmax = (l: Float32Array) => l.reduce((best, v, i, a) => (v > a[best] ? i : best), 0);
  for (let i = 0; i < g.maxNewTokens; i++) {
    const next = argmax(logits);
    out.push(next);
    ({ logits, cache } = await model.decode(cache, [next]));
  }
  await model.dispose();
  assert.deepEqual(out, g.tokens);
});
