import { test } from "node:test";
import assert from "node:assert/strict";
import { chrF, exactMatch, lengthRatio, tokenF1 } from "../../src/eval/similarity.js";
import { normalizeAnswer } from "../../src/eval/text.js";
import { extractSpecifics, factualAccuracy } from "../../src/eval/factual.js";

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`);

test("normalisation drops case, punctuation and articles", () => {
  assert.equal(normalizeAnswer("  The  Answer, is: 42! "), "answer is 42");
  assert.equal(exactMatch("The Answer!", "answer"), 1);
  assert.equal(exactMatch("an answer", "answers"), 0);
});

test("token F1 matches the SQuAD definition on hand-computed cases", () => {
  // pred tokens: cat sat on mat; ref: cat on mat -> P = 3/4, R = 1, F1 = 6/7
  close(tokenF1("The cat sat on the mat", "a cat on a mat"), 6 / 7);
  // repeated tokens are clipped: pred "a a b" -> [b]... articles go, so use words
  // pred: x x y, ref: x y y -> common = 2 (one x, one y), P = R = 2/3
  close(tokenF1("x x y", "x y y"), 2 / 3);
  assert.equal(tokenF1("", ""), 1);
  assert.equal(tokenF1("", "x"), 0);
  assert.equal(tokenF1("q", "x"), 0);
});

test("chrF (beta 2, order 6) matches hand-computed values", () => {
  assert.equal(chrF("ab", "ab"), 1);
  // n=1: P = R = 1/2 -> F = 1/2; n=2: no match -> 0; mean = 1/4
  close(chrF("ab", "ac"), 0.25);
  // n=1: P = 2/3, R = 1 -> F = 5PR/(4P+R) = 10/11; n=2: P = 1/2, R = 1 -> 5/6; n=3: ref has no 3-gram
  close(chrF("abc", "ab"), (10 / 11 + 5 / 6) / 2);
  // whitespace is ignored; beta 1 changes the weighting: n=1 F1 = 2*(2/3)/(5/3) = 4/5, n=2 = 2/3
  assert.equal(chrF("a b", "ab"), 1);
  close(chrF("abc", "ab", { beta: 1 }), (4 / 5 + 2 / 3) / 2);
  assert.equal(chrF("xyz", "abc"), 0);
  assert.equal(chrF("", "abc"), 0);
  // symmetric pair: precision and recall swap, so beta 2 favours the longer hypothesis
  assert.ok(chrF("abc", "ab") > chrF("ab", "abc"));
});

test("length ratio in words", () => {
  assert.equal(lengthRatio("one two three four", "one two"), 2);
  assert.equal(lengthRatio("x", ""), null);
});

test("specifics: amounts, durations, dates, emails, entities", () => {
  const s = extractSpecifics(
    "Refunds within 30 days. Email support@acme.com, see https://acme.com/help. Pro costs $29.99, 15% off. Since March 5, 2024 our office in New York opens at 9:30.",
  );
  const byKind = (k: string) => s.filter((x) => x.kind === k).map((x) => x.value);
  assert.deepEqual(byKind("duration"), ["days:30"]);
  assert.deepEqual(byKind("email"), ["support@acme.com"]);
  assert.deepEqual(byKind("url"), ["https://acme.com/help"]);
  assert.deepEqual(byKind("money"), ["usd:29.99"]);
  assert.deepEqual(byKind("percent"), ["15"]);
  assert.deepEqual(byKind("date"), ["2024-03-05"]);
  assert.deepEqual(byKind("number"), ["9:30"]);
  assert.ok(byKind("entity").includes("new york"), JSON.stringify(s));
  // spelled-out durations and thousands separators
  const t = extractSpecifics("You have thirty days. We served 1,200 users.");
  assert.deepEqual(t.map((x) => x.value), ["days:30", "1200"]);
});

test("factual accuracy: present specifics pass, contradicting ones fail", () => {
  const ref = "The refund window is 30 days; write to support@acme.com.";
  assert.equal(factualAccuracy("You can return it within 30 days. Contact support@acme.com.", ref).score, 1);
  const stale = factualAccuracy("You can return it within 14 days. Contact support@acme.com.", ref);
  assert.equal(stale.score, 0);
  assert.deepEqual(stale.contradicting.map((x) => x.value), ["days:14"]);
  assert.deepEqual(stale.missing.map((x) => x.value), ["days:30"]);
  // both the right and a wrong value: still a contradiction
  assert.equal(factualAccuracy("30 days, or 14 days for sale items, support@acme.com", ref).score, 0);
  // a duration in another unit is not a contradiction
  assert.equal(factualAccuracy("Within 30 days (replies in 2 hours) via support@acme.com", ref).score, 1);
  // missing entity
  assert.equal(factualAccuracy("It is in the capital.", "The office is in New York.").score, 0);
  assert.equal(factualAccuracy("Our office: new york.", "The office is in New York.").score, 1);
  // no specifics in the reference: not applicable
  assert.equal(factualAccuracy("whatever", "sounds good to me").score, null);
});

test("line labels are not entities", () => {
  const s = extractSpecifics("TL;DR: The refund is late.\nNext step: Ask Maria at Acme Corp.");
  assert.deepEqual(s.filter((x) => x.kind === "entity").map((x) => x.value), ["maria", "acme corp"]);
});
