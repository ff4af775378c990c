/**
 * Gated DeltaNet's pieces (models/gated-deltanet.ts and the ops it adds): finite-difference checks in
 * float64 of softplus, the causal depthwise convolution, the padding to whole chunks, the state scan and
 * the whole chunked delta rule over two chunks; and the chunked rule's output and final state against
 * the per-token recurrence written out in JS.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../src/engine/graph/graph.js";
import * as op from "../../src/engine/graph/ops.js";
import { encodeModel } from "../../src/engine/onnx/model.js";
import { Session, tensor } from "../../src/engine/runtime/session.js";
import { chunkedDeltaRule, stateScan } from "../../src/engine/models/gated-deltanet.js";
import { gradCheck, randn, rng } from "./gradcheck.js";

const TOL = 1e-6;

function uniform(r: () => number, n: number, lo: number, hi: number): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
}

test("gradcheck: softplus, over both signs and large |x|", async () => {
  const r = rng(1);
  const data = Float64Array.from([...randn(r, 10, 3), 40, -40]);
  const res = await gradCheck([{ name: "x", shape: [12], data }], (g, [x]) => op.softplus(g, x));
  assert.ok(res.maxRelError < TOL, `${res.maxRelError} at ${res.worst}`);
});

test("gradcheck: causal depthwise convolution, and float32's Conv kernel equals the float64 form", async () => {
  const r = rng(2);
  const w = randn(r, 3 * 4);
  const x = randn(r, 2 * 3 * 5);
  const res = await gradCheck([{ name: "x", shape: [2, 3, 5], data: x }], (g, [xv]) => op.causalDepthwiseConv(g, xv, g.constF("float64", w, [3, 1, 4])));
  assert.ok(res.maxRelError < TOL, `${res.maxRelError} at ${res.worst}`);
  // y[c, t] = sum_j w[c, j] x[c, t - 3 + j], by hand.
  for (const dtype of ["float32", "float64"] as const) {
    const g = new Graph();
    const xv = g.input("x", dtype, [2, 3, 5]);
    g.output(op.causalDepthwiseConv(g, xv, g.constF(dtype, w, [3, 1, 4])), "y");
    const s = await Session.create(encodeModel(g.toModel()), { threads: 1 });
    const y = (await s.run({ x: tensor(dtype, dtype === "float32" ? Float32Array.from(x) : x, [2, 3, 5]) }, ["y"])).y.data as Float32Array;
    await s.dispose();
    for (let b = 0; b < 2; b++)
      for (let c = 0; c < 3; c++)
        for (let t = 0; t < 5; t++) {
          let want = 0;
          for (let j = 0; j < 4; j++) if (t - 3 + j >= 0) want += w[c * 4 + j] * x[(b * 3 + c) * 5 + t - 3 + j];
          assert.ok(Math.abs(y[(b * 3 + c) * 5 + t] - want) < 1e-5, `${dtype} y[${b},${c},${t}]`);
        }
  }
});

test("gradcheck: padding to whole chunks and taking the first T back", async () => {
  const r = rng(3);
  const res = await gradCheck([{ name: "x", shape: [2, 5, 3], data: randn(r, 30) }], (g, [x]) => {
    const p = op.padToMultiple(g, x, 1, 4); // 5 -> 8
    return op.takeFirst(g, op.mul(g, p, p), 1, op.lengthOf(g, x, 1), x.shape);
  });
  assert.ok(res.maxRelError < TOL, `${res.maxRelError} at ${res.worst}`);
});

test("gradcheck: the state scan (S = A S + B over chunks), forward and reversed", async () => {
  for (const reverse of [false, true]) {
    const r = rng(reverse ? 5 : 4);
    const res = await gradCheck(
      [
        { name: "A", shape: [3, 2, 2, 2], data: randn(r, 24, 0.7) },
        { name: "B", shape: [3, 2, 2, 3], data: randn(r, 36) },
      ],
      (g, [A, B]) => {
        const { entering } = stateScan(g, A, B, reverse);
        return op.mul(g, entering, entering);
      },
    );
    assert.ok(res.maxRelError < TOL, `reverse=${reverse}: ${res.maxRelError} at ${res.worst}`);
  }
});

/** The per-token recurrence in JS: S = e^g S; S += k (beta (v - S^T k))^T; o = S^T q. One head. */
function perToken(q: Float64Array, k: Float64Array, v: Float64Array, gl: Float64Array, beta: Float64Array, T: number, dk: number, dv: number) {
  const S = new Float64Array(dk * dv);
  const o = new Float64Array(T * dv);
  for (let t = 0; t < T; t++) {
    const e = Math.exp(gl[t]);
    for (let i = 0; i < dk * dv; i++) S[i] *= e;
    for (let j = 0; j < dv; j++) {
      let pred = 0;
      for (let i = 0; i < dk; i++) pred += S[i * dv + j] * k[t * dk + i];
      const delta = beta[t] * (v[t * dv + j] - pred);
      for (let i = 0; i < dk; i++) S[i * dv + j] += k[t * dk + i] * delta;
    }
    for (let j = 0; j < dv; j++) for (let i = 0; i < dk; i++) o[t * dv + j] += S[i * dv + j] * q[t * dk + i];
  }
  return { o, S };
}

test("chunked delta rule: equals the per-token recurrence over 150 tokens (three chunks), output and final state", async () => {
  const r = rng(6);
  const T = 150;
  const dk = 4;
  const dv = 3;
  const q = randn(r, T * dk, 0.5);
  const k = randn(r, T * dk, 0.5);
  const v = randn(r, T * dv);
  const gl = uniform(r, T, -0.3, -0.001);
  const beta = uniform(r, T, 0.05, 0.95);
  const want = perToken(q, k, v, gl, beta, T, dk, dv);
  for (const dtype of ["float64", "float32"] as const) {
    const g = new Graph();
    const inp = (name: string, shape: (number | string)[]) => g.input(name, dtype, shape);
    const res = chunkedDeltaRule(g, inp("q", [1, 1, "T", dk]), inp("k", [1, 1, "T", dk]), inp("v", [1, 1, "T", dv]), inp("g", [1, 1, "T"]), inp("beta", [1, 1, "T"]));
    g.output(res.o, "o");
    g.output(res.state, "s");
    const s = await Session.create(encodeModel(g.toModel()), { threads: 1 });
    const f = (x: Float64Array) => (dtype === "float32" ? Float32Array.from(x) : x);
    const out = await s.run({ q: tensor(dtype, f(q), [1, 1, T, dk]), k: tensor(dtype, f(k), [1, 1, T, dk]), v: tensor(dtype, f(v), [1, 1, T, dv]), g: tensor(dtype, f(gl), [1, 1, T]), beta: tensor(dtype, f(beta), [1, 1, T]) }, ["o", "s"]);
    await s.dispose();
    const tol = dtype === "float64" ? 1e-10 : 1e-4;
    const o = out.o.data as Float64Array;
    assert.deepEqual(out.o.dims, [1, 1, T, dv]);
    for (let i = 0; i < T * dv; i++) assert.ok(Math.abs(o[i] - want.o[i]) < tol, `${dtype} o[${i}] ${o[i]} vs ${want.o[i]}`);
    const S = out.s.data as Float64Array;
    for (let i = 0; i < dk * dv; i++) assert.ok(Math.abs(S[i] - want.S[i]) < tol, `${dtype} state[${i}]`);
  }
});

test("gradcheck: the chunked delta rule over two chunks (70 tokens), every input", async () => {
  const r = rng(7);
  const T = 70;
  const res = await gradCheck(
    [
      { name: "q", shape: [1, 1, T, 2], data: randn(r, T * 2, 0.5) },
      { name: "k", shape: [1, 1, T, 2], data: randn(r, T * 2, 0.5) },
      { name: "v", shape: [1, 1, T, 2], data: randn(r, T * 2) },
      { name: "g", shape: [1, 1, T], data: uniform(r, T, -0.3, -0.01) },
      { name: "beta", shape: [1, 1, T], data: uniform(r, T, 0.1, 0.9) },
    ],
    (g, [q, k, v, gl, beta]) => chunkedDeltaRule(g, q, k, v, gl, beta).o,
  );
  assert.ok(res.maxRelError < TOL, `${res.maxRelError} at ${res.worst}`);
});
