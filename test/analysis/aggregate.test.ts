import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyzeExamples, createFeatureContext, DatasetAggregator, extractFeatures, defaultEpochs, estimateHostedCost, describeNumbers } from "../../src/dataset/analysis/index.js";
import type { ChatExample, SourcedExample } from "../../src/dataset/types.js";
import { openAiTokenizerForModel } from "../../src/tokenize/openai.js";
import { projectRoot } from "../helpers/cli.js";

const src = (example: ChatExample, line: number): SourcedExample => ({ example, file: "t.jsonl", line, index: line - 1, format: "openai-chat" });
const chat = (system: string | undefined, user: string, assistant: string): ChatExample => ({
  messages: [...(system ? [{ role: "system" as const, content: system }] : []), { role: "user" as const, content: user }, { role: "assistant" as const, content: assistant }],
});
const codes = (issues: { code: string; line: number }[], code: string) => issues.filter((i) => i.code === code).map((i) => i.line);

function readExamples(name: string): SourcedExample[] {
  return readFileSync(join(projectRoot, "examples", name), "utf8")
    .trim()
    .split("\n")
    .map((l, i) => src(JSON.parse(l), i + 1));
}

const topics = [
  "the printer jams on every second page", "login fails after the password reset", "the invoice shows the wrong VAT number",
  "the app crashes when I open the camera", "exporting to CSV produces an empty file", "the password email never arrives",
  "sync is stuck at fifty percent since yesterday", "dark mode resets after every update", "I was billed twice this month",
  "uploads time out for files over a few megabytes", "the search box ignores accented letters", "notifications arrive hours late",
];
const SYS = "You are a support agent. Reply as TL;DR + Next step.";
function ticketSet(): SourcedExample[] {
  return topics.map((t, i) => src(chat(SYS, `Ticket: ${t}.`, `TL;DR: Customer reports that ${t}.\nNext step: Ask for screenshots and the exact time it happened.`), i + 1));
}

test("features are small, plain and structured-clone-able (worker-safe)", () => {
  const ctx = createFeatureContext({ model: "gpt-4o-mini-2024-07-18" });
  const f = extractFeatures(src(chat("sys", "hello there", "TL;DR: hi\nNext step: wave"), 7), ctx);
  const clone = structuredClone(f);
  assert.deepEqual(clone, f);
  assert.equal(f.line, 7);
  assert.equal(f.messages, 3);
  assert.equal(f.shape, "lines:TL;DR:\u241ENext step:");
  assert.equal(f.minhash.length, 128, "prompt and reply signatures, 64 bins each");
  assert.ok(f.promptShingles > 0 && f.replyShingles > 0);
  // Real token counts: the assistant part equals the tokenizer's count of the reply text.
  const tok = openAiTokenizerForModel("gpt-4o-mini-2024-07-18");
  assert.equal(f.assistantTokens, tok.count("TL;DR: hi\nNext step: wave"));
  assert.ok((f.tokens ?? 0) > (f.assistantTokens ?? 0) + tok.count("sys") + tok.count("hello there"));
});

test("template-sharing tickets are not near duplicates; a lightly edited copy is; exact copies and conflicts are found", () => {
  const exs = ticketSet();
  const n = exs.length;
  const copy = exs[2].example;
  exs.push(src(JSON.parse(JSON.stringify(copy)), n + 1)); // exact duplicate of line 3
  // Line 5 gets a long unique description; its near copy changes one word of it.
  const body = "We export the quarterly report from the analytics tab every Monday morning and the download finishes, but the file only contains the header row while the dashboard clearly shows four hundred rows for the same filters and date range";
  exs[4] = src(chat(SYS, `Ticket: ${topics[4]}. ${body}.`, `TL;DR: Customer reports that ${topics[4]}.\nNext step: Ask for screenshots and the exact time it happened.`), 5);
  const near = chat(SYS, `Ticket: ${topics[4]}. ${body.replace("Monday", "Tuesday")}.`, `TL;DR: Customer reports that ${topics[4]}.\nNext step: Ask for screenshots and the exact time it happened.`);
  exs.push(src(near, n + 2)); // near duplicate of line 5
  exs.push(src(chat(SYS, `Ticket: ${topics[0]}.`, "TL;DR: Printer problem.\nNext step: Replace the toner."), n + 3)); // same prompt as line 1
  const r = analyzeExamples(exs);
  assert.deepEqual(codes(r.issues, "duplicate"), [n + 1]);
  assert.deepEqual(codes(r.issues, "near_duplicate"), [n + 2]);
  assert.deepEqual(codes(r.issues, "conflicting_answers"), [n + 3]);
  const nd = r.issues.find((i) => i.code === "near_duplicate")!;
  assert.equal(nd.details?.of, 5);
  assert.equal(r.stats.duplicates.exact, 1);
  assert.equal(r.stats.duplicates.near, 1);
});

test("the bundled support-ticket set (template-heavy) has no duplicates, outliers or fact injection", () => {
  const r = analyzeExamples(readExamples("support-tickets.jsonl"), { model: "gpt-4o-mini-2024-07-18" });
  for (const code of ["duplicate", "near_duplicate", "conflicting_answers", "fact_injection", "format_outlier", "inconsistent_system_prompt"]) {
    assert.deepEqual(codes(r.issues, code), [], `${code}: ${JSON.stringify(r.issues.filter((i) => i.code === code).slice(0, 3))}`);
  }
  assert.equal(r.stats.factInjection.verdict, "behaviour");
  assert.equal(r.replyShape.kind, "line-template");
  assert.equal(r.stats.shape.dominantKind, "line-template");
});

test("the bundled policy-facts set is judged knowledge-teaching", () => {
  const r = analyzeExamples(readExamples("policy-facts.jsonl"));
  assert.equal(r.stats.factInjection.verdict, "knowledge");
  assert.ok(r.stats.factInjection.share >= 0.6, `share ${r.stats.factInjection.share}`);
  const w = r.issues.find((i) => i.code === "fact_injection")!;
  assert.ok(Array.isArray(w.details?.spans) && (w.details!.spans as unknown[]).length > 0);
});

test("system prompt variants, JSON format outliers, language and length outliers", () => {
  const exs: SourcedExample[] = [];
  for (let i = 0; i < 12; i++) {
    exs.push(src(chat(i === 5 ? "You are a classifier!!" : "Classify the ticket.", `ticket text number ${i} about something`, JSON.stringify({ label: i % 2 ? "bug" : "question", priority: i % 3 })), i + 1));
  }
  exs.push(src(chat("Classify the ticket.", "ticket about billing", "It is a bug, priority 2."), 13)); // not JSON
  exs.push(src(chat("Classify the ticket.", "ticket about login", JSON.stringify({ label: "bug" })), 14)); // missing key
  exs.push(src(chat("Classify the ticket.", "ticket about export", JSON.stringify({ label: "bug", priority: 1, reason: "x".repeat(3000) })), 15)); // very long
  const r = analyzeExamples(exs);
  assert.deepEqual(codes(r.issues, "inconsistent_system_prompt"), [6]);
  const fo = codes(r.issues, "format_outlier");
  assert.ok(fo.includes(13) && fo.includes(14), `format outliers ${fo}`);
  assert.match(r.issues.find((i) => i.code === "format_outlier" && i.line === 14)!.message, /priority/);
  assert.deepEqual(codes(r.issues, "length_outlier"), [15]);
  assert.equal(r.stats.systemPrompts.variants, 2);
  assert.equal(r.replyShape.kind, "json");
  assert.deepEqual(r.stats.shape.jsonRequiredKeys, ["label", "priority"]);
  assert.equal(codes(r.issues, "too_few_examples").length, 1);
});

test("too_many_tokens is an error counted with the model's real tokenizer; too_few_examples under 10", () => {
  const exs = [src(chat(undefined, "hi", "word ".repeat(300)), 1), src(chat(undefined, "hi", "short"), 2)];
  const ctx = createFeatureContext({ model: "gpt-4o-mini-2024-07-18", tokenLimit: 100 });
  const agg = new DatasetAggregator({ model: "gpt-4o-mini-2024-07-18", tokenLimit: ctx.tokenLimit });
  for (const e of exs) agg.add(extractFeatures(e, ctx));
  const { issues, stats } = agg.finish();
  const t = issues.filter((i) => i.code === "too_many_tokens");
  assert.equal(t.length, 1);
  assert.equal(t[0].severity, "error");
  assert.equal(t[0].line, 1);
  const few = issues.find((i) => i.code === "too_few_examples")!;
  assert.equal(few.line, 0);
  assert.match(few.message, /requires at least 10/);
  assert.equal(stats.overTokenLimit, 1);
  assert.equal(createFeatureContext({ model: "gpt-4o-mini-2024-07-18" }).tokenLimit, 65536);
});

test("stats distributions match a direct computation", () => {
  const exs = ticketSet();
  const r = analyzeExamples(exs, { model: "gpt-4o-mini-2024-07-18" });
  const ctx = createFeatureContext({ model: "gpt-4o-mini-2024-07-18" });
  const tokens = exs.map((e) => ctx.countTokens!(e.example).total).sort((a, b) => a - b);
  assert.equal(r.stats.tokens?.min, tokens[0]);
  assert.equal(r.stats.tokens?.max, tokens[tokens.length - 1]);
  assert.equal(r.stats.tokens?.sum, tokens.reduce((a, b) => a + b, 0));
  assert.equal(r.stats.messages.median, 3);
  const d = describeNumbers([1, 2, 3, 4, 100]);
  assert.deepEqual([d.min, d.median, d.mean, d.max], [1, 3, 22, 100]);
  assert.ok(Math.abs(d.p95 - (4 + 0.8 * 96)) < 1e-9);
  assert.equal(r.stats.histogram.of, "tokens");
  assert.equal(r.stats.histogram.bins.reduce((s, b) => s + b.count, 0), exs.length);
});

test("describeNumbers: counts (the linear path) and any other numbers (the sorting path) give the sorted-array statistics", () => {
  const reference = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number) => {
      const pos = (s.length - 1) * p;
      const lo = Math.floor(pos);
      const hi = Math.min(s.length - 1, lo + 1);
      return s[lo] + (s[hi] - s[lo]) * (pos - lo);
    };
    return { count: s.length, min: s[0], mean: s.reduce((a, b) => a + b, 0) / s.length, median: q(0.5), p5: q(0.05), p95: q(0.95), max: s.at(-1), sum: s.reduce((a, b) => a + b, 0) };
  };
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const cases: number[][] = [[5], [0, 0, 0], [3, 1], [1, 2, 3, 4, 100], [0.5, 2, 1.25], [-3, 4, 1], [1, 2 ** 40, 7]];
  for (const n of [2, 19, 20, 21, 1000, 12345]) cases.push(Array.from({ length: n }, () => Math.floor(rand() * rand() * 3000)));
  for (const xs of cases) {
    const got = describeNumbers(xs);
    const want = reference(xs);
    for (const k of Object.keys(want) as (keyof typeof want)[]) assert.ok(Math.abs(got[k] - want[k]!) <= 1e-9 * Math.max(1, Math.abs(want[k]!)), `${k} of ${xs.length} values: ${got[k]} vs ${want[k]}`);
  }
  assert.deepEqual(describeNumbers(Int32Array.of(4, 4, 9)), { count: 3, min: 4, mean: 17 / 3, median: 4, p5: 4, p95: 9 - 0.1 * 5, max: 9, sum: 17 });
});

test("OpenAI's default epochs and the hosted cost", () => {
  assert.equal(defaultEpochs(10), 10); // 3*10 < 100 -> min(25, floor(100/10))
  assert.equal(defaultEpochs(3), 25); // floor(100/3) = 33 -> capped at 25
  assert.equal(defaultEpochs(40), 3);
  assert.equal(defaultEpochs(8333), 3); // 3n = 24999: the default
  assert.equal(defaultEpochs(8334), 2); // 3n = 25002 > 25000 -> max(1, floor(25000 / 8334)) = 2
  assert.equal(defaultEpochs(10_000), 2);
  assert.equal(defaultEpochs(100_000), 1);
  const c = estimateHostedCost({ examples: 50, datasetTokens: 20_000, model: "m", pricePerMTok: 3, pricesAsOf: "2026-12-06" });
  assert.equal(c.epochs, 3);
  assert.equal(c.billedTokens, 60_000);
  assert.equal(c.cost, 0.18);
  assert.equal(c.pricesAsOf, "2026-12-06");
  assert.equal(estimateHostedCost({ examples: 50, datasetTokens: 20_000, model: "x" }).cost, undefined, "no price, no cost");
  assert.equal(estimateHostedCost({ examples: 50, datasetTokens: 20_000, model: "x", pricePerMTok: 10, epochs: 1 }).cost, 0.2);
});
