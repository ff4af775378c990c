/** Block quantization in JS against ONNX Runtime's MatMulNBits, and the quantized linear's gradient. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../src/engine/graph/graph.js";
import { gradients } from "../../src/engine/graph/autodiff.js";
import { encodeModel } from "../../src/engine/onnx/model.js";
import { Session, tensor } from "../../src/engine/runtime/session.js";
import { dequantize, quantize, type BaseBits } from "../../src/engine/quant/blockwise.js";
import { frozenQuantizedMatmul, matmulNBits, quantizedInitializer } from "../../src/engine/quant/qlinear.js";
import { randn as randn64, rng } from "./gradcheck.js";

const randn = (r: () => number, n: number, scale: number) => Float32Array.from(randn64(r, n, scale));

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

/** ORT's MatMulNBits of x [M, K] with W [N, K] quantized, exact float compute (accuracy_level 0 is not used: level 4 quantizes x). */
async function ortProduct(x: Float32Array, M: number, w: Float32Array, N: number, K: number, bits: BaseBits, block: number, transpose = false): Promise<Float32Array> {
  const q = quantize(w, transpose ? K : N, transpose ? N : K, bits, block, transpose);
  const g = new Graph();
  const xi = g.input("x", "float32", [M, K]);
  const qv = quantizedInitializer(g, "w", q);
  const y = g.emit1("MatMulNBits", [xi, qv.data, qv.scales, qv.zeroPoints], "float32", [M, N], {
    K: { kind: "int", value: K },
    N: { kind: "int", value: N },
    bits: { kind: "int", value: bits },
    block_size: { kind: "int", value: block },
  }, "com.microsoft");
  g.output(y, "y");
  const s = await Session.create(encodeModel(g.toModel()), { threads: 1 }, g.externalData());
  const res = await s.run({ x: tensor("float32", x, [M, K]) }, ["y"]);
  await s.dispose();
  return res.y.data as Float32Array;
}

function identity(n: number): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = 1;
  return a;
}

for (const bits of [4, 8] as const) {
  for (const block of [32, 64]) {
    test(`quantize(${bits}-bit, block ${block}) is what MatMulNBits reads: I W^T gives the JS dequantized W^T`, async () => {
      // K not a multiple of the block: the last block is padded.
      const N = 24;
      const K = block + 40;
      const w = randn(rng(bits * 100 + block), N * K, 0.5);
      w[3] = 0; // an exact zero stays exact
      const q = quantize(w, N, K, bits, block);
      const deq = dequantize(q);
      assert.equal(deq[3], 0);
      const y = await ortProduct(identity(K), K, w, N, K, bits, block); // [K, N] = W_deq^T
      let err = 0;
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) err = Math.max(err, Math.abs(y[k * N + n] - deq[n * K + k]));
      assert.ok(err < 1e-6, `ORT vs JS dequantized: ${err}`);
      // The quantization error stays within half a step of each block's range.
      const step = (2 * 0.5 * 4.5) / ((1 << bits) - 1);
      assert.ok(maxAbs(deq, w) < step / 2 + 1e-6, `quantization error ${maxAbs(deq, w)}`);
    });
  }
  test(`quantize(${bits}-bit, transposed) quantizes W^T without a float copy`, async () => {
    const N = 40;
    const K = 64;
    const w = randn(rng(7 + bits), N * K, 1);
    const wt = new Float32Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = w[n * K + k];
    assert.deepEqual(quantize(w, N, K, bits, 32, true), quantize(wt, K, N, bits, 32));
  });
}

test("frozen quantized linear: forward x W^T and input gradient dy W on the dequantized weights", async () => {
  const M = 6;
  const K = 64;
  const N = 96;
  for (const bits of [4, 8] as const) {
    const w = randn(rng(11), N * K, 0.3);
    const x = randn(rng(12), M * K, 1);
    const dy = randn(rng(13), M * N, 1);
    const deq = dequantize(quantize(w, N, K, bits, 32));
    const deqT = dequantize(quantize(w, N, K, bits, 32, true)); // [K, N]
    const g = new Graph();
    const xi = g.input("x", "float32", [M, K]);
    const dyi = g.input("dy", "float32", [M, N]);
    const qv = quantizedInitializer(g, "w", quantize(w, N, K, bits, 32));
    let wtAsked = 0;
    const y = frozenQuantizedMatmul(g, xi, qv, () => {
      wtAsked++;
      return quantizedInitializer(g, "wt", quantize(w, N, K, bits, 32, true));
    });
    const loss = g.emit1("ReduceSum", [g.emit1("Mul", [y, dyi], "float32", [M, N])], "float32", [], { keepdims: { kind: "int", value: 0 } });
    g.record([y], [loss], ([gl]) => [g.emit1("Mul", [dyi, gl!], "float32", [M, N])]);
    g.output(y, "y");
    g.output(gradients(g, loss, [xi])[0], "dx");
    assert.equal(wtAsked, 1);
    const s = await Session.create(encodeModel(g.toModel()), { threads: 1 }, g.externalData());
    const res = await s.run({ x: tensor("float32", x, [M, K]), dy: tensor("float32", dy, [M, N]) }, ["y", "dx"]);
    await s.dispose();
    const refY = new Float32Array(M * N);
    for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
      let a = 0;
      for (let k = 0; k < K; k++) a += x[m * K + k] * deq[n * K + k];
      refY[m * N + n] = a;
    }
    const refDx = new Float32Array(M * K);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) {
      let a = 0;
      for (let n = 0; n < N; n++) a += dy[m * N + n] * deqT[k * N + n];
      refDx[m * K + k] = a;
    }
    // accuracy_level 4 rounds x (and dy) to int8 per block: about 1% of a typical entry's size.
    const rel = (a: Float32Array, b: Float32Array) => maxAbs(a, b) / maxAbs(b, new Float32Array(b.length));
    assert.ok(rel(res.y.data as Float32Array, refY) < 0.02, `${bits}-bit y: ${rel(res.y.data as Float32Array, refY)}`);
    assert.ok(rel(res.dx.data as Float32Array, refDx) < 0.02, `${bits}-bit dx: ${rel(res.dx.data as Float32Array, refDx)}`);
  }
});

test("matmulNBits is a plain product with no gradient of its own", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 32]);
  const qv = quantizedInitializer(g, "w", quantize(new Float32Array(64), 2, 32, 4, 32));
  matmulNBits(g, x, qv);
  assert.equal(g.tape.length, 0);
});
