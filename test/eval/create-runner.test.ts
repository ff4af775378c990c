import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeChat } from "../servers/fake-chat.js";
import { createRunner } from "../../src/eval/runner/create.js";
import { parseModelSpec } from "../../src/eval/runner/spec.js";
import { openStore } from "../../src/store/store.js";
import { tempDir } from "../helpers/fixtures.js";

test("job=ID resolves a hosted job from the store: fine-tuned model, loss curves, training cost, cache", async () => {
  const s = await startFakeChat({ reply: (b) => `model ${b.model}` });
  const home = tempDir();
  const store = openStore({ home: home.dir });
  try {
    const job = store.createJob({ kind: "hosted", provider: "openai", remoteId: "ftjob-xyz", baseUrl: s.baseUrl, model: "gpt-4o-mini-2024-07-18", status: "succeeded" });
    store.updateJob(job.id, { fineTunedModel: "ft:gpt-4o-mini-2024-07-18:acme::abc", trainedTokens: 2_000_000 });
    store.addMetrics(job.id, [
      { step: 1, values: { train_loss: 2, valid_loss: 2.1 } },
      { step: 2, values: { train_loss: 1.5, valid_loss: 1.9 } },
    ]);
    const c = await createRunner(parseModelSpec("name=tuned,job=ftjob-xyz", 0, home.dir), { env: {}, cwd: home.dir, store });
    assert.equal(c.resolved, `ft:gpt-4o-mini-2024-07-18:acme::abc at ${s.baseUrl}`);
    assert.equal(c.trainingCostUsd, 6); // 2M tokens x $3 per 1M
    assert.deepEqual(c.lossCurves!.heldOut, [{ step: 1, loss: 2.1 }, { step: 2, loss: 1.9 }]);
    const g1 = await c.runner.generate([{ role: "user", content: "hi" }], {});
    assert.equal(g1.text, "model ft:gpt-4o-mini-2024-07-18:acme::abc");
    const g2 = await c.runner.generate([{ role: "user", content: "hi" }], {});
    assert.equal(g2.cached, true);
    assert.equal(s.requests.length, 1);
    await assert.rejects(createRunner(parseModelSpec("name=x,job=nope", 0, home.dir), { env: {}, cwd: home.dir, store }), /no job "nope"/);
    // a local endpoint without key_env needs no key; OpenAI's own URL does
    await assert.rejects(createRunner(parseModelSpec("gpt-4o-mini", 0, home.dir), { env: {}, cwd: home.dir }), /OPENAI_API_KEY is not set/);
  } finally {
    store.close();
    home.cleanup();
    await s.close();
  }
});
