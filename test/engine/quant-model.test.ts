/** Training and inference graphs on a quantized frozen base against float32 graphs on the dequantized weights. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInferenceModel, createTrainStep, loraParamShapes, type LoraSpec, type TrainBatch } from "../../src/engine/models/causal-lm.js";
import { dequantize } from "../../src/engine/quant/blockwise.js";
import { parseBaseBits, quantizedWeightNames, quantizeWeights } from "../../src/engine/quant/base.js";
import { isTunekitError } from "../../src/util/errors.js";
import type { ModelConfig, Tensor } from "../../src/engine/types.js";
import { randomParams, tinyConfig, tinyWeights } from "./tiny-model.js";
import { rng } from "./gradcheck.js";
import { relError } from "./compare.js";

const SPEC: LoraSpec = { r: 4, alpha: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"] };
// Every linear's sides are multiples of the 32-column block.
const CONFIG = { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 50 };

const BATCH: TrainBatch = {
  batchSize: 2,
  seqLen: 6,
  inputIds: [1, 5, 9, 3, 8, 2, 4, 4, 7, 30, 36, 2],
  targets: [5, 9, 3, 8, 2, 6, 4, 7, 30, 36, 2, 11],
  lossWeights: [1, 1, 1, 1, 0, 1, 1, 1, 1, 0.5, 1, 1],
  segmentIds: [1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1],
};

/**
 * Linear weights every 32-block of which (along rows and along columns) spans the same integer grid
 * k * 0.04, k in [-7, 8], so W and W^T quantize without error to the same values in 4 and in 8 bits:
 * the quantized graph must then reproduce the float graph up to summation order.
 */
function gridWeights(c: ModelConfig): Map<string, Tensor> {
  const w = tinyWeights(c, 9);
  const r = rng(21);
  for (const name of quantizedWeightNames(c)) {
    const t = w.get(name)!;
    const [rows, cols] = t.shape;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const m = (i + j) % 16;
        const k = m === 0 ? -7 : m === 1 ? 8 : Math.floor(r() * 16) - 7;
        t.data[i * cols + j] = k * 0.04;
      }
    }
  }
  return w;
}

function dequantized(weights: Map<string, Tensor>): Map<string, Tensor> {
  return new Map([...weights].map(([n, t]) => [n, t.quantized ? { shape: t.shape, data: dequantize(t.quantized.w) } : t]));
}

for (const bits of [4, 8] as const) {
  test(`${bits}-bit base: the training step's loss and LoRA gradients equal a float32 step on the dequantized weights`, async () => {
    const c = tinyConfig(CONFIG);
    const quant = quantizeWeights(c, gridWeights(c), bits, true);
    const ref = dequantized(quant);
    // The grid is exact: dequantized W equals the original grid values.
    const name = [...quantizedWeightNames(c)][0];
    assert.ok(relError(ref.get(name)!.data, gridWeights(c).get(name)!.data) < 1e-6);
    const params = randomParams(loraParamShapes(c, SPEC), 5, 0.3);
    const q = await createTrainStep(c, quant, SPEC, { threads: 1, quantizedAccuracyLevel: 0 });
    const f = await createTrainStep(c, ref, SPEC, { threads: 1 });
    const a = await q.run(BATCH, params);
    const b = await f.run(BATCH, params);
    assert.ok(Math.abs(a.lossSum - b.lossSum) < 1e-5 * Math.abs(b.lossSum), `loss ${a.lossSum} vs ${b.lossSum}`);
    for (const [n, gq] of a.grads) assert.ok(relError(gq, b.grads.get(n)!) < 1e-4, `${n}: ${relError(gq, b.grads.get(n)!)}`);
    const ea = await q.evalLoss(BATCH, params);
    const eb = await f.evalLoss(BATCH, params);
    assert.ok(Math.abs(ea.lossSum - eb.lossSum) < 1e-5 * Math.abs(eb.lossSum));
    // The default int8 compute (accuracy level 4) stays close.
    const q4 = await createTrainStep(c, quant, SPEC, { threads: 1 });
    const d = await q4.run(BATCH, params);
    assert.ok(Math.abs(d.lossSum - b.lossSum) < 0.01 * Math.abs(b.lossSum), `int8 compute loss ${d.lossSum} vs ${b.lossSum}`);
    for (const [n, gq] of d.grads) assert.ok(relError(gq, b.grads.get(n)!) < 0.1, `int8 compute ${n}: ${relError(gq, b.grads.get(n)!)}`);
    for (const s of [q, f, q4]) await s.dispose();
  });

  test(`${bits}-bit base: inference logits equal float32 inference on the dequantized weights`, async () => {
    const c = tinyConfig(CONFIG);
    const quant = quantizeWeights(c, tinyWeights(c, 4), bits, false);
    assert.equal([...quant.values()].filter((t) => t.quantized?.wt).length, 0, "inference keeps no transposed copy");
    const q = await createInferenceModel(c, quant, { threads: 1, quantizedAccuracyLevel: 0 });
    const f = await createInferenceModel(c, dequantized(quant), { threads: 1 });
    const rows = [[1, 5, 9, 3], [2, 8, 8, 40]];
    assert.ok(relError(await q.allLogits(rows), await f.allLogits(rows)) < 1e-5);
    const pq = await q.prefill(rows);
    const pf = await f.prefill(rows);
    const dq = await q.decode(pq.cache, [7, 7]);
    const df = await f.decode(pf.cache, [7, 7]);
    assert.ok(relError(dq.logits, df.logits) < 1e-5);
    await q.dispose();
    await f.dispose();
  });
}

test("a step that takes over the quantized codes drops them from the weights and computes what it did with them", async () => {
  const c = tinyConfig(CONFIG);
  const params = randomParams(loraParamShapes(c, SPEC), 5, 0.3);
  const kept = await createTrainStep(c, quantizeWeights(c, gridWeights(c), 4, true), SPEC, { threads: 1 });
  const before = await kept.run(BATCH, params);
  const beforeEval = await kept.evalLoss(BATCH, params);
  for (const evalLoss of [true, false]) {
    const weights = quantizeWeights(c, gridWeights(c), 4, true);
    const step = await createTrainStep(c, weights, SPEC, { threads: 1, handOverQuantizedCodes: { evalLoss }, gradientCheckpointing: !evalLoss });
    const names = [...quantizedWeightNames(c)];
    assert.ok(names.every((n) => weights.get(n)!.released && !weights.get(n)!.quantized), "every quantized weight is released");
    const after = await step.run(BATCH, params);
    assert.equal(after.lossSum, before.lossSum);
    for (const [n, g] of after.grads) assert.ok(relError(g, before.grads.get(n)!) < 1e-6, `${n}: ${relError(g, before.grads.get(n)!)}`);
    if (evalLoss) assert.equal((await step.evalLoss(BATCH, params)).lossSum, beforeEval.lossSum);
    // Without an eval session built up front, nothing can be rebuilt from the released weights.
    else await assert.rejects(() => step.evalLoss(BATCH, params), /handed to ONNX Runtime already/);
    await step.dispose();
  }
  await kept.dispose();
});

test("--base-bits takes 4, 8 or 32; anything else is a clear error", () => {
  assert.equal(parseBaseBits("4"), 4);
  assert.equal(parseBaseBits(8), 8);
  assert.equal(parseBaseBits("32"), undefined);
  assert.equal(parseBaseBits(undefined), undefined);
  for (const bad of ["3", "16", "four", 2]) {
    assert.throws(() => parseBaseBits(bad), (e: unknown) => isTunekitError(e) && e.code === "invalid_base_bits");
  }
});
