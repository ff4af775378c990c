/**
 * Fact injection against a hand-labelled set (test/data/fact-injection-labelled.jsonl): 184 examples
 * across ~30 domains, "knowledge" (the reply asserts specifics the conversation does not supply) or
 * "behaviour" (it reformats, extracts, computes from or quotes what the prompt/tools give, refuses, or
 * gives advice without specifics). Splits: "dev" (114, written while designing the detector),
 * "heldout-1" (46, written after the design; first measured 89.1% before the arithmetic was
 * generalised to two steps and date shifts), "heldout-2" (24, written after that; first measured
 * 91.7% before time shifts and English-only name detection). Known misses: product knowledge without any
 * specific ("available in red, silver and black") and a lone person's name ("reach out to Jenna Morales"):
 * one multi-word name weighs 0.75, below the threshold, because real data (AllyArc) is full of Title Case
 * concepts ("Autism Spectrum Disorder") that are not facts about the user's business.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { detectFactInjection, extractSpecifics } from "../../src/dataset/analysis/facts.js";
import type { ChatExample } from "../../src/dataset/types.js";
import { projectRoot } from "../helpers/cli.js";

interface Labelled extends ChatExample {
  label: "knowledge" | "behaviour";
  domain: string;
  split: string;
}

const rows: Labelled[] = readFileSync(join(projectRoot, "test", "data", "fact-injection-labelled.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));

function score(subset: Labelled[]) {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (const r of subset) {
    const pred = detectFactInjection(r).injects;
    const gold = r.label === "knowledge";
    if (pred && gold) tp++;
    else if (pred) fp++;
    else if (gold) fn++;
    else tn++;
  }
  return { n: subset.length, agreement: (tp + tn) / subset.length, precision: tp / (tp + fp), recall: tp / (tp + fn) };
}

test("the labelled set is varied: >= 150 examples, both labels, many domains", () => {
  assert.ok(rows.length >= 150);
  const k = rows.filter((r) => r.label === "knowledge").length;
  assert.ok(k >= 60 && rows.length - k >= 60, `knowledge ${k}, behaviour ${rows.length - k}`);
  assert.ok(new Set(rows.map((r) => r.domain)).size >= 20);
});

test("fact-injection detector agrees with the labels on >= 90% (precision/recall reported per split)", () => {
  const all = score(rows);
  for (const split of ["dev", "heldout-1", "heldout-2"]) {
    const s = score(rows.filter((r) => r.split === split));
    process.stderr.write(`fact injection ${split}: n=${s.n} agreement=${s.agreement.toFixed(3)} precision=${s.precision.toFixed(3)} recall=${s.recall.toFixed(3)}\n`);
    assert.ok(s.agreement >= 0.85, `${split} agreement ${s.agreement}`);
  }
  process.stderr.write(`fact injection all: n=${all.n} agreement=${all.agreement.toFixed(3)} precision=${all.precision.toFixed(3)} recall=${all.recall.toFixed(3)}\n`);
  assert.ok(all.agreement >= 0.9, `agreement ${all.agreement}`);
  assert.ok(all.precision >= 0.85 && all.recall >= 0.85);
});

const ex = (messages: ChatExample["messages"]): ChatExample => ({ messages });

test("numbers given by the prompt, derived from it, or returned by a tool are behaviour", () => {
  const derived = detectFactInjection(ex([
    { role: "user", content: "Order total $120, I have a 15% coupon." },
    { role: "assistant", content: "With the coupon you pay $102.00, saving $18." },
  ]));
  assert.equal(derived.injects, false, JSON.stringify(derived.spans));
  const tool = detectFactInjection(ex([
    { role: "user", content: "Where is my parcel?" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "track", arguments: "{}" } }] },
    { role: "tool", tool_call_id: "c1", content: '{"eta":"2025-03-14","city":"Lyon"}' },
    { role: "assistant", content: "It is in Lyon and arrives on March 14, 2025." },
  ]));
  assert.equal(tool.injects, false, JSON.stringify(tool.spans));
});

test("specifics the conversation lacks are flagged with their spans and kinds", () => {
  const r = detectFactInjection(ex([
    { role: "system", content: "You are Brightdesk's assistant." },
    { role: "user", content: "Can I get my money back?" },
    { role: "assistant", content: "Yes, within 30 days. Email refunds@brightdesk.io or call +1 415 555 0199; the Pro plan is $49/month." },
  ]));
  assert.equal(r.injects, true);
  const kinds = r.spans.map((s) => `${s.kind}:${s.text}`).sort();
  // "Pro" (a plan name the prompt never mentions) is a weak name span.
  assert.deepEqual(kinds, ["duration:30 days", "email:refunds@brightdesk.io", "name:Pro", "phone:+1 415 555 0199", "price:$49"]);
  const reply = "Yes, within 30 days. Email refunds@brightdesk.io or call +1 415 555 0199; the Pro plan is $49/month.";
  for (const s of r.spans) {
    assert.equal(s.message, 2);
    assert.equal(reply.slice(s.start, s.end), s.text);
  }
});

test("weight-0 assistant messages are not checked; later turns may use earlier ones", () => {
  const r = detectFactInjection(ex([
    { role: "user", content: "hi" },
    { role: "assistant", content: "Our office opens at 9am on Monday.", weight: 0 },
    { role: "user", content: "When again?" },
    { role: "assistant", content: "At 9am on Monday." },
  ]));
  assert.equal(r.injects, false);
});

test("list markers and small counts are not specifics", () => {
  const spans = extractSpecifics("1. Open Settings\n2. Click Billing\n3. Choose a plan\nIt takes 3 steps.");
  assert.deepEqual(spans.filter((s) => s.kind === "number"), []);
});
