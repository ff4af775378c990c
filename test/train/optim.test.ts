/** The pure-JS training pieces against PyTorch numbers (fixture from scripts/reference/train_fixtures.py). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AdamW } from "../../src/engine/train/adamw.js";
import { adamwReference } from "../../src/engine/train/adamw-kernel.js";
import { clipGradNorm, gradClip, GradAccumulator } from "../../src/engine/train/grads.js";
import { initLoraParams, kaimingUniformBound } from "../../src/engine/train/lora-init.js";
import { loraScaling } from "../../src/engine/models/lora.js";
import { Rng } from "../../src/engine/train/rng.js";
import { learningRateAt, warmupSteps } from "../../src/engine/train/schedule.js";

const fx = JSON.parse(readFileSync(new URL("./fixtures/optim.json", import.meta.url), "utf8"));

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-6, Math.abs(b[i])));
  return worst;
}

test("AdamW matches torch.optim.AdamW over four steps with weight decay and changing lr", () => {
  const a = fx.adamw;
  const params = new Map<string, Float32Array>(Object.entries(a.init).map(([k, v]) => [k, Float32Array.from(v as number[])]));
  const opt = new AdamW({ beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weightDecay });
  for (let s = 0; s < a.lrs.length; s++) {
    const grads = new Map<string, Float32Array>(Object.entries(a.grads[s]).map(([k, v]) => [k, Float32Array.from(v as number[])]));
    opt.update(params, grads, a.lrs[s]);
    for (const [k, p] of params) {
      const err = maxRelErr(p, a.after[s][k]);
      assert.ok(err < 1e-6, `step ${s + 1} param ${k}: rel err ${err}`);
    }
  }
  assert.equal(opt.step, 4);
});

test("AdamW's WebAssembly kernel equals the scalar float32 definition bit for bit (odd lengths, gradient divisor, clipping, weight decay)", () => {
  const rng = new Rng(3);
  const lengths = [1, 3, 4, 5, 17, 1000];
  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.nextFloat() - 0.5) * scale);
  const params = new Map(lengths.map((n, i) => [`p${i}`, rand(n, 2)]));
  const reference = new Map([...params].map(([k, p]) => [k, { p: Float32Array.from(p), m: new Float32Array(p.length), v: new Float32Array(p.length) }]));
  const opt = new AdamW({ weightDecay: 0.05 });
  for (let step = 1; step <= 4; step++) {
    // Gradients over many magnitudes, including tiny ones whose squares are float32 denormals, and zeros.
    const grads = new Map(lengths.map((n, i) => [`p${i}`, rand(n, 10 ** (2 - 2 * step)).map((x, j) => (j % 7 === 0 ? 0 : x))]));
    const lr = 1e-3 / step;
    const scaling = { gradDivisor: 37.5, clip: Math.fround(0.75) };
    opt.update(params, grads, lr, scaling);
    const f = Math.fround;
    for (const [k, r] of reference) {
      adamwReference(r.p, grads.get(k)!, r.m, r.v, {
        b1: f(0.9), a1: f(1 - 0.9), b2: f(0.999), a2: f(1 - 0.999), decay: f(1 - lr * 0.05), clip: scaling.clip,
        bc2Sqrt: Math.sqrt(1 - 0.999 ** step), eps: 1e-8, stepSize: lr / (1 - 0.9 ** step), gradDivisor: scaling.gradDivisor,
      });
      assert.deepEqual(Array.from(params.get(k)!), Array.from(r.p), `step ${step} ${k}`);
      assert.deepEqual(Array.from(opt.state().v.get(k)!), Array.from(r.v), `step ${step} ${k} second moment`);
    }
  }
  // A parameter added later gets fresh moments; the others keep theirs.
  params.set("late", rand(6, 1));
  const before = Float32Array.from(opt.state().m.get("p5")!);
  opt.update(params, new Map([...params].map(([k, p]) => [k, new Float32Array(p.length)])), 1e-3);
  assert.ok(opt.state().m.get("late")!.every((x) => x === 0));
  assert.deepEqual(Array.from(opt.state().m.get("p5")!), Array.from(before.map((x) => Math.fround(x * Math.fround(0.9)))));
});

test("one micro-batch: dividing and clipping inside AdamW's pass gives the bits of dividing and clipping first", () => {
  const rng = new Rng(8);
  const raw = () => new Map([["a", Float32Array.from({ length: 37 }, () => rng.nextFloat() - 0.5)], ["b", Float32Array.from({ length: 8 }, () => rng.nextFloat() * 3)]]);
  for (const maxNorm of [0, 0.05, 100]) {
    const g = raw();
    const copy = new Map([...g].map(([k, v]) => [k, Float32Array.from(v)]));
    const accA = new GradAccumulator();
    accA.add(g, 12, 7);
    const fused = accA.takeSums();
    assert.equal(fused.divisor, 7);
    assert.equal(fused.grads, g, "one micro-batch's arrays are passed on without a copy");
    const accB = new GradAccumulator();
    accB.add(copy, 12, 7);
    const plain = accB.take();
    const norm = clipGradNorm(plain.grads, maxNorm);
    const { norm: fusedNorm, clip } = gradClip(fused.grads, fused.divisor, maxNorm);
    assert.equal(fusedNorm, norm);
    assert.equal(clip !== 1, maxNorm === 0.05);
    const p1 = new Map([["a", new Float32Array(37).fill(0.25)], ["b", new Float32Array(8).fill(-1)]]);
    const p2 = new Map([...p1].map(([k, v]) => [k, Float32Array.from(v)]));
    new AdamW({ weightDecay: 0.01 }).update(p1, plain.grads, 1e-2);
    new AdamW({ weightDecay: 0.01 }).update(p2, fused.grads, 1e-2, { gradDivisor: fused.divisor, clip });
    for (const k of ["a", "b"]) assert.deepEqual(Array.from(p2.get(k)!), Array.from(p1.get(k)!), `maxNorm ${maxNorm}: ${k}`);
  }
});

test("AdamW state round-trips: a restored optimizer continues identically", () => {
  const mk = () => new Map([["w", Float32Array.from([0.5, -1, 2])]]);
  const g = (s: number) => new Map([["w", Float32Array.from([0.1 * s, -0.2, 0.3 / s])]]);
  const p1 = mk();
  const o1 = new AdamW({ weightDecay: 0.1 });
  for (let s = 1; s <= 5; s++) o1.update(p1, g(s), 0.01);
  const p2 = mk();
  const o2 = new AdamW({ weightDecay: 0.1 });
  for (let s = 1; s <= 2; s++) o2.update(p2, g(s), 0.01);
  const o3 = new AdamW({ weightDecay: 0.1 });
  o3.load(o2.state());
  const p3 = new Map([["w", Float32Array.from(p2.get("w")!)]]);
  for (let s = 3; s <= 5; s++) o3.update(p3, g(s), 0.01);
  assert.deepEqual(Array.from(p3.get("w")!), Array.from(p1.get("w")!));
});

test("clipGradNorm matches torch.nn.utils.clip_grad_norm_", () => {
  for (const c of fx.clip) {
    const grads = new Map<string, Float32Array>(c.grads.map((g: number[], i: number) => [String(i), Float32Array.from(g)]));
    const norm = clipGradNorm(grads, c.maxNorm);
    assert.ok(Math.abs(norm - c.norm) / c.norm < 1e-6, `norm ${norm} vs ${c.norm}`);
    c.clipped.forEach((want: number[], i: number) => assert.ok(maxRelErr(grads.get(String(i))!, want) < 1e-6));
  }
});

test("LoRA init: A uniform within PyTorch's kaiming bound, B zero, same seed same values", () => {
  for (const k of fx.kaiming) {
    assert.ok(Math.abs(kaimingUniformBound(k.fanIn) - k.bound) < 1e-12);
    const shapes = [
      { name: "l.lora_A", shape: [256, k.fanIn] as [number, number] },
      { name: "l.lora_B", shape: [7, 256] as [number, number] },
    ];
    const p = initLoraParams(shapes, new Rng(3));
    const A = p.get("l.lora_A")!;
    let maxAbs = 0;
    let sq = 0;
    for (const x of A) {
      maxAbs = Math.max(maxAbs, Math.abs(x));
      sq += x * x;
    }
    assert.ok(maxAbs <= k.bound && maxAbs > 0.98 * k.bound, `max |A| ${maxAbs} vs bound ${k.bound}`);
    const std = Math.sqrt(sq / A.length);
    assert.ok(Math.abs(std - k.observedStd) / k.observedStd < 0.02, `std ${std} vs torch ${k.observedStd}`);
    assert.ok(p.get("l.lora_B")!.every((x) => x === 0));
    assert.deepEqual(initLoraParams(shapes, new Rng(3)).get("l.lora_A"), A);
    assert.notDeepEqual(initLoraParams(shapes, new Rng(4)).get("l.lora_A"), A);
  }
  assert.equal(loraScaling({ alpha: 16, r: 8, rslora: false }), 2);
  assert.equal(loraScaling({ alpha: 16, r: 4, rslora: true }), 8);
});

test("Rng: deterministic, state round-trips, shuffle is a permutation, floats in [0,1)", () => {
  const a = new Rng(42);
  const seq = Array.from({ length: 5 }, () => a.nextUint32());
  const b = new Rng(42);
  assert.deepEqual(Array.from({ length: 5 }, () => b.nextUint32()), seq);
  const saved = a.state();
  const next = a.nextUint32();
  assert.equal(new Rng(saved).nextUint32(), next);
  const perm = new Rng(1).permutation(100);
  assert.deepEqual([...perm].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(perm, Array.from({ length: 100 }, (_, i) => i));
  const r = new Rng(9);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = r.nextFloat();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});

test("schedules: warmup then cosine / linear / constant (Hugging Face definitions)", () => {
  const o = { peakLr: 1e-3, warmupSteps: 10, totalSteps: 110 };
  assert.equal(learningRateAt(0, { ...o, kind: "cosine" }), 0);
  assert.ok(Math.abs(learningRateAt(5, { ...o, kind: "cosine" }) - 5e-4) < 1e-15);
  assert.ok(Math.abs(learningRateAt(10, { ...o, kind: "cosine" }) - 1e-3) < 1e-15);
  assert.ok(Math.abs(learningRateAt(60, { ...o, kind: "cosine" }) - 5e-4) < 1e-12);
  assert.ok(Math.abs(learningRateAt(110, { ...o, kind: "cosine" })) < 1e-15);
  assert.ok(Math.abs(learningRateAt(60, { ...o, kind: "linear" }) - 5e-4) < 1e-15);
  assert.equal(learningRateAt(100, { ...o, kind: "constant" }), 1e-3);
  assert.equal(warmupSteps(0.1, 200), 20);
  assert.equal(warmupSteps(5, 200), 5);
});

test("gradient accumulation divides by all assistant tokens across micro-batches", () => {
  // Two micro-batches with different token counts: the result is the per-token mean of the union,
  // not the mean of the per-batch means.
  const acc = new GradAccumulator();
  acc.add(new Map([["w", Float32Array.from([3, 6])]]), 9, 3);
  acc.add(new Map([["w", Float32Array.from([1, 2])]]), 1, 1);
  const { grads, loss, tokens } = acc.take();
  assert.equal(tokens, 4);
  assert.deepEqual(Array.from(grads.get("w")!), [1, 2]);
  assert.equal(loss, 2.5);
  assert.equal(acc.tokenCount, 0);
});
