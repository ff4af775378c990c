/**
 * Gated DeltaNet, the linear-attention layer of Qwen3.5 (models/families/qwen3_5.ts), as graph ops.
 *
 * Per value head the layer keeps a state S [dk, dv] and, token by token,
 *   S = exp(g_t) S;  S += k_t (beta_t (v_t - S^T k_t))^T;  o_t = S^T q_t.
 * Training and prefill run the chunked form (chunks of 64; docs/engine.md): within a chunk everything
 * is batched matrix products, including the unit lower-triangular solve, whose inverse is built by
 * block doubling (no per-token loop); across chunks the state follows a linear recurrence
 * S_{c+1} = A_c S_c + B_c, run by one ONNX Scan over the chunks. Its backward pass is the same scan
 * run in reverse with A^T, so the training graph keeps one state per chunk (not per token) per head.
 * With a cache (prefill and decoding) the per-token form above continues from the cached state: the
 * state has a fixed size, so a decoding step costs the same at any length.
 */
import type { Graph, Value } from "../graph/graph.js";
import * as op from "../graph/ops.js";
import { int, ints, type OnnxNode } from "../onnx/model.js";
import type { LinearAttentionSpec } from "../types.js";
import { unknownDim } from "../graph/shape.js";

export const CHUNK = 64;

/** The layer's weights and its projections (LoRA-aware, from the decoder). */
export interface DeltaNetWeights {
  /** [qkv, z] = the input projections of x (in_proj_qkv, in_proj_z). */
  project: (x: Value) => [Value, Value];
  /** y = out_proj(x). */
  out: (x: Value) => Value;
  inB: Value; // [nv, D]
  inA: Value; // [nv, D]
  conv: Value; // [C, 1, K]
  dtBias: Value; // [nv]
  aLog: Value; // [nv]
  norm: Value; // [dv]
}

/** A decoding step's cached state: the last K-1 convolution inputs [B, C, K-1] and the recurrent state [B, nv, dk, dv]. */
export interface DeltaNetState {
  conv: Value;
  recurrent: Value;
}

/**
 * The layer on normed hidden states x [B, T, D] -> [B, T, D]: the chunked form, or with `past` (a
 * cache) the per-token form continuing from it. `state` is the state after the last token (for the
 * inference cache).
 */
export function gatedDeltaNet(g: Graph, s: LinearAttentionSpec, w: DeltaNetWeights, x: Value, eps: number, past?: DeltaNetState): { y: Value; state: DeltaNetState } {
  const { numKeyHeads: nk, numValueHeads: nv, keyHeadDim: dk, valueHeadDim: dv } = s;
  const d = x.dtype;
  const [qkv, z] = w.project(x);
  const C = 2 * nk * dk + nv * dv;
  const K = s.convKernel;
  // Causal depthwise convolution over time in [B, C, T] layout, then SiLU.
  const qkvT = op.transpose(g, qkv, [0, 2, 1]);
  let convIn = qkvT;
  let conv: Value;
  if (past) {
    // Continue from the cached inputs: convolve [cached K-1, new T] and keep the last T outputs.
    convIn = g.emit1("Concat", [past.conv, qkvT], d, [qkvT.shape[0], C, unknownDim()], { axis: int(2) });
    const full = op.causalDepthwiseConv(g, convIn, w.conv);
    conv = g.emit1("Slice", [full, g.constI64([K - 1]), g.constI64([2 ** 62]), g.constI64([2])], d, qkvT.shape);
  } else {
    conv = op.causalDepthwiseConv(g, qkvT, w.conv);
  }
  const newConv = lastSteps(g, convIn, K - 1, C);
  const mixed = op.transpose(g, op.silu(g, conv), [0, 2, 1]); // [B, T, C]
  const [qf, kf, vf] = op.split(g, mixed, -1, [nk * dk, nk * dk, nv * dv]);
  const rep = nv / nk;
  const heads = (y: Value, n: number, hd: number) => op.reshape(g, y, [0, 0, n, hd]);
  /** L2-normalised per head (eps inside the root), times `scale`, repeated to the value heads, as [B, nv, T, dk]. */
  const keyLike = (y: Value, scale: number) => {
    const y4 = heads(y, nk, dk);
    const ss = op.add(g, op.reduceSum(g, op.mul(g, y4, y4), [-1], true), g.constF(d, 1e-6));
    let n = op.mul(g, y4, op.pow(g, ss, -0.5));
    if (scale !== 1) n = op.scale(g, n, scale);
    if (rep > 1) {
      const u = op.unsqueeze(g, n, [3]);
      n = op.reshape(g, op.concat(g, Array.from({ length: rep }, () => u), 3), [0, 0, nv, dk]);
    }
    return op.transpose(g, n, [0, 2, 1, 3]);
  };
  const q = keyLike(qf, dk ** -0.5);
  const k = keyLike(kf, 1);
  const v = op.transpose(g, heads(vf, nv, dv), [0, 2, 1, 3]); // [B, nv, T, dv]
  const beta = op.transpose(g, op.sigmoid(g, op.matmul(g, x, w.inB, { transB: true })), [0, 2, 1]); // [B, nv, T]
  // g = -exp(A_log) * softplus(a + dt_bias): the log of the per-token decay.
  const negA = g.emit1("Neg", [g.emit1("Exp", [w.aLog], d, w.aLog.shape)], d, w.aLog.shape);
  const decay = op.mul(g, op.softplus(g, op.add(g, op.matmul(g, x, w.inA, { transB: true }), w.dtBias)), negA);
  const gl = op.transpose(g, decay, [0, 2, 1]); // [B, nv, T]

  const r = past ? recurrentScan(g, q, k, v, gl, beta, past.recurrent) : chunkedDeltaRule(g, q, k, v, gl, beta);
  // Gated RMSNorm per head (plain w), then the output projection.
  const o = op.transpose(g, r.o, [0, 2, 1, 3]); // [B, T, nv, dv]
  const normed = op.rmsNorm(g, o, w.norm, eps, false, 0);
  const gated = op.mul(g, normed, op.silu(g, heads(z, nv, dv)));
  return { y: w.out(op.reshape(g, gated, [0, 0, nv * dv])), state: { conv: newConv, recurrent: r.state } };
}

/** The last n steps of x [B, C, S] (n >= 1; rows shorter than n are padded with zeros in front), no gradient. */
function lastSteps(g: Graph, x: Value, n: number, C: number): Value {
  const padded = g.emit1("Pad", [x, g.constI64([0, 0, n, 0, 0, 0])], x.dtype, [x.shape[0], C, unknownDim()]);
  return g.emit1("Slice", [padded, g.constI64([-n]), g.constI64([2 ** 62]), g.constI64([2])], x.dtype, [x.shape[0], C, n]);
}

/**
 * The per-token recurrence from a given state, for inference with a cache: q, k [B, H, T, dk], v
 * [B, H, T, dv], gl, beta [B, H, T], S0 [B, H, dk, dv] -> o [B, H, T, dv] and the last state. One
 * ONNX Scan over the tokens (a decoding step is T = 1); no gradient.
 */
function recurrentScan(g: Graph, q: Value, k: Value, v: Value, gl: Value, beta: Value, S0: Value): { o: Value; state: Value } {
  const d = q.dtype;
  const p = g.fresh("rec");
  const n = (x: string) => `${p}_${x}`;
  const ax = (axes: number[]) => g.constI64(axes).name; // outer-scope constants, read by the body
  const node = (opType: string, inputs: string[], out: string): OnnxNode => ({ opType, name: n(`n_${out}`), inputs, outputs: [n(out)], attrs: {} });
  const body: OnnxNode[] = [
    node("Exp", [n("g")], "e"),
    node("Unsqueeze", [n("e"), ax([2, 3])], "e4"),
    node("Mul", [n("s"), n("e4")], "s1"), // decay
    node("Unsqueeze", [n("k"), ax([2])], "krow"),
    node("MatMul", [n("krow"), n("s1")], "pred"), // k^T S
    node("Unsqueeze", [n("v"), ax([2])], "vrow"),
    node("Sub", [n("vrow"), n("pred")], "err"),
    node("Unsqueeze", [n("b"), ax([2, 3])], "b4"),
    node("Mul", [n("err"), n("b4")], "delta"),
    node("Unsqueeze", [n("k"), ax([3])], "kcol"),
    node("MatMul", [n("kcol"), n("delta")], "upd"),
    node("Add", [n("s1"), n("upd")], "s2"), // S += k delta^T
    node("Unsqueeze", [n("q"), ax([2])], "qrow"),
    node("MatMul", [n("qrow"), n("s2")], "orow"),
    node("Squeeze", [n("orow"), ax([2])], "o"),
  ];
  const info = (name: string, rank: number) => ({ name: n(name), elemType: d, shape: new Array(rank).fill("") });
  const front = (x: Value) => op.transpose(g, x, x.shape.length === 4 ? [2, 0, 1, 3] : [2, 0, 1]); // time axis first
  const [state, oT] = g.emit(
    "Scan",
    [S0, front(q), front(k), front(v), front(gl), front(beta)],
    [
      { dtype: d, shape: S0.shape },
      { dtype: d, shape: [q.shape[2], q.shape[0], q.shape[1], v.shape[3]] },
    ],
    {
      body: {
        kind: "graph",
        value: {
          name: n("body"),
          nodes: body,
          inputs: [info("s", 4), info("q", 3), info("k", 3), info("v", 3), info("g", 2), info("b", 2)],
          outputs: [info("s2", 4), info("o", 3)],
          initializers: [],
        },
      },
      num_scan_inputs: int(5),
    },
  );
  return { o: g.emit1("Transpose", [oT], d, [q.shape[0], q.shape[1], q.shape[2], v.shape[3]], { perm: ints([1, 2, 0, 3]) }), state };
}

/** A [n, n] 0/1 matrix from a predicate on (row, column). */
function mask(g: Graph, d: "float32" | "float64", n: number, f: (i: number, j: number) => boolean): Value {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = f(i, j) ? 1 : 0;
  return g.constF(d, m, [n, n]);
}

/**
 * The chunked gated delta rule. q, k [B, H, T, dk] (q scaled), v [B, H, T, dv], gl (log decay) and
 * beta [B, H, T] -> o [B, H, T, dv] and the state after the last token. T is padded to whole chunks
 * (padding has k = v = 0 and no decay, so it changes nothing).
 */
export function chunkedDeltaRule(g: Graph, q: Value, k: Value, v: Value, gl: Value, beta: Value): { o: Value; state: Value } {
  const d = q.dtype as "float32" | "float64";
  const L = CHUNK;
  const dk = q.shape[3] as number;
  const dv = v.shape[3] as number;
  const T = op.lengthOf(g, q, 2);
  const chunks = (x: Value, last?: number) => op.reshape(g, op.padToMultiple(g, x, 2, L), last === undefined ? [0, 0, -1, L] : [0, 0, -1, L, last]);
  const qc = chunks(q, dk);
  const kc = chunks(k, dk);
  const vc = chunks(v, dv);
  const bc = op.unsqueeze(g, chunks(beta), [4]); // [B, H, n, L, 1]
  // Cumulative log decay within each chunk: cum[i] = sum_{j <= i} g[j] (a product with a triangle of ones).
  const cum = op.matmul(g, chunks(gl), mask(g, d, L, (i, j) => i <= j)); // [B, H, n, L]
  const lowerIncl = mask(g, d, L, (i, j) => j <= i);
  // decay[i, j] = exp(cum_i - cum_j) for j <= i, else 0 (masked before exp: no overflow above the diagonal).
  const diff = op.sub(g, op.unsqueeze(g, cum, [4]), op.unsqueeze(g, cum, [3]));
  const pair = op.mul(g, op.exp(g, op.mul(g, diff, lowerIncl)), lowerIncl); // [B, H, n, L, L]
  const kb = op.mul(g, kc, bc);
  const vb = op.mul(g, vc, bc);
  const expCum = op.exp(g, op.unsqueeze(g, cum, [4])); // [B, H, n, L, 1]
  // The within-chunk system (I + N) X = rhs, N strictly lower: N = (beta k_i . k_j) decay_ij.
  const N = op.mul(g, op.mul(g, op.matmul(g, kb, kc, { transB: true }), pair), mask(g, d, L, (i, j) => j < i));
  const inv = unitLowerInverse(g, N, d);
  const U = op.matmul(g, inv, vb); // [B, H, n, L, dv]
  const W = op.matmul(g, inv, op.mul(g, kb, expCum)); // [B, H, n, L, dk]
  const intra = op.mul(g, op.matmul(g, qc, kc, { transB: true }), pair);
  const qd = op.mul(g, qc, expCum);
  const last = op.slice(g, cum, 3, L - 1, L); // [B, H, n, 1]
  const kd = op.mul(g, kc, op.exp(g, op.unsqueeze(g, op.sub(g, last, cum), [4])));
  const chunkDecay = op.exp(g, op.unsqueeze(g, last, [4])); // [B, H, n, 1, 1]
  // S_{c+1} = A_c S_c + B_c with A_c = exp(last_c) I - kd_c^T W_c, B_c = kd_c^T U_c.
  const A = op.sub(g, op.mul(g, chunkDecay, g.constF(d, identity(dk), [dk, dk])), op.matmul(g, kd, W, { transA: true }));
  const Bm = op.matmul(g, kd, U, { transA: true });
  const toFront = [2, 0, 1, 3, 4];
  const { entering, final } = stateScan(g, op.transpose(g, A, toFront), op.transpose(g, Bm, toFront));
  const E = op.transpose(g, entering, [1, 2, 0, 3, 4]); // [B, H, n, dk, dv]: the state entering each chunk
  const o = op.add(g, op.matmul(g, qd, E), op.matmul(g, intra, op.sub(g, U, op.matmul(g, W, E))));
  const flat = op.reshape(g, o, [0, 0, -1, dv]);
  return { o: op.takeFirst(g, flat, 2, T, q.shape.slice(0, 3).concat([dv])), state: final };
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/**
 * (I + N)^-1 for strictly lower-triangular N [.., L, L] by block doubling: with X_s the inverse of
 * the s x s diagonal blocks, X_2s = X_s - X_s (N restricted to the lower-left s-block of each 2s-block)
 * X_s, since inv([[A, 0], [C, D]]) = [[A^-1, 0], [-D^-1 C A^-1, D^-1]]. log2(L) steps of two products.
 */
function unitLowerInverse(g: Graph, N: Value, d: "float32" | "float64"): Value {
  const L = CHUNK;
  const block = (s: number) => mask(g, d, L, (i, j) => Math.floor(i / s) % 2 === 1 && Math.floor(j / s) === Math.floor(i / s) - 1);
  let X = op.sub(g, g.constF(d, identity(L), [L, L]), op.mul(g, N, block(1)));
  for (let s = 2; s < L; s *= 2) X = op.sub(g, X, op.matmul(g, op.matmul(g, X, op.mul(g, N, block(s))), X));
  return X;
}

/**
 * The states a linear recurrence passes through: for c = 0..n-1 (or n-1..0 with `reverse`),
 * entering[c] = S, then S = A[c] S + B[c], from S = 0; A [n, .., m, m], B [n, .., m, p]. One ONNX
 * Scan. The gradient is the reverse scan with A^T: G[c] (d loss / d state after step c) satisfies
 * G[c] = dEntering[c+1] + A[c+1]^T G[c+1], which is `entering` of the reverse scan of (A^T, dEntering);
 * then dB = G and dA = G entering^T.
 */
export function stateScan(g: Graph, A: Value, B: Value, reverse = false): { entering: Value; final: Value } {
  const d = A.dtype;
  const stateShape = B.shape.slice(1);
  const p = g.fresh("scan");
  const info = (name: string) => ({ name, elemType: d, shape: stateShape.map(() => "") });
  const body: OnnxNode[] = [
    { opType: "MatMul", name: `${p}_mm`, inputs: [`${p}_a`, `${p}_s`], outputs: [`${p}_as`], attrs: {} },
    { opType: "Add", name: `${p}_add`, inputs: [`${p}_as`, `${p}_b`], outputs: [`${p}_next`], attrs: {} },
    { opType: "Identity", name: `${p}_id`, inputs: [`${p}_s`], outputs: [`${p}_enter`], attrs: {} },
  ];
  const zeros = g.emit1("ConstantOfShape", [g.emit1("Slice", [op.shapeOf(g, B), g.constI64([1]), g.constI64([2 ** 62])], "int64", [stateShape.length])], d, stateShape, {
    value: { kind: "tensor", value: { name: "zero", elemType: d, dims: [1], raw: new Uint8Array(d === "float64" ? 8 : 4) } },
  });
  const dir = reverse ? 1 : 0;
  const [final, entering] = g.emit(
    "Scan",
    [zeros, A, B],
    [
      { dtype: d, shape: stateShape },
      { dtype: d, shape: B.shape },
    ],
    {
      body: { kind: "graph", value: { name: `${p}_body`, nodes: body, inputs: [info(`${p}_s`), info(`${p}_a`), info(`${p}_b`)], outputs: [info(`${p}_next`), info(`${p}_enter`)], initializers: [] } },
      num_scan_inputs: int(2),
      scan_input_directions: ints([dir, dir]),
      scan_output_directions: ints([dir]),
    },
  );
  g.record([A, B], [entering], ([gE], need) => {
    const perm = A.shape.map((_, i) => i);
    [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
    const G = stateScan(g, op.transpose(g, A, perm), gE!, !reverse).entering;
    return [need[0] ? op.matmul(g, G, entering, { transB: true }) : undefined, need[1] ? G : undefined];
  });
  return { entering, final };
}
