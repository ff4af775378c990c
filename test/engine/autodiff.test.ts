/** Every op's VJP against central finite differences, in float64 graphs on small random shapes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, type Value } from "../../src/engine/graph/graph.js";
import { gradients } from "../../src/engine/graph/autodiff.js";
import { encodeModel } from "../../src/engine/onnx/model.js";
import * as op from "../../src/engine/graph/ops.js";
import { Session, tensor } from "../../src/engine/runtime/session.js";
import { gradCheck, randn, rng, type DiffInput } from "./gradcheck.js";

const TOL = 1e-6;
let seed = 1;
function inp(name: string, shape: number[], opts: { positive?: boolean; scale?: number } = {}): DiffInput {
  const r = rng(seed++);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = randn(r, n, opts.scale ?? 1);
  if (opts.positive) for (let i = 0; i < n; i++) data[i] = 0.5 + Math.abs(data[i]);
  return { name, shape, data };
}

async function check(name: string, inputs: DiffInput[], build: (g: Graph, xs: Value[]) => Value, extra?: Parameters<typeof gradCheck>[2]) {
  const res = await gradCheck(inputs, build, extra);
  assert.ok(res.maxRelError < TOL, `${name}: max relative error ${res.maxRelError} at ${res.worst}`);
}

test("elementwise binary ops with broadcasting", async () => {
  for (const [name, f] of [
    ["add", op.add],
    ["sub", op.sub],
    ["mul", op.mul],
    ["div", op.div],
  ] as const) {
    await check(name, [inp("a", [2, 3, 4]), inp("b", [3, 1], { positive: true })], (g, [a, b]) => f(g, a, b));
    await check(`${name} (rank-1 rhs)`, [inp("a", [2, 3, 4], { positive: true }), inp("b", [4], { positive: true })], (g, [a, b]) => f(g, b, a));
  }
});

test("elementwise unary ops", async () => {
  await check("neg", [inp("a", [3, 4])], (g, [a]) => op.neg(g, a));
  await check("exp", [inp("a", [3, 4])], (g, [a]) => op.exp(g, a));
  await check("log", [inp("a", [3, 4], { positive: true })], (g, [a]) => op.log(g, a));
  await check("sqrt", [inp("a", [3, 4], { positive: true })], (g, [a]) => op.sqrt(g, a));
  await check("pow 3", [inp("a", [3, 4])], (g, [a]) => op.pow(g, a, 3));
  await check("pow -0.5", [inp("a", [3, 4], { positive: true })], (g, [a]) => op.pow(g, a, -0.5));
  await check("sigmoid", [inp("a", [3, 4])], (g, [a]) => op.sigmoid(g, a));
  await check("silu", [inp("a", [3, 4], { scale: 2 })], (g, [a]) => op.silu(g, a));
  await check("scale", [inp("a", [3, 4])], (g, [a]) => op.scale(g, a, -1.5));
});

test("reductions", async () => {
  await check("reduceSum keep", [inp("a", [2, 3, 4])], (g, [a]) => op.reduceSum(g, a, [1], true));
  await check("reduceSum drop", [inp("a", [2, 3, 4])], (g, [a]) => op.reduceSum(g, a, [0, 2]));
  await check("reduceMean keep", [inp("a", [2, 3, 4])], (g, [a]) => op.reduceMean(g, a, [-1], true));
  await check("reduceMean drop", [inp("a", [2, 3, 4])], (g, [a]) => op.reduceMean(g, a, [1]));
});

test("matmul with every transpose combination, batched and linear-layer shapes", async () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const sa = transA ? [2, 4, 3] : [2, 3, 4];
      const sb = transB ? [2, 5, 4] : [2, 4, 5];
      await check(`matmul batched tA=${transA} tB=${transB}`, [inp("a", sa), inp("b", sb)], (g, [a, b]) =>
        op.matmul(g, a, b, { transA, transB, alpha: 0.7 }),
      );
    }
  }
  // x [B,T,in] times W [out,in]^T: the LoRA/linear case (gradient of W on the flattened batch).
  await check("linear xW^T", [inp("x", [2, 3, 4]), inp("w", [5, 4])], (g, [x, w]) => op.matmul(g, x, w, { transB: true }));
  await check("linear xW", [inp("x", [2, 3, 4]), inp("w", [4, 5])], (g, [x, w]) => op.matmul(g, x, w));
  // 4-D attention-style products with a broadcast batch axis.
  await check("matmul broadcast batch", [inp("q", [2, 3, 2, 4]), inp("k", [2, 1, 4, 2])], (g, [q, k]) => op.matmul(g, q, k));
});

test("gather sums gradients of repeated ids", async () => {
  const ids = BigInt64Array.from([1n, 3n, 1n, 0n, 1n]);
  await check(
    "gather",
    [inp("table", [4, 3])],
    (g, [t]) => op.gather(g, t, g.input("ids", "int64", [5])),
    { extraFeeds: { ids: tensor("int64", ids, [5]) } },
  );
});

test("layout ops: reshape, transpose, unsqueeze, concat, slice", async () => {
  await check("reshape", [inp("a", [2, 3, 4])], (g, [a]) => op.reshape(g, a, [0, 12]));
  await check("reshape -1", [inp("a", [2, 3, 4])], (g, [a]) => op.reshape(g, a, [-1, 2, 2]));
  await check("transpose", [inp("a", [2, 3, 4])], (g, [a]) => op.transpose(g, a, [2, 0, 1]));
  await check("unsqueeze", [inp("a", [2, 3])], (g, [a]) => op.unsqueeze(g, a, [1, -1]));
  await check("concat", [inp("a", [2, 3]), inp("b", [2, 2])], (g, [a, b]) => op.concat(g, [a, b, a], 1));
  await check("slice", [inp("a", [2, 5, 3])], (g, [a]) => op.slice(g, a, 1, 1, 4));
});

test("softmax and log-softmax", async () => {
  await check("softmax", [inp("a", [2, 3, 5])], (g, [a]) => op.softmax(g, a, -1));
  await check("softmax axis 1", [inp("a", [2, 3, 5])], (g, [a]) => op.softmax(g, a, 1));
  await check("logSoftmax", [inp("a", [3, 5])], (g, [a]) => op.logSoftmax(g, a));
});

test("attention core with respect to q, k and v (masked bias, grouped queries)", async () => {
  // Queries [B, KV, M, hd] over keys/values [B, KV, S, hd]; the bias masks some keys per row.
  const B = 2, KV = 2, M = 3, S = 5, hd = 4;
  const bias = new Float64Array(B * M * S);
  for (let b = 0; b < B; b++) for (let i = 0; i < M; i++) for (let j = 0; j < S; j++) bias[(b * M + i) * S + j] = j > i + 2 + b ? -Infinity : 0.1 * (i - j);
  await check(
    "attention",
    [inp("q", [B, KV, M, hd]), inp("k", [B, KV, S, hd]), inp("v", [B, KV, S, hd])],
    (g, [q, k, v]) => op.attention(g, q, k, v, g.input("bias", "float64", [B, 1, M, S]), 0.5),
    { extraFeeds: { bias: tensor("float64", bias, [B, 1, M, S]) } },
  );
});

test("rmsNorm with respect to input and weight", async () => {
  await check("rmsNorm", [inp("x", [2, 3, 6]), inp("w", [6])], (g, [x, w]) => op.rmsNorm(g, x, w, 1e-5));
});

test("rope is differentiated with respect to its input", async () => {
  const r = rng(99);
  const ang = randn(r, 2 * 3 * 4);
  const cos = Float64Array.from(ang, Math.cos);
  const sin = Float64Array.from(ang, Math.sin);
  await check("rope", [inp("x", [2, 2, 3, 4])], (g, [x]) =>
    op.rope(g, x, g.constF("float64", cos, [2, 1, 3, 4]), g.constF("float64", sin, [2, 1, 3, 4])),
  );
});

test("chunked cross-entropy matches its own gradient (uneven chunks, zero weights)", async () => {
  const targets = BigInt64Array.from([0n, 6n, 3n, 6n, 2n]);
  const weights = Float64Array.from([1, 0, 0.5, 2, 1]);
  for (const [chunkSize, recompute] of [[7, false], [3, false], [3, true], [7, true]] as const) {
    await check(
      `chunkedCrossEntropy chunk=${chunkSize} recompute=${recompute}`,
      [inp("h", [5, 4]), inp("W", [7, 4])],
      (g, [h, W]) =>
        op.chunkedCrossEntropy(g, h, W, g.input("t", "int64", [5]), g.input("w", "float64", [5]), { chunkSize, recompute }),
      { extraFeeds: { t: tensor("int64", targets, [5]), w: tensor("float64", weights, [5]) } },
    );
  }
});

// Checks for the ops Qwen3 and Gemma 3 added (kept last: the shared seed counter feeds the tests above).
test("Gemma's (1 + w) norm and per-head q/k norms with respect to input and weight", async () => {
  // Gemma's zero-centred norm, x / rms(x) * (1 + w), with weights near 0.
  await check("rmsNorm (1 + w)", [inp("x", [2, 3, 6]), inp("w", [6], { scale: 0.1 })], (g, [x, w]) => op.rmsNorm(g, x, w, 1e-6, false, 1));
  // Per-head q/k norms: [B, T, heads, head_dim] normalised over head_dim with one [head_dim] weight.
  await check("q/k norm", [inp("x", [2, 3, 4, 6]), inp("w", [6])], (g, [x, w]) => op.rmsNorm(g, x, w, 1e-6));
  await check("q/k norm (1 + w)", [inp("x", [2, 3, 4, 6]), inp("w", [6], { scale: 0.1 })], (g, [x, w]) => op.rmsNorm(g, x, w, 1e-6, false, 1));
});

test("GELU (tanh approximation): float64 ops against finite differences, float32 FastGelu against the formula", async () => {
  await check("geluTanh", [inp("a", [4, 5], { scale: 2 })], (g, [a]) => op.geluTanh(g, a));
  // float32 runs ORT's FastGelu kernel forward and the same VJP: compare with PyTorch's formula in JS.
  const n = 64;
  const xs = Float32Array.from({ length: n }, (_, i) => (i - n / 2) / 6);
  const gy = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
  const g = new Graph();
  const x = g.input("x", "float32", [n]);
  const y = op.geluTanh(g, x);
  const loss = op.reduceSum(g, op.mul(g, y, g.constF("float32", gy, [n])), [0]);
  const [gx] = gradients(g, loss, [x]);
  g.output(y, "y");
  g.output(gx, "gx");
  const s = await Session.create(encodeModel(g.toModel()), { threads: 1 });
  const res = await s.run({ x: tensor("float32", xs, [n]) }, ["y", "gx"]);
  await s.dispose();
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < n; i++) {
    const v = xs[i];
    const t = Math.tanh(c * (v + 0.044715 * v ** 3));
    const yRef = 0.5 * v * (1 + t);
    const dRef = gy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v));
    assert.ok(Math.abs((res.y.data[i] as number) - yRef) < 1e-5, `gelu(${v}) = ${res.y.data[i]}, expected ${yRef}`);
    assert.ok(Math.abs((res.gx.data[i] as number) - dRef) < 1e-5, `gelu'(${v})`);
  }
});
