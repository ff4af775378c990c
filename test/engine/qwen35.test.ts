/**
 * Qwen3.5 (hybrid Gated DeltaNet + gated full attention) against the committed PyTorch reference
 * (scripts/reference/qwen35_reference.py): logits, LoRA logits through mergeLora, the weighted loss
 * sum and every LoRA gradient, on checkpoints whose 67-70 tokens span two chunks of the recurrence.
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
import { relError } from "./compare.js";

const refDir = join(projectRoot, "test", "fixtures", "reference-qwen35");
const manifest = JSON.parse(readFileSync(join(refDir, "manifest.json"), "utf8"));

/** max |a - b| / max |b|: the error relative to the reference's scale. */
for (const m of manifest.models) {
  test(`qwen3.5 ${m.name}: logits, LoRA logits, loss and LoRA gradients match PyTorch`, async () => {
    const { config, weights, notes } = await loadModel(join(refDir, m.modelDir));
    assert.equal(config.family, "qwen3_5");
    if (m.name.includes("multimodal")) {
      assert.match(notes.join("\n"), /vision tower \(1 tensors\) is not loaded/);
      assert.match(notes.join("\n"), /multi-token-prediction head \(1 tensors\) is not loaded/);
    }
    const ids: number[][] = m.inputIds;
    const B = ids.length;
    const T = ids[0].length;
    const model = await createInferenceModel(config, weights, { threads: 1 });
    const logits = await model.allLogits(ids);
    await model.dispose();
    const refLogits = (await readSafetensors(join(refDir, m.logitsFile))).tensors.get("logits")!;
    assert.deepEqual(refLogits.shape, [B, T, config.vocabSize]);
    const e1 = relError(logits, refLogits.data);
    assert.ok(e1 <= 1e-4, `logits rel error ${e1}`);

    const lora = m.lora;
    const spec: LoraSpec = { r: lora.r, alpha: lora.alpha, targets: lora.targets };
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

    const step = await createTrainStep(config, weights, spec, { threads: 1, vocabChunk: 40 });
    const batch = { batchSize: B, seqLen: T, inputIds: ids.flat(), targets: (lora.labels as number[][]).flat(), lossWeights: (lora.weights as number[][]).flat() };
    const res = await step.run(batch, params);
    assert.ok(Math.abs(res.lossSum - lora.lossSum) / lora.lossSum <= 1e-5, `lossSum ${res.lossSum} vs ${lora.lossSum}`);
    const refGrads = (await readSafetensors(join(refDir, lora.gradsFile))).tensors;
    assert.equal(res.grads.size, refGrads.size);
    for (const [k, v] of refGrads) {
      const name = parseLoraTensorName(config, k)!.param;
      const got = res.grads.get(name);
      assert.ok(got, `no gradient for ${name}`);
      const e = relError(got, v.data);
      assert.ok(e <= 1e-4, `grad ${name} rel error ${e}`);
    }
    await step.dispose();
  });
}

test("qwen3.5: a packed row (two examples) is refused with unsupported_packing; padding after one example is fine", async () => {
  const m = manifest.models[0];
  const { config, weights } = await loadModel(join(refDir, m.modelDir));
  const spec: LoraSpec = { r: 2, alpha: 4, targets: ["q", "lin_qkv"] };
  const step = await createTrainStep(config, weights, spec, { threads: 1 });
  const params = new Map(loraParamShapes(config, spec).map((s) => [s.name, new Float32Array(s.shape[0] * s.shape[1]).fill(0.01)]));
  const batch = (segmentIds: number[]) => ({ batchSize: 1, seqLen: 6, inputIds: [1, 5, 6, 7, 8, 9], targets: [5, 6, 7, 8, 9, -100], lossWeights: [1, 1, 1, 1, 1, 0], segmentIds });
  const ok = await step.run(batch([1, 1, 1, 1, 0, 0]), params);
  assert.ok(Number.isFinite(ok.lossSum));
  await assert.rejects(step.run(batch([1, 1, 1, 2, 2, 2]), params), (e: unknown) => (e as { code?: string }).code === "unsupported_packing");
  await assert.rejects(step.run(batch([0, 0, 1, 1, 1, 1]), params), (e: unknown) => (e as { code?: string }).code === "unsupported_packing");
  await step.dispose();
});

for (const m of manifest.models) {
  test(`qwen3.5 ${m.name}: the state cache (prefill, then one token at a time) gives the reference logits; greedy with the cache equals PyTorch's full recompute`, async () => {
    const { config, weights } = await loadModel(join(refDir, m.modelDir));
    const ids: number[][] = m.inputIds;
    const B = ids.length;
    const T = ids[0].length;
    const V = config.vocabSize;
    const refLogits = (await readSafetensors(join(refDir, m.logitsFile))).tensors.get("logits")!;
    const model = await createInferenceModel(config, weights, { threads: 1 });
    // Rows of different lengths in one prefill (the shorter one left-padded), then decoding.
    const start = [5, 9];
    let { logits: last, cache } = await model.prefill(ids.map((r, b) => r.slice(0, start[b])));
    const pos = [...start];
    while (pos[0] <= T && pos[1] <= T) {
      for (let b = 0; b < B; b++) {
        const ref = refLogits.data.subarray((b * T + pos[b] - 1) * V, (b * T + pos[b]) * V);
        const e = relError(last.subarray(b * V, (b + 1) * V), ref);
        assert.ok(e <= 1e-4, `cached logits at t=${pos[b] - 1} row ${b}: rel error ${e}`);
      }
      if (pos[1] === T) break;
      ({ logits: last, cache } = await model.decode(cache, ids.map((r, b) => r[pos[b]])));
      pos[0]++;
      pos[1]++;
    }
    // Greedy decoding with the cache.
    let { logits, cache: c2 } = await model.prefill([m.greedy.promptIds]);
    const out: number[] = [];
    const argmax = (l: Float32Array) => l.reduce((best, v, i, a) => (v > a[best] ? i : best), 0);
    for (let i = 0; i < m.greedy.tokens.length; i++) {
      out.push(argmax(logits));
      ({ logits, cache: c2 } = await model.decode(c2, [out[i]]));
    }
    // And by recomputing the whole prefix (chunked form) at every step.
    const seq = [...m.greedy.promptIds];
    const recomputed: number[] = [];
    for (let i = 0; i < m.greedy.tokens.length; i++) {
      const all = await model.allLogits([seq]);
      const t = argmax(all.subarray((seq.length - 1) * V, seq.length * V));
      recomputed.push(t);
      seq.push(t);
    }
    await model.dispose();
    assert.deepEqual(out, m.greedy.tokens);
    assert.deepEqual(recomputed, m.greedy.tokens);
  });
}
