/** Training and inference graphs on a quantized frozen base against float32 graphs on the dequantized weights. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInferenceModel, createTrainStep, loraParamShapes, type LoraSpec, type TrainBatch, type TrainStepResult } from "../../src/engine/models/causal-lm.js";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { dequantize, quantizedSize } from "../../src/engine/quant/blockwise.js";
import { alignUp, CodeFile } from "../../src/engine/quant/code-file.js";
import { parseBaseBits, quantizedWeightNames, quantizeVocabTables, quantizeWeights } from "../../src/engine/quant/base.js";
import { tensorName } from "../../src/engine/models/family.js";
import { outputEmbeddingName } from "../../src/engine/models/tensors.js";
import { isTunekitError } from "../../src/util/errors.js";
import type { ModelConfig, Tensor } from "../../src/engine/types.js";
import { randomParams, tinyConfig, tinyWeights } from "./tiny-model.js";
import { rng } from "./gradcheck.js";
import { relError } from "./compare.js";
import { tempDir } from "../helpers/fixtures.js";

const SPEC: LoraSpec = { r: 4, alpha: 8, targets: ["q", "k", "v", "o", "gate", "up", "down"] };
// The linear layers' sides are under the 128-column block (one zero-padded block); the hidden size is
// whole 32-column blocks, so training quantizes the vocabulary tables too.
const CONFIG = { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 50 };
// A hidden size of 48 is not: the vocabulary tables stay float32.
const CONFIG_48 = { ...CONFIG, hidden_size: 48, num_attention_heads: 3, num_key_value_heads: 1 };

const BATCH: TrainBatch = {
  batchSize: 2,
  seqLen: 6,
  inputIds: [1, 5, 9, 3, 8, 2, 4, 4, 7, 30, 36, 2],
  targets: [5, 9, 3, 8, 2, 6, 4, 7, 30, 36, 2, 11],
  lossWeights: [1, 1, 1, 1, 0, 1, 1, 1, 1, 0.5, 1, 1],
  segmentIds: [1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1],
};

/**
 * Linear weights and vocabulary tables every 32-block of which (along rows and along columns) spans the same integer grid
 * k * 0.04, k in [-7, 8], so W and W^T quantize without error to the same values in 4 and in 8 bits:
 * the quantized graph must then reproduce the float graph up to summation order.
 */
function gridWeights(c: ModelConfig): Map<string, Tensor> {
  const w = tinyWeights(c, 9);
  const r = rng(21);
  // The vocabulary tables too: training quantizes them (quantizeVocabTables).
  for (const name of [...quantizedWeightNames(c), tensorName(c, "embed"), outputEmbeddingName(c, (n) => w.has(n))]) {
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

/** The same step result: loss within `lossRel` of `want`'s (0: equal), every LoRA gradient within `gradRel` (relative). */
function assertSameStep(got: TrainStepResult, want: TrainStepResult, lossRel: number, gradRel: number, what = ""): void {
  if (lossRel === 0) assert.equal(got.lossSum, want.lossSum, `${what}loss`);
  else assert.ok(Math.abs(got.lossSum - want.lossSum) < lossRel * Math.abs(want.lossSum), `${what}loss ${got.lossSum} vs ${want.lossSum}`);
  for (const [n, g] of got.grads) {
    const e = relError(g, want.grads.get(n)!);
    assert.ok(e < gradRel, `${what}${n}: ${e}`);
  }
}

function dequantized(weights: Map<string, Tensor>): Map<string, Tensor> {
  return new Map([...weights].map(([n, t]) => [n, t.quantized ? { shape: t.shape, data: dequantize(t.quantized.w) } : t]));
}

for (const bits of [4, 8] as const) {
  for (const [what, config] of [["", CONFIG], [", hidden size 48 (float32 vocabulary tables)", CONFIG_48]] as const) {
    test(`${bits}-bit base${what}: the training step's loss and LoRA gradients equal a float32 step on the dequantized weights`, async () => {
      const c = tinyConfig(config);
      const quant = quantizeWeights(c, gridWeights(c), bits, true);
      const head = quant.get(outputEmbeddingName(c, (n) => quant.has(n)))!;
      assert.equal(head.quantized !== undefined, config === CONFIG, "the vocabulary tables are quantized when the hidden size is whole 32-column blocks");
      const ref = dequantized(quant);
      // The grid is exact: dequantized W equals the original grid values.
      const name = [...quantizedWeightNames(c)][0];
      assert.ok(relError(ref.get(name)!.data, gridWeights(c).get(name)!.data) < 1e-6);
      const params = randomParams(loraParamShapes(c, SPEC), 5, 0.3);
      const q = await createTrainStep(c, quant, SPEC, { threads: 1, quantizedAccuracyLevel: 0 });
      const f = await createTrainStep(c, ref, SPEC, { threads: 1 });
      const a = await q.run(BATCH, params);
      const b = await f.run(BATCH, params);
      assertSameStep(a, b, 1e-5, 1e-4);
      const ea = await q.evalLoss(BATCH, params);
      const eb = await f.evalLoss(BATCH, params);
      assert.ok(Math.abs(ea.lossSum - eb.lossSum) < 1e-5 * Math.abs(eb.lossSum));
      // The default int8 compute (accuracy level 4) stays close: x is rounded to int8 per 128-column block,
      // which on this tiny model moves the smallest LoRA gradients by up to about 14%.
      const q4 = await createTrainStep(c, quant, SPEC, { threads: 1 });
      const d = await q4.run(BATCH, params);
      assertSameStep(d, b, 0.01, 0.2, "int8 compute ");
      for (const s of [q, f, q4]) await s.dispose();
    });
  }

  test(`${bits}-bit base: inference logits equal float32 inference on the dequantized weights`, async () => {
    const c = tinyConfig(CONFIG);
    const quant = quantizeWeights(c, tinyWeights(c, 4), bits, false);
    assert.equal([...quant.values()].filter((t) => t.quantized?.wt).length, 0, "inference keeps no transposed copy");
    // The lookup reads the embedding's 8-bit codes: no float32 table stays.
    for (const name of [tensorName(c, "embed"), outputEmbeddingName(c, (n) => quant.has(n))]) assert.equal(quant.get(name)!.data.length, 0, name);
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

test("a quantized head in several vocabulary chunks (the last one short) computes what it does in one", async () => {
  const c = tinyConfig(CONFIG);
  const params = randomParams(loraParamShapes(c, SPEC), 5, 0.3);
  const one = quantizeWeights(c, gridWeights(c), 4, true);
  const head = outputEmbeddingName(c, (n) => one.has(n));
  assert.equal(one.get(head)!.quantized!.chunksT!.length, 1);
  assert.equal(one.get(head)!.data.length, 0, "no float32 table kept");
  const several = gridWeights(c);
  quantizeVocabTables(c, several, undefined, 32); // 50 rows: chunks of 32 and 18
  assert.equal(several.get(head)!.quantized!.chunksT!.length, 2);
  const a = await createTrainStep(c, one, SPEC, { threads: 1, quantizedAccuracyLevel: 0 });
  const b = await createTrainStep(c, quantizeWeights(c, several, 4, true), SPEC, { threads: 1, quantizedAccuracyLevel: 0 });
  const ra = await a.run(BATCH, params);
  const rb = await b.run(BATCH, params);
  assertSameStep(rb, ra, 1e-5, 1e-5);
  await a.dispose();
  await b.dispose();
});

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
    assertSameStep(after, before, 0, 1e-6);
    if (evalLoss) assert.equal((await step.evalLoss(BATCH, params)).lossSum, beforeEval.lossSum);
    // Without an eval session built up front, nothing can be rebuilt from the released weights.
    else await assert.rejects(() => step.evalLoss(BATCH, params), /handed to ONNX Runtime already/);
    await step.dispose();
  }
  await kept.dispose();
});

test("codes moved to a code file as they are made: the step reads them from there, and runs on once the file is removed", async () => {
  const c = tinyConfig(CONFIG);
  const params = randomParams(loraParamShapes(c, SPEC), 5, 0.3);
  const inMemory = await createTrainStep(c, quantizeWeights(c, gridWeights(c), 4, true), SPEC, { threads: 1 });
  const expected = await inMemory.run(BATCH, params);
  await inMemory.dispose();
  const tmp = tempDir("tunekit-codefile-");
  try {
    const file = CodeFile.create(tmp.dir, 1)!;
    const weights = quantizeWeights(c, gridWeights(c), 4, true, file);
    const names = [...quantizedWeightNames(c)];
    const q = weights.get(names[0])!.quantized!;
    assert.equal(q.w.data.length + q.wt!.scales.length, 0, "no codes left in memory");
    const codes = join(q.w.stored!.data.dir, q.w.stored!.data.file);
    const onDisk = statSync(codes).size;
    const expectedBytes = names.reduce((n, name) => n + quantizedSize(weights.get(name)!.shape[0], weights.get(name)!.shape[1], 4) * 2, 0);
    assert.ok(onDisk >= expectedBytes, `${onDisk} bytes on disk, ${expectedBytes} expected at least`);
    const step = await createTrainStep(c, weights, SPEC, { threads: 1, handOverQuantizedCodes: { evalLoss: false } });
    file.remove();
    assert.ok(!existsSync(codes));
    assert.deepEqual(readdirSync(tmp.dir), []);
    const got = await step.run(BATCH, params);
    assertSameStep(got, expected, 0, 1e-6);
    await step.dispose();
    // Offsets past 2 GB (a 4B model's codes) stay exact.
    assert.equal(alignUp(2 ** 31 + 1), 2 ** 31 + 64);
    assert.equal(alignUp(5e9 + 1), 5e9 + 64);
    // A code folder left behind by a killed run is cleared by the next one; a full disk gets none.
    mkdirSync(join(tmp.dir, ".quantized-codes-stale"));
    assert.equal(CodeFile.create(tmp.dir, 1e18), undefined);
    assert.deepEqual(readdirSync(tmp.dir), []);
  } finally {
    tmp.cleanup();
  }
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
