import { test } from "node:test";
import assert from "node:assert/strict";
import { CachedCaller } from "../../src/distill/caller.js";
import { Budget } from "../../src/distill/budget.js";
import { GenerationCache } from "../../src/eval/runner/cache.js";
import type { ChatMessage } from "../../src/chat/types.js";
import type { GenerationParams, ModelRunner } from "../../src/eval/runner/types.js";
import { openStore } from "../../src/store/store.js";
import { tempDir } from "../helpers/fixtures.js";

/** A runner that batches, recording each batch it gets (the local engine's shape). */
function batchRunner() {
  const batches: { size: number; seed?: number }[] = [];
  const runner: ModelRunner = {
    id: "test:batch",
    label: "batch",
    async generate(m, p) {
      return (await runner.generateBatch!([m], p))[0];
    },
    async generateBatch(list: ChatMessage[][], params: GenerationParams) {
      batches.push({ size: list.length, ...(params.seed !== undefined ? { seed: params.seed } : {}) });
      await new Promise((r) => setTimeout(r, 5));
      return list.map((m) => ({ text: `${m[0].content}/${params.seed ?? "-"}`, tokensIn: 1, tokensOut: 1, latencyMs: 1, finishReason: "stop" }));
    },
  };
  return { runner, batches };
}

test("calls waiting at the same moment go to a batching runner as one batch per set of parameters; the cache answers repeats", async () => {
  const t = tempDir();
  const store = openStore({ home: t.dir });
  try {
    const { runner, batches } = batchRunner();
    const caller = new CachedCaller(runner, new GenerationCache(store), undefined, new Budget(undefined));
    const ask = (i: number, seed: number) => caller.call([{ role: "user", content: `p${i}` }], { temperature: 1, maxTokens: 4, seed }, 0);
    const out = await Promise.all([...Array.from({ length: 6 }, (_, i) => ask(i, 0)), ask(0, 1), ask(1, 1)]);
    assert.deepEqual(batches, [{ size: 6, seed: 0 }, { size: 2, seed: 1 }]);
    assert.deepEqual(out.map((o) => (o.kind === "answer" ? o.generation.text : "")), ["p0/0", "p1/0", "p2/0", "p3/0", "p4/0", "p5/0", "p0/1", "p1/1"]);
    const again = await Promise.all([ask(3, 0), ask(7, 0)]);
    assert.deepEqual(batches.at(-1), { size: 1, seed: 0 }, "only the new prompt is generated");
    assert.equal(again[0].kind === "answer" && again[0].generation.cached, true);
    assert.equal(caller.stats.made, 9);
    assert.equal(caller.stats.cached, 1);
    assert.equal(caller.stats.costUsd, null, "no price: cost unknown, not 0");
  } finally {
    store.close();
    t.cleanup();
  }
});

test("the budget books the worst case of calls in flight and lets a call wait for room instead of stopping", async () => {
  const b = new Budget(1);
  assert.equal(await b.reserve(0.4), true);
  assert.equal(await b.reserve(0.4), true);
  let third = false;
  const waiting = b.reserve(0.4).then((ok) => (third = ok));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(third, false, "waits while the bookings fill the budget");
  b.settle(0.4, 0.1);
  await waiting;
  assert.equal(third, true);
  b.settle(0.4, 0.1);
  b.settle(0.4, 0.1);
  assert.ok(Math.abs(b.spent - 0.3) < 1e-12);
  assert.equal(await b.reserve(0.71), false, "more than is left: refused at once");
  assert.equal(await new Budget(undefined).reserve(1e9), true);
});
