/**
 * Packing with the real ONNX engine: two examples packed in one window give the same loss and LoRA
 * gradients as the two examples in separate rows (no attention across them, positions restart).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/engine/io/model.js";
import { buildBatch } from "../../src/engine/train/batches.js";
import { createOnnxTrainEngine } from "../../src/engine/train/onnx-engine.js";
import { initLoraParams } from "../../src/engine/train/lora-init.js";
import { Rng } from "../../src/engine/train/rng.js";
import { tempDir } from "../helpers/fixtures.js";
import { formatDataset, renderChat, writeTinyModel } from "./helpers/tiny.js";

test("a packed window equals its examples run separately (loss and gradients)", async () => {
  const tmp = tempDir();
  try {
    const m = await loadModel(await writeTinyModel(join(tmp.dir, "m"), 9));
    const engine = await createOnnxTrainEngine(m.config, m.weights, { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ["q", "v", "down"] }, { threads: 1 });
    try {
      const params = initLoraParams(engine.paramShapes, new Rng(2));
      // Non-zero B so the LoRA path contributes to the loss and to A's gradient.
      for (const [k, v] of params) if (k.endsWith("lora_B")) for (let i = 0; i < v.length; i++) v[i] = Math.sin(i + 1) * 0.05;
      const [a, b] = formatDataset(2, 4).map((ex) => renderChat(ex));
      const packed = await engine.run(buildBatch([[a, b]]), params);
      const separate = await engine.run(buildBatch([[a], [b]]), params);
      const crossTalk = await engine.run(buildBatch([[{ ids: [...a.ids, ...b.ids], lossMask: [...a.lossMask, ...b.lossMask] }]]), params);
      assert.equal(packed.tokenCount, separate.tokenCount);
      assert.ok(Math.abs(packed.lossSum - separate.lossSum) < 1e-4 * separate.lossSum, `${packed.lossSum} vs ${separate.lossSum}`);
      // The same tokens as one plain sequence (b attends to a) differ: the test can tell.
      assert.ok(Math.abs(crossTalk.lossSum - separate.lossSum) > 1e-3, "concatenation without segments should differ");
      for (const [k, g] of separate.grads) {
        const p = packed.grads.get(k)!;
        let num = 0;
        let den = 0;
        for (let i = 0; i < g.length; i++) {
          num = Math.max(num, Math.abs(g[i] - p[i]));
          den = Math.max(den, Math.abs(g[i]));
        }
        assert.ok(num <= 1e-4 * Math.max(den, 1e-6), `${k}: max diff ${num} (scale ${den})`);
      }
    } finally {
      await engine.dispose();
    }
  } finally {
    tmp.cleanup();
  }
});
