/**
 * The graph builder and ONNX encoder: forward values against plain JS (FusedMatMul vs MatMul with
 * every transpose, float attributes, chunked cross-entropy, rotary tables), and dropout mask statistics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../src/engine/graph/graph.js";
import * as op from "../../src/engine/graph/ops.js";
import { encodeModel } from "../../src/engine/onnx/model.js";
import { Session, tensor } from "../../src/engine/runtime/session.js";
import { dropoutMask } from "../../src/engine/models/dropout.js";
import { ropeInvFreq } from "../../src/engine/models/rope.js";
import { randn, rng } from "./gradcheck.js";

async function runGraph(g: Graph, feeds: Record<string, ReturnType<typeof tensor>>, fetch: string[]) {
  const s = await Session.create(encodeModel(g.toModel()), { threads: 1 });
  const res = await s.run(feeds, fetch);
  await s.dispose();
  return res;
}

/** Plain JS alpha * op(A) @ op(B) for 2-D row-major matrices. */
function refMatmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number, ta: boolean, tb: boolean, alpha: number): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? b[j * K + k] : b[k * N + j]);
      out[i * N + j] = alpha * s;
    }
  return out;
}

test("FusedMatMul and MatMul paths agree with plain JS for every transpose (float alpha attribute)", async () => {
  const r = rng(3);
  const [M, K, N] = [3, 5, 4];
  for (const fused of [true, false]) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const g = new Graph({ fusedMatMul: fused });
        const a = g.input("a", "float32", ta ? [K, M] : [M, K]);
        const b = g.input("b", "float32", tb ? [N, K] : [K, N]);
        g.output(op.matmul(g, a, b, { transA: ta, transB: tb, alpha: 2.5 }), "y");
        const A = Float32Array.from(randn(r, M * K));
        const B = Float32Array.from(randn(r, K * N));
        const res = await runGraph(g, { a: tensor("float32", A, a.shape as number[]), b: tensor("float32", B, b.shape as number[]) }, ["y"]);
        const ref = refMatmul(A, B, M, K, N, ta, tb, 2.5);
        const y = res.y.data as Float32Array;
        for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(y[i] - ref[i]) < 1e-4, `fused=${fused} ta=${ta} tb=${tb} [${i}] ${y[i]} vs ${ref[i]}`);
      }
    }
  }
});

test("chunked cross-entropy equals the plain weighted log-softmax loss", async () => {
  const r = rng(5);
  const [N, D, V] = [6, 4, 11];
  const H = randn(r, N * D);
  const W = randn(r, V * D);
  const targets = [0, 10, 3, 3, 7, 1];
  const weights = [1, 0.5, 0, 2, 1, 1];
  let ref = 0;
  for (let n = 0; n < N; n++) {
    const logits = Array.from({ length: V }, (_, v) => {
      let s = 0;
      for (let d = 0; d < D; d++) s += H[n * D + d] * W[v * D + d];
      return s;
    });
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((a, l) => a + Math.exp(l - m), 0));
    ref += weights[n] * (lse - logits[targets[n]]);
  }
  for (const [chunkSize, recompute] of [[11, false], [4, false], [1, false], [4, true]] as const) {
    const g = new Graph();
    const h = g.input("h", "float64", [N, D]);
    const w = g.input("W", "float64", [V, D]);
    const loss = op.chunkedCrossEntropy(g, h, w, g.input("t", "int64", [N]), g.input("w", "float64", [N]), { chunkSize, recompute });
    g.output(loss, "loss");
    const res = await runGraph(
      g,
      {
        h: tensor("float64", H, [N, D]),
        W: tensor("float64", W, [V, D]),
        t: tensor("int64", BigInt64Array.from(targets.map(BigInt)), [N]),
        w: tensor("float64", Float64Array.from(weights), [N]),
      },
      ["loss"],
    );
    assert.ok(Math.abs((res.loss.data[0] as number) - ref) < 1e-10 * Math.abs(ref), `chunk ${chunkSize}: ${res.loss.data[0]} vs ${ref}`);
  }
});

test("dropout masks: rate close to p, values 0 or 1/(1-p), different per seed and per layer", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [64, 500]);
  const seed = g.input("seed", "int64", []);
  g.output(dropoutMask(g, x, seed, 0, 0.25), "m0");
  g.output(dropoutMask(g, x, seed, 1, 0.25), "m1");
  const s = await Session.create(encodeModel(g.toModel()), { threads: 1 });
  const feeds = (sd: number) => ({ x: tensor("float32", new Float32Array(64 * 500), [64, 500]), seed: tensor("int64", BigInt64Array.of(BigInt(sd)), []) });
  const a = await s.run(feeds(7), ["m0", "m1"]);
  const b = await s.run(feeds(8), ["m0"]);
  await s.dispose();
  const m0 = a.m0.data as Float32Array;
  const m1 = a.m1.data as Float32Array;
  const m0b = b.m0.data as Float32Array;
  let zeros = 0;
  let same01 = 0;
  let sameSeed = 0;
  for (let i = 0; i < m0.length; i++) {
    assert.ok(m0[i] === 0 || Math.abs(m0[i] - 1 / 0.75) < 1e-6, `mask value ${m0[i]}`);
    if (m0[i] === 0) zeros++;
    if (m0[i] === m1[i]) same01++;
    if (m0[i] === m0b[i]) sameSeed++;
  }
  const n = m0.length;
  assert.ok(Math.abs(zeros / n - 0.25) < 0.015, `drop rate ${zeros / n}`);
  // Independent masks agree on about p^2 + (1-p)^2 = 0.625 of the elements.
  assert.ok(Math.abs(same01 / n - 0.625) < 0.02, `layer masks agree on ${same01 / n}`);
  assert.ok(Math.abs(sameSeed / n - 0.625) < 0.02, `seed masks agree on ${sameSeed / n}`);
});

test("llama3 rope scaling keeps high frequencies, divides low ones by the factor", () => {
  const plain = ropeInvFreq({ theta: 500000 }, 64);
  const scaled = ropeInvFreq({ theta: 500000, scaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } }, 64);
  assert.equal(scaled[0], plain[0]);
  assert.ok(Math.abs(scaled[31] - plain[31] / 8) < 1e-15);
  assert.ok(scaled.every((v, i) => v <= plain[i] && v >= plain[i] / 8));
  const linear = ropeInvFreq({ theta: 500000, scaling: { type: "linear", factor: 8 } }, 64);
  assert.ok(linear.every((v, i) => Math.abs(v - plain[i] / 8) <= 1e-18), "linear scaling divides every frequency by the factor");
});
