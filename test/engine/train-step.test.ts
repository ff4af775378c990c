/**
 * Training-step and inference behaviour on tiny random models: gradients against finite differences
 * (float64, every LoRA target, packed rows, dropout), packing equivalence, dropout determinism,
 * batched left-padded generation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createInferenceModel, createTrainStep, loraParamShapes, type LoraSpec, type TrainBatch } from "../../src/engine/models/causal-lm.js";
import { PACKED_BATCH, randomParams, tinyConfig, tinyWeights } from "./tiny-model.js";
import { rng } from "./gradcheck.js";
import type { ModelConfig } from "../../src/engine/types.js";

const ALL: LoraSpec["targets"] = ["q", "k", "v", "o", "gate", "up", "down"];

/** A tiny Gemma 3 text model: a sliding-window layer (window 3) and a full-attention layer. */
const TINY_GEMMA3 = { architectures: ["Gemma3ForCausalLM"], model_type: "gemma3_text", head_dim: 6, layer_types: ["sliding_attention", "full_attention"], sliding_window: 3 };

/** Central differences of the float64 step's loss against its LoRA gradients, at 24 random elements. */
async function checkStepGradients(c: ModelConfig, spec: LoraSpec): Promise<void> {
  const weights = tinyWeights(c);
  const shapes = loraParamShapes(c, spec);
  const params = randomParams(shapes);
  const step = await createTrainStep(c, weights, spec, { dtype: "float64", vocabChunk: 10, threads: 1 });
  const seed = 42;
  const base = await step.run(PACKED_BATCH, params, { dropoutSeed: seed });
  assert.equal(base.tokenCount, 11.5);
  const r = rng(11);
  let worst = 0;
  let where = "";
  for (let k = 0; k < 24; k++) {
    const s = shapes[Math.floor(r() * shapes.length)];
    const j = Math.floor(r() * s.shape[0] * s.shape[1]);
    const p = params.get(s.name)!;
    const orig = p[j];
    p[j] = orig + 1e-3;
    const hi = p[j];
    const lp = (await step.run(PACKED_BATCH, params, { dropoutSeed: seed })).lossSum;
    p[j] = orig - 1e-3;
    const lo = p[j];
    const lm = (await step.run(PACKED_BATCH, params, { dropoutSeed: seed })).lossSum;
    p[j] = orig;
    const numeric = (lp - lm) / (hi - lo);
    const analytic = base.grads.get(s.name)![j];
    const rel = Math.abs(numeric - analytic) / Math.max(1e-3, Math.abs(numeric));
    if (rel > worst) {
      worst = rel;
      where = `${s.name}[${j}] numeric ${numeric} analytic ${analytic}`;
    }
  }
  assert.ok(worst < 1e-4, `${c.family}: worst relative error ${worst} at ${where}`);
  await step.dispose();
}

test("train-step LoRA gradients match finite differences (float64, q/k/v bias, packed rows, dropout)", async () => {
  await checkStepGradients(tinyConfig({ architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" }), { r: 2, alpha: 3, targets: ALL, dropout: 0.3 });
});

test("train-step gradients match finite differences on Qwen3, Gemma 3 and SmolLM3 layers (float64)", async () => {
  // Qwen3: q/k norms, head_dim 6 != hidden/heads 4, a sliding window on layer 1.
  await checkStepGradients(
    tinyConfig({ architectures: ["Qwen3ForCausalLM"], model_type: "qwen3", head_dim: 6, use_sliding_window: true, sliding_window: 3, max_window_layers: 1 }),
    { r: 2, alpha: 3, targets: "all-linear" },
  );
  // Gemma 3: (1 + w) norms, four per layer, q/k norms, GELU-tanh, scaled embeddings, sliding and full
  // layers with their own RoPE (linear scaling on the full one), o bias, attention scale from
  // query_pre_attn_scalar; with LoRA dropout.
  await checkStepGradients(
    tinyConfig({
      architectures: ["Gemma3ForCausalLM"],
      model_type: "gemma3_text",
      head_dim: 6,
      layer_types: ["sliding_attention", "full_attention"],
      sliding_window: 3,
      query_pre_attn_scalar: 10,
      rope_scaling: { rope_type: "linear", factor: 4 },
      attention_bias: true,
    }),
    { r: 2, alpha: 3, targets: "all-linear", dropout: 0.2 },
  );
  // SmolLM3: layer 1 has no rotary embedding.
  await checkStepGradients(tinyConfig({ architectures: ["SmolLM3ForCausalLM"], model_type: "smollm3", no_rope_layer_interval: 2 }), { r: 2, alpha: 3, targets: ALL });
});

test("block-causal attention (two query halves) gives the loss and gradients of one full block, for any length (Mistral's window; Gemma 3's two layer types)", async () => {
  for (const c of [tinyConfig({ architectures: ["MistralForCausalLM"], model_type: "mistral", sliding_window: 3 }), tinyConfig(TINY_GEMMA3)]) await checkBlockCausal(c);
  // More blocks than some lengths have rows (empty blocks), and an uneven split.
  await checkBlockCausal(tinyConfig(), 3);
  await checkBlockCausal(tinyConfig(TINY_GEMMA3), 8);
});

async function checkBlockCausal(c: ModelConfig, queryBlocks: number | true = true): Promise<void> {
  const weights = tinyWeights(c);
  const spec: LoraSpec = { r: 2, alpha: 4, targets: ALL };
  const params = randomParams(loraParamShapes(c, spec));
  const blocks = await createTrainStep(c, weights, spec, { dtype: "float64", vocabChunk: 16, threads: 1, blockCausal: queryBlocks });
  const full = await createTrainStep(c, weights, spec, { dtype: "float64", vocabChunk: 16, threads: 1, blockCausal: false });
  const r = rng(5);
  for (const T of [1, 2, 3, 5, 8]) {
    const n = 2 * T;
    const batch: TrainBatch = {
      batchSize: 2,
      seqLen: T,
      inputIds: Array.from({ length: n }, () => Math.floor(r() * c.vocabSize)),
      targets: Array.from({ length: n }, () => Math.floor(r() * c.vocabSize)),
      lossWeights: Array.from({ length: n }, () => 1),
      // Row 1 packs two examples and ends in padding when long enough.
      segmentIds: Array.from({ length: n }, (_, i) => (i < T ? 1 : i - T < T / 2 ? 1 : i - T < T - 1 ? 2 : 0)),
    };
    const a = await blocks.run(batch, params);
    const b = await full.run(batch, params);
    assert.ok(Math.abs(a.lossSum - b.lossSum) <= 1e-10 * Math.abs(b.lossSum), `T=${T}: loss ${a.lossSum} vs ${b.lossSum}`);
    for (const [name, gb] of b.grads) {
      const ga = a.grads.get(name)!;
      for (let i = 0; i < gb.length; i++) assert.ok(Math.abs(ga[i] - gb[i]) <= 1e-9 * (1 + Math.abs(gb[i])), `${queryBlocks} blocks, T=${T}: ${name}[${i}] ${ga[i]} vs ${gb[i]}`);
    }
  }
  await blocks.dispose();
  await full.dispose();
}

test("packed examples neither see each other nor share positions: same loss and gradients as separate rows", async () => {
  const c = tinyConfig();
  const weights = tinyWeights(c);
  const spec: LoraSpec = { r: 2, alpha: 4, targets: ["q", "v", "down"] };
  const params = randomParams(loraParamShapes(c, spec));
  const step = await createTrainStep(c, weights, spec, { threads: 1 });
  const a = { ids: [1, 7, 8, 9], tg: [7, 8, 9, 2], w: [0, 1, 1, 1] };
  const b = { ids: [1, 20, 21], tg: [20, 21, 2], w: [1, 1, 1] };
  const packed = await step.run(
    {
      batchSize: 1,
      seqLen: 8,
      inputIds: [...a.ids, ...b.ids, 0],
      targets: [...a.tg, ...b.tg, 0],
      lossWeights: [...a.w, ...b.w, 0],
      segmentIds: [1, 1, 1, 1, 2, 2, 2, 0],
    },
    params,
  );
  const separate = await step.run(
    {
      batchSize: 2,
      seqLen: 4,
      inputIds: [...a.ids, ...b.ids, 0],
      targets: [...a.tg, ...b.tg, 0],
      lossWeights: [...a.w, ...b.w, 0],
      segmentIds: [1, 1, 1, 1, 1, 1, 1, 0],
    },
    params,
  );
  assert.ok(Math.abs(packed.lossSum - separate.lossSum) < 1e-5 * separate.lossSum, `${packed.lossSum} vs ${separate.lossSum}`);
  for (const [name, g] of separate.grads) {
    const p = packed.grads.get(name)!;
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < g.length; i++) {
      scale = Math.max(scale, Math.abs(g[i]));
      diff = Math.max(diff, Math.abs(g[i] - p[i]));
    }
    assert.ok(diff <= 1e-5 * scale + 1e-7, `${name}: packed grads differ by ${diff} (scale ${scale})`);
  }
  await step.dispose();
});

test("LoRA dropout depends only on the seed, and eval never drops out", async () => {
  const c = tinyConfig();
  const weights = tinyWeights(c);
  const params = randomParams(loraParamShapes(c, { r: 2, alpha: 4, targets: ALL }), 9, 0.5);
  const batch: TrainBatch = { batchSize: 1, seqLen: 6, inputIds: [1, 2, 3, 4, 5, 6], targets: [2, 3, 4, 5, 6, 7], lossWeights: [1, 1, 1, 1, 1, 1] };
  const plain = await createTrainStep(c, weights, { r: 2, alpha: 4, targets: ALL }, { threads: 1 });
  const noDrop = await plain.run(batch, params);
  await plain.dispose();
  const step = await createTrainStep(c, weights, { r: 2, alpha: 4, targets: ALL, dropout: 0.5 }, { threads: 1 });
  const s1 = await step.run(batch, params, { dropoutSeed: 1 });
  const s1again = await step.run(batch, params, { dropoutSeed: 1 });
  const s2 = await step.run(batch, params, { dropoutSeed: 2 });
  assert.equal(s1.lossSum, s1again.lossSum);
  assert.deepEqual(s1.grads.get("layers.0.self_attn.q_proj.lora_A"), s1again.grads.get("layers.0.self_attn.q_proj.lora_A"));
  assert.notEqual(s1.lossSum, s2.lossSum);
  assert.notEqual(s1.lossSum, noDrop.lossSum);
  const ev = await step.evalLoss(batch, params);
  assert.ok(Math.abs(ev.lossSum - noDrop.lossSum) < 1e-5 * noDrop.lossSum, `eval ${ev.lossSum} vs no-dropout ${noDrop.lossSum}`);
  await step.dispose();
});

test("batched left-padded prefill and decode equal running each prompt alone (a Llama; Gemma 3 with sliding and full layers)", async () => {
  for (const c of [tinyConfig({ tie_word_embeddings: true }), tinyConfig(TINY_GEMMA3)]) await checkBatchedDecode(c);
});

async function checkBatchedDecode(c: ModelConfig): Promise<void> {
  const model = await createInferenceModel(c, tinyWeights(c), { threads: 1 });
  const prompts = [[1, 5, 9, 3, 8], [1, 30], [1, 2, 3]];
  const V = c.vocabSize;
  let { logits, cache } = await model.prefill(prompts);
  ({ logits, cache } = await model.decode(cache, [4, 5, 6]));
  ({ logits, cache } = await model.decode(cache, [7, 8, 9]));
  for (let b = 0; b < prompts.length; b++) {
    const alone = await model.allLogits([[...prompts[b], [4, 5, 6][b], [7, 8, 9][b]]]);
    const T = prompts[b].length + 2;
    const ref = alone.subarray((T - 1) * V, T * V);
    const got = logits.subarray(b * V, (b + 1) * V);
    for (let i = 0; i < V; i++) assert.ok(Math.abs(got[i] - ref[i]) < 1e-4, `row ${b} logit ${i}: ${got[i]} vs ${ref[i]}`);
  }
  assert.equal(cache.length, 7);
  await assert.rejects(model.prefill([[1, 99]]), /outside the vocabulary/);
  await assert.rejects(model.prefill([Array.from({ length: 65 }, () => 1)]), /longer than the model's context/);
  await model.dispose();
}

test("weights fed as graph inputs (the >2 GB path) give the same loss, gradients and logits as embedded weights", async () => {
  const c = tinyConfig({ tie_word_embeddings: true });
  const weights = tinyWeights(c);
  const spec: LoraSpec = { r: 2, alpha: 4, targets: ["q", "o", "up"] };
  const params = randomParams(loraParamShapes(c, spec));
  const batch: TrainBatch = { batchSize: 1, seqLen: 5, inputIds: [1, 2, 3, 4, 5], targets: [2, 3, 4, 5, 6], lossWeights: [1, 1, 1, 1, 1] };
  const results = [];
  for (const weightsAsInputs of [false, true]) {
    const step = await createTrainStep(c, weights, spec, { threads: 1, weightsAsInputs });
    results.push(await step.run(batch, params));
    await step.dispose();
    const model = await createInferenceModel(c, weights, { threads: 1, weightsAsInputs });
    results.push({ logits: await model.allLogits([[1, 2, 3]]) });
    await model.dispose();
  }
  const [trainA, logitsA, trainB, logitsB] = results as [any, any, any, any];
  assert.equal(trainA.lossSum, trainB.lossSum);
  assert.deepEqual(trainA.grads, trainB.grads);
  assert.deepEqual(logitsA.logits, logitsB.logits);
});

test("a large vocabulary's tables fed as inputs beside embedded weights (the default) give the loss and gradients of either extreme", async () => {
  for (const tied of [true, false]) {
    const c = tinyConfig({ vocab_size: 70000, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: tied });
    const weights = tinyWeights(c);
    const spec: LoraSpec = { r: 2, alpha: 4, targets: ["v", "down"] };
    const params = randomParams(loraParamShapes(c, spec));
    const batch: TrainBatch = { batchSize: 1, seqLen: 4, inputIds: [1, 69999, 3, 40000], targets: [69999, 3, 40000, 5], lossWeights: [1, 1, 1, 1] };
    const runs = [];
    for (const weightsAsInputs of [undefined, false, true]) {
      const step = await createTrainStep(c, weights, spec, { threads: 1, weightsAsInputs });
      runs.push(await step.run(batch, params));
      await step.dispose();
    }
    // The default runs the vocabulary's products as the all-inputs graph does (bit for bit); the
    // all-embedded graph's pre-packed GEMM rounds differently, to float32 precision.
    const [mixed, embedded, inputs] = runs;
    assert.equal(mixed.lossSum, inputs.lossSum, `tied=${tied}`);
    assert.deepEqual(mixed.grads, inputs.grads);
    assert.ok(Math.abs(mixed.lossSum - embedded.lossSum) <= 1e-6 * mixed.lossSum);
    for (const [name, g] of mixed.grads) {
      const e = embedded.grads.get(name)!;
      const scale = Math.max(...g.map(Math.abs));
      g.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= 1e-5 * scale, `${name}[${i}] ${v} vs ${e[i]}`));
    }
  }
});

test("a large vocabulary's inference (the default: embedding table an input, the head on its own embedded copy) gives the logits of the all-embedded graph: prefill, decode, all positions", async () => {
  for (const tied of [true, false]) {
    const c = tinyConfig({ vocab_size: 70000, hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: tied });
    const weights = tinyWeights(c);
    const runs: Float32Array[][] = [];
    for (const weightsAsInputs of [undefined, false]) {
      const model = await createInferenceModel(c, weights, { threads: 1, weightsAsInputs });
      const out: Float32Array[] = [];
      let { logits, cache } = await model.prefill([[1, 69999, 3, 40000], [7, 65536]]);
      out.push(logits);
      ({ logits, cache } = await model.decode(cache, [69998, 2]));
      out.push(logits);
      ({ logits, cache } = await model.decode(cache, [5, 65537]));
      out.push(logits);
      out.push(await model.allLogits([[1, 69999, 3], [40000, 8, 69000]]));
      await model.dispose();
      runs.push(out);
    }
    const [mixed, embedded] = runs;
    mixed.forEach((got, k) => {
      const ref = embedded[k];
      assert.equal(got.length, ref.length);
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-5 * scale, `tied=${tied} output ${k} logit ${i}: ${got[i]} vs ${ref[i]}`);
    });
  }
});
