/**
 * QLoRA on the real stories260K (shared fixture, skipped loudly when absent): LoRA on a 4-bit and an
 * 8-bit frozen base against the float32 base after the same steps, the format still learned, and
 * greedy decoding with 8-bit weights against float32.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { loadModel } from "../../src/engine/io/model.js";
import { createInferenceModel } from "../../src/engine/models/causal-lm.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../src/engine/train/defaults.js";
import { train, type TrainRunEvent } from "../../src/engine/train/train-run.js";
import type { ChatExample, ChatMessage } from "../../src/dataset/types.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { writeJsonl } from "./helpers/tiny.js";

const argmax = (a: Float32Array, from: number, n: number) => {
  let best = from;
  for (let i = from + 1; i < from + n; i++) if (a[i] > a[best]) best = i;
  return best - from;
};

/**
 * Copy the name and the thing from the prompt: every held-out example (each fifth name-thing pair)
 * combines a name and a thing seen in training, so the held-out loss measures what was learned, not
 * how confidently unseen names are guessed.
 */
function copyDataset(): { train: ChatExample[]; heldOut: ChatExample[] } {
  const names = ["Pam", "Rex", "Tom", "Sue", "Ben", "Amy", "Max", "Lily", "Sam", "Kim", "Joe", "Zoe", "Dan", "Eve", "Leo", "Mia"];
  const things = ["hat", "kite", "pen", "ball", "cup", "dog", "cat", "box"];
  const out = { train: [] as ChatExample[], heldOut: [] as ChatExample[] };
  names.forEach((n, i) =>
    things.forEach((t, j) => {
      const ex = { messages: [{ role: "user" as const, content: `${n} has a ${t}.` }, { role: "assistant" as const, content: `NAME: ${n}. THING: ${t}.` }] };
      ((i * things.length + j) % 5 === 0 ? out.heldOut : out.train).push(ex);
    }),
  );
  return out;
}

test("stories260K: LoRA on a 4-bit and an 8-bit base ends within 2% of the float32 base's held-out loss, and still learns the format", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const tmp = tempDir("tunekit-qstories-");
  try {
    const set = copyDataset();
    const data = writeJsonl(join(tmp.dir, "train.jsonl"), set.train);
    const validation = writeJsonl(join(tmp.dir, "heldout.jsonl"), set.heldOut);
    const run = async (baseBits?: 4 | 8) => {
      const events: TrainRunEvent[] = [];
      const options = { ...DEFAULT_TRAIN_OPTIONS, epochs: 4, lr: 1e-2, batchSize: 8, warmup: 5, evalEvery: 10, ...(baseBits ? { baseBits } : {}) };
      const outDir = join(tmp.dir, `run${baseBits ?? 32}`);
      // The quantized codes wait in a file in the run's folder while the sessions are built, then go.
      const codeFolders = () => (existsSync(outDir) ? readdirSync(outDir).filter((n) => n.startsWith(".quantized-codes-")) : []);
      let whileBuilding: string[] = [];
      const onPhase = (text: string) => {
        if (text.startsWith("building the training graph")) whileBuilding = codeFolders();
      };
      const r = await train({ data, model, validation, outDir, options }, { onEvent: (e) => events.push(e), onPhase });
      assert.equal(whileBuilding.length, baseBits ? 1 : 0, `code folders while building: ${whileBuilding}`);
      assert.deepEqual(codeFolders(), []);
      return { r, heldOut: r.done.heldOutLoss!, steps: events.filter((e) => e.type === "step").length };
    };
    const f32 = await run();
    for (const bits of [8, 4] as const) {
      const q = await run(bits);
      assert.equal(q.steps, f32.steps);
      const rel = Math.abs(q.heldOut - f32.heldOut) / f32.heldOut;
      t.diagnostic(`${bits}-bit base: held-out loss ${q.heldOut.toFixed(4)} vs float32 ${f32.heldOut.toFixed(4)} (${(rel * 100).toFixed(2)}%) after ${q.steps} steps`);
      assert.ok(rel < 0.02, `${bits}-bit held-out loss ${q.heldOut} vs ${f32.heldOut}`);
      const g = await TextGenerator.load(model, { adapter: q.r.adapterDir, baseBits: bits, threads: 1, ignoreAdapterBaseName: true });
      try {
        const prompts: ChatMessage[][] = ["Sue has a kite.", "Leo has a cup."].map((c) => [{ role: "user", content: c }]);
        const after = (await g.generateBatch(prompts, { maxTokens: 24 })).map((o) => o.text);
        assert.ok(after[0].trim().startsWith("NAME: Sue. THING: kite.") && after[1].trim().startsWith("NAME: Leo. THING: cup."), `${bits}-bit: ${JSON.stringify(after)}`);
      } finally {
        await g.dispose();
      }
    }
  } finally {
    tmp.cleanup();
  }
});

test("stories260K: greedy decoding with 8-bit weights picks the float32 model's token at nearly every position", async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("shared fixture models/stories260K missing");
  const steps = 120;
  const greedy = async (bits?: 4 | 8) => {
    const m = await loadModel(model, bits ? { baseBits: bits } : {});
    const inf = await createInferenceModel(m.config, m.weights, { threads: 1 });
    const V = m.config.vocabSize;
    const ids = [1];
    let { logits, cache } = await inf.prefill([ids]);
    for (let i = 0; i < steps; i++) {
      ids.push(argmax(logits, 0, V));
      ({ logits, cache } = await inf.decode(cache, [ids.at(-1)!]));
    }
    return { ids, inf, V };
  };
  const f = await greedy();
  const results: string[] = [];
  for (const bits of [8, 4] as const) {
    const q = await greedy(bits);
    let prefix = 0;
    while (prefix < f.ids.length && q.ids[prefix] === f.ids[prefix]) prefix++;
    // Teacher-forced: the quantized model's next token on the float32 model's own sequence.
    const all = await q.inf.allLogits([f.ids.slice(0, -1)]);
    let agree = 0;
    for (let p = 0; p < steps; p++) if (argmax(all, p * q.V, q.V) === f.ids[p + 1]) agree++;
    results.push(`${bits}-bit: identical greedy prefix ${prefix - 1}/${steps} tokens; next-token agreement on the float32 sequence ${agree}/${steps}`);
    if (bits === 8) {
      assert.ok(agree / steps >= 0.95, results.at(-1));
      assert.ok(prefix - 1 >= 30, results.at(-1));
    }
    await q.inf.dispose();
  }
  t.diagnostic(results.join("; "));
  await f.inf.dispose();
});
