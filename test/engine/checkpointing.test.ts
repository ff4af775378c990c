/**
 * Activation recomputation (--gradient-checkpointing): the same loss and LoRA gradients as the plain
 * step (float32, the production kernels; dropout, packed rows, sliding and full layers), and a lower
 * peak memory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTrainStep, loraParamShapes, type LoraSpec } from "../../src/engine/models/causal-lm.js";
import { PACKED_BATCH, randomParams, tinyConfig, tinyWeights } from "./tiny-model.js";
import type { ModelConfig } from "../../src/engine/types.js";
import { quantizeWeights } from "../../src/engine/quant/base.js";

async function compare(c: ModelConfig, spec: LoraSpec, weights = tinyWeights(c), batch = PACKED_BATCH): Promise<void> {
  const params = randomParams(loraParamShapes(c, spec));
  const plain = await createTrainStep(c, weights, spec, { threads: 1 });
  const recomputed = await createTrainStep(c, weights, spec, { threads: 1, gradientCheckpointing: true });
  const a = await plain.run(batch, params, { dropoutSeed: 7 });
  const b = await recomputed.run(batch, params, { dropoutSeed: 7 });
  assert.equal(b.lossSum, a.lossSum);
  assert.equal(b.grads.size, a.grads.size);
  for (const [name, ga] of a.grads) {
    const gb = b.grads.get(name)!;
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < ga.length; i++) {
      scale = Math.max(scale, Math.abs(ga[i]));
      diff = Math.max(diff, Math.abs(ga[i] - gb[i]));
    }
    assert.ok(scale > 0, `${name}: zero gradient`);
    assert.ok(diff <= 1e-6 * scale, `${c.family} ${name}: max difference ${diff} against max |g| ${scale}`);
  }
  await plain.dispose();
  await recomputed.dispose();
}

test("gradient checkpointing gives the plain step's loss and LoRA gradients (Llama with dropout; Gemma 3 sliding and full layers)", async () => {
  await compare(tinyConfig({ num_hidden_layers: 3 }), { r: 2, alpha: 3, targets: "all-linear", dropout: 0.2 });
  await compare(
    tinyConfig({ architectures: ["Gemma3ForCausalLM"], model_type: "gemma3_text", head_dim: 6, layer_types: ["sliding_attention", "full_attention"], sliding_window: 3 }),
    { r: 2, alpha: 3, targets: ["q", "v", "down"] },
  );
});

test("gradient checkpointing on a 4-bit base gives that base's plain gradients", async () => {
  const c = tinyConfig({ hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2 });
  await compare(c, { r: 2, alpha: 3, targets: "all-linear" }, quantizeWeights(c, tinyWeights(c), 4, true));
});

test("gradient checkpointing lowers the step's peak memory", () => {
  const child = fileURLToPath(new URL("./checkpointing-child.ts", import.meta.url));
  const peak = (mode: string) => {
    const r = spawnSync(process.execPath, ["--import", "tsx", child, mode], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const { peakKb, beforeKb } = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    return (peakKb - beforeKb) / 1024;
  };
  const off = peak("off");
  const on = peak("on");
  // Kept per layer without recomputation: the attention probabilities (2 x 8 heads x 512 x 512 floats in two
  // causal blocks, 12 MB) and more, for 12 layers; with it, one layer's worth plus the layer inputs (0.5 MB
  // each). Measured: about 0.25 of the plain step's memory; 0.55 when ORT left every weight gradient to the
  // end of the step (each layer's recomputed activations then lived until the end).
  assert.ok(on < 0.4 * off, `peak memory of the step: ${on.toFixed(0)} MB with checkpointing, ${off.toFixed(0)} MB without`);
});

test("gradient checkpointing gives the plain step's gradients on Qwen3.5's linear-attention (Gated DeltaNet) layers", async () => {
  const { loadModel } = await import("../../src/engine/io/model.js");
  const { projectRoot } = await import("../helpers/cli.js");
  const { config, weights } = await loadModel(join(projectRoot, "test", "fixtures", "reference-qwen35", "qwen35_text_tied"));
  // Recurrent layers take neither packed rows nor leading padding: one example per row.
  const { segmentIds: _, ...unpacked } = PACKED_BATCH;
  await compare(config, { r: 2, alpha: 3, targets: "all-linear" }, weights, { ...unpacked, inputIds: Array.from(PACKED_BATCH.inputIds).map((x) => x % config.vocabSize), targets: Array.from(PACKED_BATCH.targets).map((x) => (x < 0 ? x : x % config.vocabSize)) });
});
