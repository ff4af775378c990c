import { test } from "node:test";
import assert from "node:assert/strict";
import { pairedBootstrap, percentile, verdictText } from "../../src/eval/bootstrap.js";
import { seededRandom } from "../../src/util/random.js";

test("percentile interpolates like numpy", () => {
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(percentile([1, 2, 3, 4], 0), 1);
  assert.equal(percentile([1, 2, 3, 4], 1), 4);
  assert.ok(Math.abs(percentile([10, 20, 30], 0.975) - 29.5) < 1e-12);
});

test("seeded PRNG is reproducible and roughly uniform", () => {
  const r1 = seededRandom(7);
  const r2 = seededRandom(7);
  const xs = Array.from({ length: 10000 }, () => r1());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => r2()));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("constant differences give a zero-width interval", () => {
  const ci = pairedBootstrap([1, 1, 0.5, 0.7], [0.8, 0.8, 0.3, 0.5])!;
  assert.ok(Math.abs(ci.delta - 0.2) < 1e-12);
  assert.ok(Math.abs(ci.low - 0.2) < 1e-12 && Math.abs(ci.high - 0.2) < 1e-12);
});

test("exact bootstrap distribution of a tiny case: diffs [0, 0, 1]", () => {
  // Resampled mean = K/3 with K ~ Binomial(3, 1/3): P(0) = 8/27 > 2.5% and P(K=3) = 1/27 > 2.5%,
  // so the 95% percentile interval is exactly [0, 1].
  const ci = pairedBootstrap([0, 0, 1], [0, 0, 0], { resamples: 4000, seed: 3 })!;
  assert.equal(ci.low, 0);
  assert.equal(ci.high, 1);
  assert.ok(Math.abs(ci.delta - 1 / 3) < 1e-12);
});

test("large sample interval agrees with the normal approximation", () => {
  // 400 pairs, 120 with diff 1: mean 0.3, se = sqrt(0.3 * 0.7 / 400) = 0.0229 -> [0.255, 0.345]
  const a = Array.from({ length: 400 }, (_, i) => (i % 10 < 3 ? 1 : 0));
  const b = a.map(() => 0);
  const ci = pairedBootstrap(a, b, { resamples: 2000, seed: 11 })!;
  const se = Math.sqrt((0.3 * 0.7) / 400);
  assert.ok(Math.abs(ci.low - (0.3 - 1.96 * se)) < 0.01, `low ${ci.low}`);
  assert.ok(Math.abs(ci.high - (0.3 + 1.96 * se)) < 0.01, `high ${ci.high}`);
  // same seed, same interval; another seed differs slightly
  assert.deepEqual(pairedBootstrap(a, b, { seed: 11 }), ci);
});

test("nulls are dropped pairwise; empty gives null", () => {
  const ci = pairedBootstrap([1, null, 0], [0, 1, null])!;
  assert.equal(ci.n, 1);
  assert.equal(pairedBootstrap([null], [1]), null);
  assert.throws(() => pairedBootstrap([1], [1, 2]));
});

test("verdicts in plain words", () => {
  const v = verdictText("tuned", "base", { delta: 0.41, low: 0.35, high: 0.47, n: 50, meanA: 0.9, meanB: 0.49 }, { metric: "format compliance" });
  assert.equal(v.kind, "better");
  assert.equal(v.text, "tuned beats base on format compliance by +41 points [35, 47]");
  const w = verdictText("tuned", "base", { delta: -0.05, low: -0.09, high: -0.01, n: 50, meanA: 0, meanB: 0 }, { metric: "retention" });
  assert.equal(w.text, "tuned is worse than base on retention by -5.0 points [-9.0, -1.0]");
  const z = verdictText("tuned", "base", { delta: 0.02, low: -0.03, high: 0.07, n: 50, meanA: 0, meanB: 0 }, { metric: "chrF" });
  assert.equal(z.kind, "no_clear_difference");
  assert.match(z.text, /^no clear difference between tuned and base on chrF/);
  const lat = verdictText("tuned", "base", { delta: -120, low: -150, high: -90, n: 9, meanA: 0, meanB: 0 }, {
    metric: "latency", lowerIsBetter: true, unit: { suffix: " ms", digits: 0 },
  });
  assert.equal(lat.text, "tuned beats base on latency by -120 ms [-150, -90]");
});
