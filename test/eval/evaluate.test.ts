import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeChat } from "../servers/fake-chat.js";
import { createEndpointRunner } from "../../src/eval/runner/endpoint.js";
import { evaluate } from "../../src/eval/evaluate.js";
import { readEvalItems, promptFor } from "../../src/eval/items.js";
import { inferFormatPlan, scoreFormat } from "../../src/eval/format.js";
import { checkGates, parseGate } from "../../src/eval/gates.js";
import { ALL_METRIC_NAMES } from "../../src/eval/metrics.js";
import { breakEven, lookupPrice, summarizeUsage } from "../../src/eval/economics.js";
import { analyzeOverfitting, curvesFromRecords, readLossCurves } from "../../src/eval/overfit.js";
import { checkRetention } from "../../src/eval/retention-checks.js";
import { RETENTION_SET } from "../../src/eval/retention-set.js";
import { apiKeyFor, parseModelSpec, parseModelSpecs } from "../../src/eval/runner/spec.js";
import { tempDir } from "../helpers/fixtures.js";

const tldr = (a: string, b: string) => `TL;DR: ${a}\nNext step: ${b}`;

test("format plan: line template from references, JSON schema inferred or given", () => {
  const plan = inferFormatPlan([tldr("a", "b"), tldr("c", "d"), tldr("e", "f")]);
  assert.equal(plan.kind, "template");
  assert.equal(scoreFormat(plan, tldr("x", "y")).formatCompliance, 1);
  const miss = scoreFormat(plan, "Sure! Here is what to do: restart it.");
  assert.equal(miss.formatCompliance, 0);
  assert.ok(miss.formatProblem);

  const json = inferFormatPlan(['{"intent":"refund","urgent":true}', '{"intent":"bug","urgent":false}']);
  assert.equal(json.kind, "json");
  assert.equal(scoreFormat(json, '{"intent":"other","urgent":false}').formatCompliance, 1);
  const wrongType = scoreFormat(json, '{"intent":"x","urgent":"yes"}');
  assert.deepEqual([wrongType.validJson, wrongType.schemaConformance, wrongType.formatCompliance], [1, 0, 0]);
  const fenced = scoreFormat(json, '```json\n{"intent":"x","urgent":true}\n```');
  assert.deepEqual([fenced.validJson, fenced.schemaConformance, fenced.formatCompliance], [0, 1, 0]);
  assert.equal(scoreFormat(json, "not json").validJson, 0);
  const given = inferFormatPlan(["free text"], { type: "object", required: ["a"] });
  assert.equal(given.kind, "json");
  assert.equal(inferFormatPlan(["hello there", "how are you"]).kind, "none");
});

test("gates: parsing, default model, unknown metric, missing value fails", () => {
  const g = parseGate("format_compliance < 0.95", ALL_METRIC_NAMES);
  assert.deepEqual([g.metric, g.op, g.value, g.model], ["format_compliance", "<", 0.95, undefined]);
  assert.equal(parseGate("tuned.retention < 80%", ALL_METRIC_NAMES).value, 0.8);
  assert.equal(parseGate("tuned.retention < 80%", ALL_METRIC_NAMES).model, "tuned");
  assert.throws(() => parseGate("formatt < 1", ALL_METRIC_NAMES), /unknown metric/);
  assert.throws(() => parseGate("format_compliance is low", ALL_METRIC_NAMES), /cannot read/);
  const metrics = { base: { format_compliance: 0.2, factual_accuracy: null }, tuned: { format_compliance: 0.97, factual_accuracy: null } };
  const r = checkGates([g, parseGate("base.format_compliance < 0.5", ALL_METRIC_NAMES), parseGate("factual_accuracy < 0.5", ALL_METRIC_NAMES)], metrics, "tuned");
  assert.deepEqual(r.map((x) => x.failed), [false, true, true]);
  assert.match(r[0].text, /^pass: tuned format_compliance = 0.97/);
  assert.throws(() => checkGates([parseGate("nobody.chrf < 1", ALL_METRIC_NAMES)], metrics, "tuned"), /no model named/);
});

test("economics: cost per 1k calls, prices, break-even", () => {
  const e = summarizeUsage(
    [
      { tokensIn: 1000, tokensOut: 100, latencyMs: 10 },
      { tokensIn: 3000, tokensOut: 300, latencyMs: 30 },
      { tokensIn: 0, tokensOut: 0, latencyMs: 0, error: "HTTP 500" },
    ],
    { inputPerM: 0.15, outputPerM: 0.6 },
  );
  assert.equal(e.calls, 3);
  assert.equal(e.failedCalls, 1);
  assert.equal(e.meanTokensIn, 2000);
  // (2000 * 0.15 + 200 * 0.6) / 1e6 * 1000 = 0.42
  assert.ok(Math.abs(e.costPer1kCalls! - 0.42) < 1e-12);
  assert.equal(e.latencyMsP50, 20);
  assert.deepEqual(lookupPrice("ft:gpt-4o-mini-2024-07-18:acme::x1"), { inputPerM: 0.3, outputPerM: 1.2 });
  assert.deepEqual(lookupPrice("gpt-4o-mini-2024-07-18"), { inputPerM: 0.15, outputPerM: 0.6 });
  assert.equal(lookupPrice("llama3"), undefined);
  const b = breakEven(3, 0.42, 0.12);
  assert.equal(b.calls, 10000);
  assert.equal(breakEven(3, 0.1, 0.2).calls, null);
});

test("overfitting: held-out rising while train falls is flagged; a healthy run is not", () => {
  const events = [
    ...Array.from({ length: 100 }, (_, i) => ({ type: "step", step: i + 1, loss: 2 - i * 0.015 })),
    { type: "eval", step: 25, heldOutLoss: 1.8, trainLoss: 1.7 },
    { type: "eval", step: 50, heldOutLoss: 1.5, trainLoss: 1.3 },
    { type: "eval", step: 75, heldOutLoss: 1.6, trainLoss: 1.0 },
    { type: "eval", step: 100, heldOutLoss: 1.75, trainLoss: 0.6 },
  ];
  const curves = curvesFromRecords(events);
  assert.equal(curves.train.length, 100);
  assert.equal(curves.train[0].loss, 2);
  assert.deepEqual(curves.heldOut.map((p) => p.step), [25, 50, 75, 100]);
  const a = analyzeOverfitting(curves);
  assert.match(a.warning!, /held-out loss rose from 1\.500 \(step 50\) to 1\.750 \(step 100\)/);
  assert.equal(a.bestHeldOut!.step, 50);
  const healthy = curvesFromRecords([...events.slice(0, 100), { step: 50, valid_loss: 1.5 }, { step: 100, valid_loss: 1.4 }]);
  assert.equal(analyzeOverfitting(healthy).warning, null);
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, "metrics.jsonl"), events.map((e) => JSON.stringify(e)).join("\n") + '\n{"step": 101, "lo');
    const fromDir = readLossCurves(t.dir);
    assert.equal(fromDir.heldOut.length, 4);
    assert.throws(() => readLossCurves(join(t.dir, "nope")), /no such file/);
  } finally {
    t.cleanup();
  }
});

test("retention set: 40-60 varied items, and the checkers accept right and reject wrong answers", () => {
  assert.ok(RETENTION_SET.length >= 40 && RETENTION_SET.length <= 60);
  assert.equal(new Set(RETENTION_SET.map((i) => i.id)).size, RETENTION_SET.length);
  assert.equal(new Set(RETENTION_SET.map((i) => i.category)).size, 4);
  const item = (id: string) => RETENTION_SET.find((i) => i.id === id)!.check;
  assert.ok(checkRetention(item("arith-2"), "72"));
  assert.ok(checkRetention(item("arith-2"), "9 x 8 = 72."));
  assert.ok(!checkRetention(item("arith-2"), "It is 71"));
  assert.ok(checkRetention(item("fact-1"), "Paris."));
  assert.ok(!checkRetention(item("fact-1"), "Lyon"));
  assert.ok(checkRetention(item("instr-3"), "red\nblue\ngreen"));
  assert.ok(!checkRetention(item("instr-3"), "red, blue, green"));
  assert.ok(checkRetention(item("instr-12"), "GREEN"));
  assert.ok(!checkRetention(item("instr-12"), "Green"));
  assert.ok(checkRetention(item("json-1"), '{"name": "Maria", "age": 34}'));
  assert.ok(checkRetention(item("json-1"), '```json\n{"name": "maria", "age": "34"}\n```'));
  assert.ok(!checkRetention(item("json-1"), '{"name": "Maria", "age": 43}'));
  assert.ok(!checkRetention(item("json-1"), "name: Maria, age: 34"));
});

test("model specs: pairs, shorthands, system files, prices; keys only from env", () => {
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, "p.txt"), "You are terse, precise, kind.\n");
    const s = parseModelSpec("name=base,endpoint=http://127.0.0.1:11434/v1,model=llama3,system=@p.txt,price_in=0.1,price_out=0.2", 0, t.dir);
    assert.equal(s.name, "base");
    assert.deepEqual(s.source, { kind: "endpoint", baseUrl: "http://127.0.0.1:11434/v1", model: "llama3" });
    assert.equal(s.system, "You are terse, precise, kind.");
    assert.deepEqual(s.price, { inputPerM: 0.1, outputPerM: 0.2 });
    // a literal system prompt may contain commas
    assert.equal(parseModelSpec("name=x,model=m,system=Be brief, be kind,concurrency=2", 0, t.dir).system, "Be brief, be kind");
    const ft = parseModelSpec("ft:gpt-4o-mini:acme::abc", 1, t.dir);
    assert.equal(ft.name, "model2");
    assert.deepEqual(ft.source, { kind: "endpoint", baseUrl: "https://api.openai.com/v1", model: "ft:gpt-4o-mini:acme::abc" });
    assert.equal(parseModelSpec(".", 0, t.dir).source.kind, "local");
    assert.equal(parseModelSpec("name=t,local=.,adapter=./a", 0, t.dir).source.kind, "local");
    assert.throws(() => parseModelSpec("name=b,model=m,key=sk-123", 0, t.dir), /API keys are not accepted/);
    assert.throws(() => parseModelSpec("name=b,endpoint=ftp://x,model=m", 0, t.dir), /not an http/);
    assert.throws(() => parseModelSpec("name=b,system=@missing.txt,model=m", 0, t.dir), /no such file/);
    assert.throws(() => parseModelSpecs(["name=a,model=x", "name=a,model=y"], t.dir), /two models are named/);
    const ep = { kind: "endpoint" as const, baseUrl: "https://api.openai.com/v1", model: "m" };
    assert.equal(apiKeyFor(ep, { OPENAI_API_KEY: "sk-1" }), "sk-1");
    assert.throws(() => apiKeyFor(ep, {}), /OPENAI_API_KEY is not set/);
    assert.equal(apiKeyFor({ ...ep, baseUrl: "http://127.0.0.1:1/v1", keyEnv: "MY_KEY" }, { MY_KEY: "k" }), "k");
    assert.equal(apiKeyFor({ ...ep, baseUrl: "http://127.0.0.1:1/v1" }, {}), undefined);
  } finally {
    t.cleanup();
  }
});

test("evaluate: base vs tuned end to end through the fake server", async () => {
  // The "tuned" model answers in the TL;DR format; the "base" model rambles, except with the long prompt.
  const s = await startFakeChat({
    reply: (b) => {
      const q = b.messages.at(-1)!.content;
      const sys = b.messages.find((m) => m.role === "system")?.content ?? "";
      if (b.model === "judge") return '{"reasoning": "fine", "score": 4}';
      if (b.model === "tuned" || sys.includes("FORMAT")) return tldr(`about ${q}`, "reply within 30 days");
      return `Well, regarding ${q}, I think you should wait 14 days.`;
    },
  });
  const t = tempDir();
  try {
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ messages: [{ role: "system", content: "short" }, { role: "user", content: `ticket ${i}` }, { role: "assistant", content: tldr(`about ticket ${i}`, "reply within 30 days") }] }),
    );
    const file = join(t.dir, "heldout.jsonl");
    writeFileSync(file, lines.join("\n") + "\n");
    const items = await readEvalItems(file);
    assert.equal(items.length, 20);
    assert.equal(items[3].line, 4);
    assert.deepEqual(promptFor(items[0], "LONG")[0], { role: "system", content: "LONG" });
    const mk = (model: string) => createEndpointRunner({ baseUrl: s.baseUrl, model, price: { inputPerM: 1, outputPerM: 1 } });
    const progress: number[] = [];
    const r = await evaluate({
      items,
      models: [
        { name: "base", runner: mk("base"), price: { inputPerM: 1, outputPerM: 1 } },
        { name: "base-long", runner: mk("base"), system: "FORMAT: answer as TL;DR then Next step. ".repeat(20), price: { inputPerM: 1, outputPerM: 1 } },
        { name: "tuned", runner: mk("tuned"), price: { inputPerM: 2, outputPerM: 2 } },
      ],
      retention: true,
      judge: { runner: mk("judge"), rubric: "Is it helpful?" },
      trainingCostUsd: 0.01,
      onProgress: (d) => progress.push(d),
    });
    assert.equal(r.format.kind, "template");
    const [base, long, tuned] = r.models;
    assert.equal(base.aggregate.format_compliance, 0);
    assert.equal(tuned.aggregate.format_compliance, 1);
    assert.equal(long.aggregate.format_compliance, 1);
    assert.equal(tuned.aggregate.exact_match, 1);
    assert.equal(base.aggregate.factual_accuracy, 0);
    assert.equal(tuned.aggregate.factual_accuracy, 1);
    assert.equal(base.examples[0].factual!.contradicting[0], "14 days");
    assert.equal(tuned.aggregate.judge_score, 0.75);
    assert.equal(tuned.examples[0].judge!.reasoning, "fine");
    assert.ok(long.economics.meanTokensIn > base.economics.meanTokensIn + 100);
    assert.ok(tuned.retention && tuned.retention.items.length === RETENTION_SET.length);
    const fc = r.comparisons.find((c) => c.a === "tuned" && c.metric === "format_compliance")!;
    assert.equal(fc.verdict.text, "tuned beats base on format compliance by +100 points [100, 100]");
    assert.equal(r.comparisons.find((c) => c.a === "base-long" && c.metric === "format_compliance")!.verdict.kind, "better");
    assert.ok(r.headline[0].startsWith("base-long beats base on format compliance"));
    assert.equal(r.breakEven.length, 2);
    assert.equal(r.breakEven.find((b) => b.against === "base-long")!.calls !== null, true, "tuned is cheaper than the long prompt");
    assert.equal(r.breakEven.find((b) => b.against === "base")!.calls, null);
    assert.equal(progress.at(-1), 3 * (20 * 2 + RETENTION_SET.length));
    assert.equal(r.items[0].question, "ticket 0");
    // train-set gap: the same models on "training" items (here: the base rambles there too)
    const gap = await evaluate({ items: items.slice(0, 4), trainItems: items.slice(4, 8), models: [{ name: "tuned", runner: mk("tuned") }] });
    const g = gap.trainGap!.find((x) => x.metric === "format_compliance")!;
    assert.deepEqual([g.model, g.train, g.heldOut, g.gap], ["tuned", 1, 1, 0]);
    // the example's own system prompt was sent to base; base-long's replaced it
    const sent = s.requests.filter((q) => q.body.messages.some((m) => m.content === "ticket 0"));
    assert.ok(sent.some((q) => q.body.messages[0].content === "short"));
    assert.ok(sent.some((q) => q.body.messages[0].content.startsWith("FORMAT")));
  } finally {
    t.cleanup();
    await s.close();
  }
});
