import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const support = join(projectRoot, "examples", "support-tickets.jsonl");

test("tunekit stats --json: distributions, hosted cost, reply shape, fact verdict", async () => {
  const res = await runCli(["stats", support, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  const r = JSON.parse(res.stdout);
  assert.equal(r.examples, 66);
  assert.equal(r.model, "o200k_base", "without --model: the documented default tokenizer");
  assert.equal(r.stats.tokenLimit, 32_768);
  for (const k of ["min", "mean", "median", "p5", "p95", "max"]) {
    assert.equal(typeof r.stats.tokens[k], "number");
    assert.equal(typeof r.stats.assistantTokens[k], "number");
    assert.equal(typeof r.stats.messages[k], "number");
  }
  assert.ok(r.stats.tokens.min <= r.stats.tokens.median && r.stats.tokens.median <= r.stats.tokens.max);
  assert.equal(r.hosted.epochs, 3); // 66 examples: 3 x 66 >= 100
  assert.equal(r.hosted.billedTokens, 3 * r.stats.tokens.sum);
  // Today's options at the catalog's prices, with their date: Together, Fireworks, this machine.
  assert.deepEqual(r.hostedOptions.map((o: { provider: string }) => o.provider), ["together", "fireworks", "local"]);
  assert.equal(r.hosted.model, "Qwen/Qwen3-8B");
  assert.equal(r.hosted.pricePerMTok, 1);
  assert.equal(r.hosted.pricesAsOf, "2026-12-06");
  assert.ok(Math.abs(r.hosted.cost - r.hosted.billedTokens / 1e6) < 1e-3);
  assert.equal(r.hostedOptions[1].pricePerMTok, 0.5);
  assert.equal(r.hostedOptions[2].cost, 0);
  assert.equal(r.replyShape.kind, "line-template");
  assert.deepEqual(r.replyShape.template.slots, ["TL;DR:", "Next step:"]);
  assert.equal(r.stats.factInjection.verdict, "behaviour");
  assert.equal(r.stats.systemPrompts.variants, 1);
});

test("tunekit stats: human output with histogram, price override, price file and errors", async () => {
  const res = await runCli(["stats", support, "--price-per-mtok", "10"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /tokens per example:/);
  assert.match(res.stdout, /█/);
  assert.match(res.stdout, /at \$10\/1M tokens/);
  assert.match(res.stdout, /line template "TL;DR: \/ Next step:"/);
  const { dir, cleanup } = tempDir();
  try {
    const prices = join(dir, "prices.json");
    writeFileSync(prices, JSON.stringify({ "gpt-4.1-nano-2025-04-14": 0.5 }));
    const viaFile = await runCli(["stats", join(projectRoot, "examples", "policy-facts.jsonl"), "--model", "gpt-4.1-nano-2025-04-14", "--prices", prices, "--json"]);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    const r = JSON.parse(viaFile.stdout);
    assert.equal(r.hosted.pricePerMTok, 0.5);
    assert.equal(r.hosted.epochs, 3); // 26 examples: 3 x 26 < 100 -> min(25, floor(100 / 26)) = 3
    assert.equal(r.stats.factInjection.verdict, "knowledge");
    writeFileSync(prices, "{oops");
    const bad = await runCli(["stats", support, "--prices", prices]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /price file/);
    const unknown = await runCli(["stats", support, "--model", "not-a-model"]);
    assert.equal(unknown.code, 2);
    assert.doesNotMatch(unknown.stderr, /at .*\.ts:\d+/);
  } finally {
    cleanup();
  }
});
