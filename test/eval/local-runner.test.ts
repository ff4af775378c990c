import { test } from "node:test";
import assert from "node:assert/strict";
import { createLocalRunner, localModelId } from "../../src/eval/runner/local.js";
import { GenerationCache, withCache } from "../../src/eval/runner/cache.js";
import { evaluate } from "../../src/eval/evaluate.js";
import { openStore } from "../../src/store/store.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";

test("local runner on the real stories260K model: batched generation, usage, cache", { timeout: 60_000 }, async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("stories260K fixture missing");
  const home = tempDir();
  const store = openStore({ home: home.dir });
  const loads: string[] = [];
  const local = createLocalRunner({ model, threads: 1, label: "stories", onLoading: (name) => loads.push(name) });
  try {
    assert.deepEqual(loads, [], "nothing loads before the first call");
    assert.match(local.id, /^local:.*stories260K#[0-9a-f]{16}$/);
    assert.equal(localModelId(model, undefined), local.id, "the id is stable");
    const r = withCache(local, new GenerationCache(store));
    const prompts = [[{ role: "user" as const, content: "Once upon a time" }], [{ role: "user" as const, content: "Lily" }]];
    const first = await r.generateBatch!(prompts, { maxTokens: 12 });
    assert.equal(first.length, 2);
    for (const g of first) {
      assert.equal(g.error, undefined);
      assert.ok(g.text.length > 0);
      assert.ok(g.tokensIn > 0 && g.tokensOut > 0 && g.tokensOut <= 12);
      assert.equal(g.costUsd, 0);
    }
    // greedy decoding is deterministic: a single call gives the same text as the batch
    const single = await local.generate(prompts[1], { maxTokens: 12 });
    assert.equal(single.text, first[1].text);
    const again = await r.generateBatch!(prompts, { maxTokens: 12 });
    assert.ok(again.every((g) => g.cached));
    assert.deepEqual(loads, ["stories"], "the model loads once, and says so when it starts");
    assert.deepEqual(again.map((g) => g.text), first.map((g) => g.text));
    // through evaluate (the batched path)
    const res = await evaluate({
      items: [{ id: "a", prompt: prompts[0], reference: "there was a little girl" }],
      models: [{ name: "stories", runner: r }],
      params: { maxTokens: 12 },
    });
    assert.equal(res.models[0].examples[0].output.length > 0, true);
    assert.equal(res.models[0].economics.costPer1kCalls, null);
  } finally {
    await local.close?.();
    store.close();
    home.cleanup();
  }
});

test("local runner: a prompt longer than the context fails alone, as data; the rest of the batch answers", { timeout: 60_000 }, async (t) => {
  const model = sharedFixture("models", "stories260K");
  if (!model) return t.skip("stories260K fixture missing");
  const local = createLocalRunner({ model, threads: 1 });
  try {
    // stories260K holds 512 positions; this prompt is far longer.
    const long = [{ role: "user" as const, content: "Once upon a time there was a dog. ".repeat(120) }];
    const short = [{ role: "user" as const, content: "Lily" }];
    const out = await local.generateBatch!([short, long, short], { maxTokens: 6 });
    assert.equal(out.length, 3);
    assert.match(out[1].error ?? "", /context/);
    assert.equal(out[1].text, "");
    for (const i of [0, 2]) {
      assert.equal(out[i].error, undefined);
      assert.ok(out[i].text.length > 0 && out[i].tokensOut > 0);
    }
    const alone = await local.generate(long, { maxTokens: 6 });
    assert.match(alone.error ?? "", /context/);
  } finally {
    await local.close?.();
  }
});
