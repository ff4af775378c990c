/**
 * The real pretrained stories260K (shared fixture, skipped loudly when absent), through the default
 * backend: its real tokenizer, tunekit's plain chat template (it has none), the leak-free split.
 * Before training it tells stories; after a short LoRA run it answers held-out prompts in the trained
 * format.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/engine/train/defaults.js";
import { train, type TrainRunEvent } from "../../src/engine/train/train-run.js";
import { chatTemplateFor } from "../../src/tokenize/chatTemplate.js";
import { loadTokenizerFromDir } from "../../src/tokenize/hf.js";
import type { ChatMessage } from "../../src/dataset/types.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { nameDataset, writeJsonl } from "./helpers/tiny.js";

test("stories260K learns a reply format with LoRA (greedy output follows it after, not before)", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const tmp = tempDir("tunekit-stories-");
  try {
    const data = writeJsonl(join(tmp.dir, "names.jsonl"), nameDataset());
    const events: TrainRunEvent[] = [];
    const r = await train(
      { data, model, outDir: join(tmp.dir, "run"), testSplit: 0.125, options: { ...DEFAULT_TRAIN_OPTIONS, epochs: 9, lr: 1e-2, batchSize: 8, warmup: 5, evalEvery: 20 } },
      { onEvent: (e) => events.push(e) },
    );
    const steps = events.filter((e) => e.type === "step") as Extract<TrainRunEvent, { type: "step" }>[];
    const evals = events.filter((e) => e.type === "eval") as Extract<TrainRunEvent, { type: "eval" }>[];
    assert.ok(steps.at(-1)!.loss < steps[0].loss * 0.6, `loss ${steps[0].loss} -> ${steps.at(-1)!.loss}`);
    // Held-out names never occur in training (the split keeps near-duplicate prompts together), so the
    // held-out loss mostly measures overfitting here: what must hold is that it is measured with the gap.
    assert.ok(evals.length >= 3 && evals.every((e) => Number.isFinite(e.heldOutLoss) && e.gap !== null), JSON.stringify(evals));

    const tok = await loadTokenizerFromDir(model);
    const template = chatTemplateFor(tok);
    assert.equal(template.plain, true);
    const prompts: ChatMessage[][] = ["Pam has a hat.", "Rex has a kite.", "Tom has a pen."].map((c) => [{ role: "user", content: c }]);
    const texts = async (adapter?: string) => {
      const g = await TextGenerator.load(model, { adapter, threads: 1, ignoreAdapterBaseName: true });
      try {
        return (await g.generateBatch(prompts, { maxTokens: 6 })).map((o) => o.text);
      } finally {
        await g.dispose();
      }
    };
    const before = await texts();
    const after = await texts(r.adapterDir);
    assert.ok(before.every((s) => !s.trim().startsWith("NAME:")), `before: ${JSON.stringify(before)}`);
    assert.ok(after.every((s) => s.trim().startsWith("NAME:")), `after: ${JSON.stringify(after)}`);
  } finally {
    tmp.cleanup();
  }
});
