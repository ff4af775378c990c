import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { SeededRng, applyRepetitionPenalty, candidateDistribution, sampleToken } from "../../src/engine/generate/sampling.js";
import { TunekitError } from "../../src/util/errors.js";
import { sharedFixture } from "../helpers/fixtures.js";

const manifest = JSON.parse(readFileSync(new URL("../fixtures/reference/manifest.json", import.meta.url), "utf8"));

test("sampling: PRNG is deterministic; top-k, top-p, temperature, repetition penalty", () => {
  const a = new SeededRng(42);
  const b = new SeededRng(42);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => new SeededRng(43).next()));

  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  const all = candidateDistribution(logits, { temperature: 1, topK: 0, topP: 1 });
  assert.deepEqual(all.ids, [0, 1, 2, 3]);
  all.probs.forEach((p, i) => assert.ok(Math.abs(p - [0.5, 0.3, 0.15, 0.05][i]) < 1e-6));
  const k2 = candidateDistribution(logits, { temperature: 1, topK: 2, topP: 1 });
  assert.deepEqual(k2.ids, [0, 1]);
  assert.ok(Math.abs(k2.probs[0] - 0.625) < 1e-6);
  const p = candidateDistribution(logits, { temperature: 1, topK: 0, topP: 0.8 });
  assert.deepEqual(p.ids, [0, 1], "0.5 + 0.3 reaches 0.8");
  const p1 = candidateDistribution(logits, { temperature: 1, topK: 0, topP: 0.1 });
  assert.deepEqual(p1.ids, [0], "at least one token survives");
  const cold = candidateDistribution(logits, { temperature: 0.5, topK: 0, topP: 1 });
  assert.ok(cold.probs[0] > 0.5 + 0.1, "low temperature sharpens");

  const l = Float32Array.from([2, -2, 1]);
  applyRepetitionPenalty(l, [0, 1, 1], 2);
  assert.deepEqual([...l], [1, -4, 1]);

  const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };
  assert.equal(sampleToken(logits, greedy, new SeededRng(1), []), 0);
  assert.equal(sampleToken(logits, { ...greedy, repetitionPenalty: 10 }, new SeededRng(1), [0]), 1);
  // Empirical frequencies follow the distribution.
  const rng = new SeededRng(7);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[sampleToken(logits, { ...greedy, temperature: 1 }, rng, [])]++;
  counts.forEach((c, i) => assert.ok(Math.abs(c / 20000 - [0.5, 0.3, 0.15, 0.05][i]) < 0.015, `token ${i}: ${c}`));
});

const stories = sharedFixture("models", "stories260K");

test("generate on stories260K: greedy matches PyTorch, stop strings, EOS ids, seeds, batches, errors", { skip: !stories }, async () => {
  const gen = await TextGenerator.load(stories!, { threads: 2 });
  try {
    const g = await gen.generate("", { raw: true, maxTokens: 64 });
    assert.deepEqual(g.tokens, manifest.greedy.tokens, "token for token with the PyTorch reference");
    assert.match(g.text, /^Once upon a time, there was a little girl named Lily\./);
    assert.equal(g.finishReason, "length");
    assert.equal(g.promptTokens, 1);
    assert.equal(g.completionTokens, 64);
    assert.ok(g.timings.decodeTokensPerSecond > 0);

    // A stop string that spans several tokens, and one that ends inside a token.
    assert.ok(gen.tokenizer.encode(" girl named", { addSpecialTokens: false }).length > 1);
    const s1 = await gen.generate("", { raw: true, maxTokens: 64, stop: [" girl named", "zzz"] });
    assert.equal(s1.text, "Once upon a time, there was a little");
    assert.equal(s1.finishReason, "stop");
    assert.equal(s1.stoppedBy, " girl named");
    assert.ok(s1.completionTokens < 20);
    const s2 = await gen.generate("", { raw: true, maxTokens: 64, stop: ["ttl"] });
    assert.equal(s2.text, "Once upon a time, there was a li");

    // A stop token id: generation ends on it and its text is not included.
    const dot = gen.tokenizer.encode(".", { addSpecialTokens: false }).at(-1)!;
    const s3 = await gen.generate("", { raw: true, maxTokens: 64, stopTokenIds: [dot] });
    assert.equal(s3.finishReason, "stop");
    assert.equal(s3.stoppedBy, dot);
    assert.equal(s3.tokens.at(-1), dot);
    assert.match(s3.text, /^Once upon a time, there was a little girl named Lily$/);

    // Streaming: the pieces always add up to the final text, with stop strings held back correctly.
    for (const stop of [undefined, [" girl named"], ["ttl"], ["Lily.", "park"], ["nothing-like-this"]]) {
      const pieces: string[] = [];
      const r = await gen.generate("", { raw: true, maxTokens: 48, ...(stop ? { stop } : {}), onText: (p) => pieces.push(p) });
      assert.equal(pieces.join(""), r.text, `stop ${JSON.stringify(stop)}`);
      assert.ok(pieces.length > 3, "streamed in several pieces");
    }

    // Sampling: same seed same text, different seed different text.
    const a = await gen.generate("", { raw: true, maxTokens: 40, temperature: 1, seed: 1 });
    const b = await gen.generate("", { raw: true, maxTokens: 40, temperature: 1, seed: 1 });
    const c = await gen.generate("", { raw: true, maxTokens: 40, temperature: 1, seed: 2 });
    assert.deepEqual(a.tokens, b.tokens);
    assert.notDeepEqual(a.tokens, c.tokens);
    const topk1 = await gen.generate("", { raw: true, maxTokens: 20, temperature: 1, topK: 1, seed: 5 });
    assert.deepEqual(topk1.tokens, manifest.greedy.tokens.slice(0, 20), "top-k 1 is greedy");

    // A batch of different-length prompts gives what each prompt gives alone.
    const prompts = ["Once upon a time, a dog", "", "The sun was"];
    const batch = await gen.generateBatch(prompts, { raw: true, maxTokens: 24 });
    for (let i = 0; i < prompts.length; i++) {
      const one = await gen.generate(prompts[i], { raw: true, maxTokens: 24 });
      assert.deepEqual(batch[i].tokens, one.tokens, `prompt ${i}`);
      assert.equal(batch[i].text, one.text);
    }

    // Too long for the context (512) -> clear error.
    await assert.rejects(
      gen.generate("Once upon a time ".repeat(200), { raw: true, maxTokens: 4 }),
      (e: unknown) => e instanceof TunekitError && e.code === "prompt_too_long" && /512/.test(e.message),
    );
    await assert.rejects(gen.generate("", { raw: true, topP: 0 }), (e: unknown) => e instanceof TunekitError && e.code === "usage");
  } finally {
    await gen.dispose();
  }
});

test("generate: the JS reference backend agrees with ONNX Runtime", { skip: !stories }, async () => {
  const gen = await TextGenerator.load(stories!, { backend: "js" });
  const g = await gen.generate("", { raw: true, maxTokens: 32 });
  assert.deepEqual(g.tokens, manifest.greedy.tokens.slice(0, 32));
});
