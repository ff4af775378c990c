/**
 * Differentiable ops. Each op emits its forward ONNX nodes and records, right next to them, its
 * vector-Jacobian product written in terms of other ops. Gradients of broadcast operands are summed
 * back to the operand's shape (`sumTo`).
 */
import { fl, int, ints, str, type Dim } from "../onnx/model.js";
import type { Graph, Value } from "./graph.js";
import { broadcastShapes, normAxis, reshapeShape, sameShape, unknownDim } from "./shape.js";

// ---------------------------------------------------------------- helpers (not differentiated)

/** Runtime shape of a value, as an int64 vector. */
export function shapeOf(g: Graph, x: Value): Value {
  return g.emit1("Shape", [x], "int64", [x.shape.length]);
}

/** Sum `v` (a gradient of broadcast shape) down to `target` shape. */
export function sumTo(g: Graph, v: Value, target: readonly Dim[]): Value {
  if (sameShape(v.shape, target)) return v;
  let cur = v;
  const lead = v.shape.length - target.length;
  if (lead > 0) {
    const axes = Array.from({ length: lead }, (_, i) => i);
    cur = g.emit1("ReduceSum", [cur, g.constI64(axes)], cur.dtype, cur.shape.slice(lead), { keepdims: int(0) });
  }
  const ones: number[] = [];
  target.forEach((d, i) => {
    if (d === 1 && cur.shape[i] !== 1) ones.push(i);
  });
  if (ones.length > 0) {
    cur = g.emit1("ReduceSum", [cur, g.constI64(ones)], cur.dtype, target, { keepdims: int(1) });
  }
  return cur;
}

function scalar(g: Graph, like: Value, x: number): Value {
  return g.constF(like.dtype, x);
}

function binaryRaw(g: Graph, op: string, a: Value, b: Value): Value {
  return g.emit1(op, [a, b], a.dtype, broadcastShapes(a.shape, b.shape));
}

function unaryRaw(g: Graph, op: string, a: Value, attrs = {}): Value {
  return g.emit1(op, [a], a.dtype, a.shape, attrs);
}

// ---------------------------------------------------------------- elementwise

export function add(g: Graph, a: Value, b: Value): Value {
  const y = binaryRaw(g, "Add", a, b);
  g.record([a, b], [y], ([gy], need) => [need[0] ? sumTo(g, gy!, a.shape) : undefined, need[1] ? sumTo(g, gy!, b.shape) : undefined]);
  return y;
}

export function sub(g: Graph, a: Value, b: Value): Value {
  const y = binaryRaw(g, "Sub", a, b);
  g.record([a, b], [y], ([gy], need) => [
    need[0] ? sumTo(g, gy!, a.shape) : undefined,
    need[1] ? sumTo(g, neg(g, gy!), b.shape) : undefined,
  ]);
  return y;
}

export function mul(g: Graph, a: Value, b: Value): Value {
  const y = binaryRaw(g, "Mul", a, b);
  g.record([a, b], [y], ([gy], need) => [
    need[0] ? sumTo(g, mul(g, gy!, b), a.shape) : undefined,
    need[1] ? sumTo(g, mul(g, gy!, a), b.shape) : undefined,
  ]);
  return y;
}

export function div(g: Graph, a: Value, b: Value): Value {
  const y = binaryRaw(g, "Div", a, b);
  g.record([a, b], [y], ([gy], need) => [
    need[0] ? sumTo(g, div(g, gy!, b), a.shape) : undefined,
    // d(a/b)/db = -y/b
    need[1] ? sumTo(g, neg(g, div(g, mul(g, gy!, y), b)), b.shape) : undefined,
  ]);
  return y;
}

export function scale(g: Graph, a: Value, s: number): Value {
  return mul(g, a, scalar(g, a, s));
}

export function neg(g: Graph, a: Value): Value {
  const y = unaryRaw(g, "Neg", a);
  g.record([a], [y], ([gy]) => [neg(g, gy!)]);
  return y;
}

export function exp(g: Graph, a: Value): Value {
  const y = unaryRaw(g, "Exp", a);
  g.record([a], [y], ([gy]) => [mul(g, gy!, y)]);
  return y;
}

export function log(g: Graph, a: Value): Value {
  const y = unaryRaw(g, "Log", a);
  g.record([a], [y], ([gy]) => [div(g, gy!, a)]);
  return y;
}

export function sqrt(g: Graph, a: Value): Value {
  const y = unaryRaw(g, "Sqrt", a);
  g.record([a], [y], ([gy]) => [div(g, gy!, scale(g, y, 2))]);
  return y;
}

/** a ** p for a constant exponent p. */
export function pow(g: Graph, a: Value, p: number): Value {
  const y = g.emit1("Pow", [a, scalar(g, a, p)], a.dtype, a.shape);
  g.record([a], [y], ([gy]) => [mul(g, gy!, scale(g, pow(g, a, p - 1), p))]);
  return y;
}

export function sigmoid(g: Graph, a: Value): Value {
  const y = unaryRaw(g, "Sigmoid", a);
  g.record([a], [y], ([gy]) => [mul(g, gy!, mul(g, y, sub(g, scalar(g, a, 1), y)))]);
  return y;
}

/** x * sigmoid(x). */
export function silu(g: Graph, a: Value): Value {
  const s = unaryRaw(g, "Sigmoid", a);
  const y = binaryRaw(g, "Mul", a, s);
  // d/dx = s + x s (1 - s) = s (1 - y) + y
  g.record([a], [y], ([gy]) => [mul(g, gy!, add(g, mul(g, s, sub(g, scalar(g, a, 1), y)), y))]);
  return y;
}

/**
 * softplus(x) = log(1 + exp(x)), written as max(x, 0) + log(1 + exp(-|x|)) so large |x| neither
 * overflows nor loses x; its derivative is sigmoid(x).
 */
export function softplus(g: Graph, x: Value): Value {
  const d = x.dtype;
  const abs = g.emit1("Abs", [x], d, x.shape);
  const tail = g.emit1("Log", [g.emit1("Add", [g.constF(d, 1), g.emit1("Exp", [g.emit1("Neg", [abs], d, x.shape)], d, x.shape)], d, x.shape)], d, x.shape);
  const y = g.emit1("Add", [g.emit1("Relu", [x], d, x.shape), tail], d, x.shape);
  g.record([x], [y], ([gy]) => [mul(g, gy!, g.emit1("Sigmoid", [x], d, x.shape))]);
  return y;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU with the tanh approximation (PyTorch's gelu(approximate="tanh"), transformers'
 * "gelu_pytorch_tanh"): y = 0.5 x (1 + tanh(u)), u = c (x + a x^3), c = sqrt(2/pi), a = 0.044715.
 * float32 runs ONNX Runtime's FastGelu kernel (com.microsoft, the same formula). The ops use the
 * identity 0.5 (1 + tanh(u)) = sigmoid(2u), which has no cancellation where tanh(u) is near -1:
 * y = x s, s = sigmoid(2u), and dy/dx = s + x s (1 - s) 2c (1 + 3 a x^2), with s recomputed from x.
 */
export function geluTanh(g: Graph, x: Value): Value {
  const d = x.dtype;
  const c = (v: number) => g.constF(d, v);
  const m = (a: Value, b: Value) => g.emit1("Mul", [a, b], d, x.shape);
  const ad = (a: Value, b: Value) => g.emit1("Add", [a, b], d, x.shape);
  /** x^2 and sigmoid(2u). */
  const pieces = () => {
    const x2 = m(x, x);
    const s = g.emit1("Sigmoid", [m(x, ad(m(x2, c(2 * GELU_C * GELU_A)), c(2 * GELU_C)))], d, x.shape);
    return { x2, s };
  };
  const y = d === "float32" ? g.emit1("FastGelu", [x], d, x.shape, {}, "com.microsoft") : m(x, pieces().s);
  g.record([x], [y], ([gy]) => {
    const { x2, s } = pieces();
    const du2 = ad(m(x2, c(6 * GELU_C * GELU_A)), c(2 * GELU_C)); // d(2u)/dx
    const ds = m(s, g.emit1("Sub", [c(1), s], d, x.shape)); // s (1 - s)
    return [m(gy!, ad(s, m(m(x, ds), du2)))];
  });
  return y;
}

// ---------------------------------------------------------------- reductions

function reduceShape(shape: readonly Dim[], axes: number[], keep: boolean): Dim[] {
  return keep ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Broadcast a reduced gradient back over the reduced axes of `x` (xShape: x's shape, taken in the forward pass). */
function unreduce(g: Graph, gy: Value, x: Value, xShape: () => Value, axes: number[], keep: boolean): Value {
  const kept = keep ? gy : g.emit1("Unsqueeze", [gy, g.constI64(axes)], gy.dtype, reduceShape(x.shape, axes, true));
  return g.emit1("Expand", [kept, xShape()], gy.dtype, x.shape);
}

/**
 * x's shape for use in the backward pass: a constant (made when needed) when fully known, else a
 * Shape node emitted now, in the forward pass, so x itself need not stay alive.
 */
function forwardShape(g: Graph, x: Value): () => Value {
  if (x.shape.every((d) => typeof d === "number")) return () => g.constI64(x.shape as number[]);
  const s = shapeOf(g, x);
  return () => s;
}

export function reduceSum(g: Graph, x: Value, axes: number[], keepdims = false): Value {
  const ax = axes.map((a) => normAxis(a, x.shape.length));
  const y = g.emit1("ReduceSum", [x, g.constI64(ax)], x.dtype, reduceShape(x.shape, ax, keepdims), { keepdims: int(keepdims ? 1 : 0) });
  const xShape = forwardShape(g, x);
  g.record([x], [y], ([gy]) => [unreduce(g, gy!, x, xShape, ax, keepdims)]);
  return y;
}

export function reduceMean(g: Graph, x: Value, axes: number[], keepdims = false): Value {
  const ax = axes.map((a) => normAxis(a, x.shape.length));
  const sizes = ax.map((a) => x.shape[a]);
  if (!sizes.every((d) => typeof d === "number")) throw new Error("reduceMean: reduced axes must have fixed sizes");
  const count = (sizes as number[]).reduce((p, q) => p * q, 1);
  const y = g.emit1("ReduceMean", [x, g.constI64(ax)], x.dtype, reduceShape(x.shape, ax, keepdims), { keepdims: int(keepdims ? 1 : 0) });
  const xShape = forwardShape(g, x);
  g.record([x], [y], ([gy]) => [unreduce(g, scale(g, gy!, 1 / count), x, xShape, ax, keepdims)]);
  return y;
}

// ---------------------------------------------------------------- matmul

export interface MatMulOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

function lastTwoSwapped(s: readonly Dim[]): Dim[] {
  const r = [...s];
  const n = r.length;
  [r[n - 2], r[n - 1]] = [r[n - 1], r[n - 2]];
  return r;
}

function swapPerm(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

/** Forward emission of alpha * op(A) @ op(B), without recording. */
function matmulRaw(g: Graph, a: Value, b: Value, o: MatMulOptions): Value {
  const ta = !!o.transA && a.shape.length >= 2;
  const tb = !!o.transB;
  const alpha = o.alpha ?? 1;
  const sa = ta ? lastTwoSwapped(a.shape) : [...a.shape];
  const sb = tb ? lastTwoSwapped(b.shape) : [...b.shape];
  const batch = broadcastShapes(sa.slice(0, -2), sb.slice(0, -2));
  const outShape = [...batch, sa[sa.length - 2], sb[sb.length - 1]];
  if (g.fusedMatMul && a.dtype === "float32") {
    return g.emit1("FusedMatMul", [a, b], a.dtype, outShape, { transA: int(ta ? 1 : 0), transB: int(tb ? 1 : 0), alpha: fl(alpha) }, "com.microsoft");
  }
  const aa = ta ? g.emit1("Transpose", [a], a.dtype, sa, { perm: { kind: "ints", value: swapPerm(a.shape.length) } }) : a;
  const bb = tb ? g.emit1("Transpose", [b], b.dtype, sb, { perm: { kind: "ints", value: swapPerm(b.shape.length) } }) : b;
  const y = g.emit1("MatMul", [aa, bb], a.dtype, outShape);
  return alpha === 1 ? y : g.emit1("Mul", [y, g.constF(a.dtype, alpha)], a.dtype, outShape);
}

function flatten2d(g: Graph, x: Value): Value {
  const last = x.shape[x.shape.length - 1];
  return g.emit1("Reshape", [x, g.constI64([-1, typeof last === "number" ? last : -1])], x.dtype, [unknownDim(), last]);
}

/**
 * alpha * op(A) @ op(B), op = optional transpose of the last two axes (FusedMatMul where possible, so
 * frozen weights are never copied transposed). A 2-D B with a batched A is the linear-layer case: its
 * gradient is computed on the flattened batch, not summed over a batched product.
 */
export function matmul(g: Graph, a: Value, b: Value, o: MatMulOptions = {}): Value {
  const y = matmulRaw(g, a, b, o);
  const ta = !!o.transA;
  const tb = !!o.transB;
  const alpha = o.alpha ?? 1;
  g.record([a, b], [y], ([gy], need) => {
    let ga: Value | undefined;
    let gb: Value | undefined;
    if (need[0]) {
      // d op(A) = alpha gY op(B)^T
      ga = ta ? matmul(g, b, gy!, { transA: tb, transB: true, alpha }) : matmul(g, gy!, b, { transB: !tb, alpha });
      ga = sumTo(g, ga, a.shape);
    }
    if (need[1]) {
      const linear = b.shape.length === 2 && a.shape.length > 2;
      const aa = linear ? flatten2d(g, a) : a;
      const gg = linear ? flatten2d(g, gy!) : gy!;
      // d op(B) = alpha op(A)^T gY
      gb = tb ? matmul(g, gg, aa, { transA: true, transB: ta, alpha }) : matmul(g, aa, gg, { transA: !ta, alpha });
      gb = sumTo(g, gb, b.shape);
    }
    return [ga, gb];
  });
  return y;
}

// ---------------------------------------------------------------- indexing and layout

/** Rows of `table` picked by integer `ids` (embedding lookup). */
export function gather(g: Graph, table: Value, ids: Value): Value {
  const y = g.emit1("Gather", [table, ids], table.dtype, [...ids.shape, ...table.shape.slice(1)], { axis: int(0) });
  g.record([table, ids], [y], ([gy], need) => {
    if (!need[0]) return [undefined, undefined];
    const zeros = g.emit1("ConstantOfShape", [shapeOf(g, table)], table.dtype, table.shape, {
      value: { kind: "tensor", value: { name: "zero", elemType: table.dtype, dims: [1], raw: zeroBytes(table.dtype) } },
    });
    const idx = g.emit1("Unsqueeze", [ids, g.constI64([-1])], "int64", [...ids.shape, 1]);
    return [g.emit1("ScatterND", [zeros, idx, gy!], table.dtype, table.shape, { reduction: str("add") }), undefined];
  });
  return y;
}

function zeroBytes(dtype: string): Uint8Array {
  return new Uint8Array(dtype === "float64" ? 8 : 4);
}

/**
 * The Reshape spec that turns a tensor of shape `from` back into `to` without looking at any tensor:
 * fixed sizes stay, a named size at the same index in both is copied (0), one other named size is
 * inferred (-1). Undefined when that is not enough.
 */
function staticReshapeSpec(from: readonly Dim[], to: readonly Dim[]): number[] | undefined {
  let inferred = 0;
  const spec = to.map((d, i) => {
    if (typeof d === "number") return d;
    if (i < from.length && from[i] === d) return 0;
    inferred++;
    return -1;
  });
  return inferred <= 1 ? spec : undefined;
}

export function reshape(g: Graph, x: Value, spec: number[]): Value {
  const y = g.emit1("Reshape", [x, g.constI64(spec)], x.dtype, reshapeShape(x.shape, spec));
  // The backward reshape must not read x's runtime shape: that would keep x alive until backward.
  const back = staticReshapeSpec(y.shape, x.shape);
  const xShape = back ? undefined : shapeOf(g, x);
  g.record([x], [y], ([gy]) => [g.emit1("Reshape", [gy!, xShape ?? g.constI64(back!)], x.dtype, x.shape)]);
  return y;
}

export function transpose(g: Graph, x: Value, perm: number[]): Value {
  const y = g.emit1("Transpose", [x], x.dtype, perm.map((p) => x.shape[p]), { perm: { kind: "ints", value: perm } });
  const inv = perm.map((_, i) => perm.indexOf(i));
  g.record([x], [y], ([gy]) => [transpose(g, gy!, inv)]);
  return y;
}

export function unsqueeze(g: Graph, x: Value, axes: number[]): Value {
  const rank = x.shape.length + axes.length;
  const ax = axes.map((a) => normAxis(a, rank));
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
  const y = g.emit1("Unsqueeze", [x, g.constI64(ax)], x.dtype, shape);
  g.record([x], [y], ([gy]) => [g.emit1("Squeeze", [gy!, g.constI64(ax)], x.dtype, x.shape)]);
  return y;
}

/** Concatenate along `axis`; every input's size on that axis must be fixed (the gradient splits by them). */
export function concat(g: Graph, xs: Value[], axis: number): Value {
  const ax = normAxis(axis, xs[0].shape.length);
  const sizes = xs.map((x) => x.shape[ax]);
  const total = sizes.every((s) => typeof s === "number") ? (sizes as number[]).reduce((p, q) => p + q, 0) : unknownDim();
  const shape = xs[0].shape.map((d, i) => (i === ax ? total : d));
  const y = g.emit1("Concat", xs, xs[0].dtype, shape, { axis: int(ax) });
  g.record(xs, [y], ([gy], need) => {
    if (!sizes.every((s) => typeof s === "number")) throw new Error("concat: gradient needs fixed sizes on the axis");
    const parts = g.emit(
      "Split",
      [gy!, g.constI64(sizes as number[])],
      xs.map((x) => ({ dtype: x.dtype, shape: x.shape })),
      { axis: int(ax) },
    );
    return parts.map((p, i) => (need[i] ? p : undefined));
  });
  return y;
}

/** Split along `axis` into parts of the given sizes; the gradient is the parts' gradients concatenated. */
export function split(g: Graph, x: Value, axis: number, sizes: number[]): Value[] {
  const ax = normAxis(axis, x.shape.length);
  const parts = g.emit(
    "Split",
    [x, g.constI64(sizes)],
    sizes.map((n) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? n : d)) })),
    { axis: int(ax) },
  );
  g.record([x], parts, (gys) => {
    if (gys.some((v) => v === undefined)) throw new Error("split: every part must reach the loss");
    return [g.emit1("Concat", gys as Value[], x.dtype, x.shape, { axis: int(ax) })];
  });
  return parts;
}

/**
 * Split along `axis` into parts whose sizes are only known when the graph runs (`sizes`: an int64
 * vector value). A part that does not reach the loss gets a zero gradient.
 */
export function splitBy(g: Graph, x: Value, axis: number, sizes: Value, count: number): Value[] {
  const ax = normAxis(axis, x.shape.length);
  const parts = g.emit(
    "Split",
    [x, sizes],
    Array.from({ length: count }, () => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? unknownDim() : d)) })),
    { axis: int(ax) },
  );
  // Shapes taken now, so the backward pass's zeros do not keep the parts alive.
  const shapes = parts.map((p) => shapeOf(g, p));
  g.record([x], parts, (gys) => {
    const filled = gys.map(
      (gy, i) =>
        gy ??
        g.emit1("ConstantOfShape", [shapes[i]], x.dtype, parts[i].shape, {
          value: { kind: "tensor", value: { name: "zero", elemType: x.dtype, dims: [1], raw: zeroBytes(x.dtype) } },
        }),
    );
    return [g.emit1("Concat", filled, x.dtype, x.shape, { axis: int(ax) })];
  });
  return parts;
}

/** Concatenate along `axis` parts of sizes known only when the graph runs (`sizes`, as for splitBy). */
export function concatBy(g: Graph, xs: Value[], axis: number, sizes: Value): Value {
  const ax = normAxis(axis, xs[0].shape.length);
  const y = g.emit1("Concat", xs, xs[0].dtype, xs[0].shape.map((d, i) => (i === ax ? unknownDim() : d)), { axis: int(ax) });
  g.record(xs, [y], ([gy], need) => {
    const parts = g.emit("Split", [gy!, sizes], xs.map((x) => ({ dtype: x.dtype, shape: x.shape })), { axis: int(ax) });
    return parts.map((p, i) => (need[i] ? p : undefined));
  });
  return y;
}

/** x[..., start:end, ...] along `axis` (fixed size on that axis). */
export function slice(g: Graph, x: Value, axis: number, start: number, end: number): Value {
  const ax = normAxis(axis, x.shape.length);
  const size = x.shape[ax];
  const y = g.emit1("Slice", [x, g.constI64([start]), g.constI64([end]), g.constI64([ax])], x.dtype, x.shape.map((d, i) => (i === ax ? end - start : d)));
  g.record([x], [y], ([gy]) => {
    if (typeof size !== "number") throw new Error("slice: gradient needs a fixed size on the axis");
    const pads = new Array(2 * x.shape.length).fill(0);
    pads[ax] = start;
    pads[x.shape.length + ax] = size - end;
    return [g.emit1("Pad", [gy!, g.constI64(pads)], x.dtype, x.shape)];
  });
  return y;
}

/** Runtime size of `axis` of x as an int64 [1] vector. */
function axisSize(g: Graph, x: Value, axis: number): Value {
  return g.emit1("Slice", [shapeOf(g, x), g.constI64([axis]), g.constI64([axis + 1])], "int64", [1]);
}

/** Pads `axis` with zeros at the end to a multiple of `m` (sizes known when the graph runs); the gradient drops the padding. */
export function padToMultiple(g: Graph, x: Value, axis: number, m: number): Value {
  const ax = normAxis(axis, x.shape.length);
  const n = axisSize(g, x, ax);
  const mC = g.constI64([m]);
  const extra = g.emit1("Mod", [g.emit1("Sub", [mC, g.emit1("Mod", [n, mC], "int64", [1])], "int64", [1]), mC], "int64", [1]);
  const zeros = g.constI64(new Array(2 * x.shape.length).fill(0));
  const at = g.constI64([x.shape.length + ax]);
  const pads = g.emit1("ScatterElements", [zeros, at, extra], "int64", [2 * x.shape.length], { axis: int(0) });
  const y = g.emit1("Pad", [x, pads], x.dtype, x.shape.map((d, i) => (i === ax ? unknownDim() : d)));
  g.record([x], [y], ([gy]) => [g.emit1("Slice", [gy!, g.constI64([0]), n, g.constI64([ax])], x.dtype, x.shape)]);
  return y;
}

/** The first `size` entries of `axis` (size: an int64 [1] value, e.g. axisSize of another tensor); the gradient pads with zeros. */
export function takeFirst(g: Graph, x: Value, axis: number, size: Value, shape: readonly Dim[]): Value {
  const ax = normAxis(axis, x.shape.length);
  const full = axisSize(g, x, ax);
  const y = g.emit1("Slice", [x, g.constI64([0]), size, g.constI64([ax])], x.dtype, shape);
  g.record([x], [y], ([gy]) => {
    const zeros = g.constI64(new Array(2 * x.shape.length).fill(0));
    const extra = g.emit1("Sub", [full, size], "int64", [1]);
    const pads = g.emit1("ScatterElements", [zeros, g.constI64([x.shape.length + ax]), extra], "int64", [2 * x.shape.length], { axis: int(0) });
    return [g.emit1("Pad", [gy!, pads], x.dtype, x.shape)];
  });
  return y;
}

/** The runtime length of `axis` of x as an int64 [1] value (for takeFirst). */
export function lengthOf(g: Graph, x: Value, axis: number): Value {
  return axisSize(g, x, normAxis(axis, x.shape.length));
}

/**
 * Causal depthwise convolution over time: x [B, C, T], w [C, 1, K] (frozen), y[c, t] =
 * sum_j w[c, j] x[c, t - K + 1 + j] with zeros before the start. The input gradient is the same
 * convolution run backwards in time: the kernel flipped, the zeros after the end.
 */
export function causalDepthwiseConv(g: Graph, x: Value, w: Value): Value {
  const y = depthwiseConvRaw(g, x, w, "causal");
  g.record([x, w], [y], ([gy], need) => {
    if (need[1]) throw new Error("causalDepthwiseConv: the kernel is frozen (no gradient)");
    const K = w.shape[2] as number;
    const flipped = g.emit1("Slice", [w, g.constI64([K - 1]), g.constI64([-(2 ** 62)]), g.constI64([2]), g.constI64([-1])], w.dtype, w.shape);
    return [depthwiseConvRaw(g, gy!, flipped, "anticausal"), undefined];
  });
  return y;
}

/** The convolution's forward pass: ONNX Conv in float32; in float64 (no CPU kernel) K shifted products. */
function depthwiseConvRaw(g: Graph, x: Value, w: Value, side: "causal" | "anticausal"): Value {
  const C = w.shape[0] as number;
  const K = w.shape[2] as number;
  const pads = side === "causal" ? [K - 1, 0] : [0, K - 1];
  if (x.dtype === "float32") return g.emit1("Conv", [x, w], x.dtype, x.shape, { group: int(C), pads: ints(pads), kernel_shape: ints([K]) });
  const padded = g.emit1("Pad", [x, g.constI64([0, 0, pads[0], 0, 0, pads[1]])], x.dtype, [x.shape[0], x.shape[1], unknownDim()]);
  const T = axisSize(g, x, 2);
  let y: Value | undefined;
  for (let j = 0; j < K; j++) {
    const xj = g.emit1("Slice", [padded, g.constI64([j]), g.emit1("Add", [T, g.constI64([j])], "int64", [1]), g.constI64([2])], x.dtype, x.shape);
    const wj = g.emit1("Reshape", [g.emit1("Slice", [w, g.constI64([j]), g.constI64([j + 1]), g.constI64([2])], w.dtype, [C, 1, 1]), g.constI64([C, 1])], w.dtype, [C, 1]);
    const term = g.emit1("Mul", [xj, wj], x.dtype, x.shape);
    y = y ? g.emit1("Add", [y, term], x.dtype, x.shape) : term;
  }
  return y!;
}

// ---------------------------------------------------------------- normalisation and attention pieces

export function softmax(g: Graph, x: Value, axis = -1): Value {
  const ax = normAxis(axis, x.shape.length);
  const y = g.emit1("Softmax", [x], x.dtype, x.shape, { axis: int(ax) });
  g.record([x], [y], ([gy]) => {
    // y * (g - sum(g * y))
    const gyy = g.emit1("Mul", [gy!, y], x.dtype, x.shape);
    const s = g.emit1("ReduceSum", [gyy, g.constI64([ax])], x.dtype, reduceShape(x.shape, [ax], true), { keepdims: int(1) });
    return [mul(g, y, sub(g, gy!, s))];
  });
  return y;
}

export function logSoftmax(g: Graph, x: Value, axis = -1): Value {
  const ax = normAxis(axis, x.shape.length);
  const y = g.emit1("LogSoftmax", [x], x.dtype, x.shape, { axis: int(ax) });
  g.record([x], [y], ([gy]) => {
    const s = g.emit1("ReduceSum", [gy!, g.constI64([ax])], x.dtype, reduceShape(x.shape, [ax], true), { keepdims: int(1) });
    return [sub(g, gy!, mul(g, exp(g, y), s))];
  });
  return y;
}

/**
 * Attention's core, softmax(scale q k^T + bias) v, for q [.., M, hd], k and v [.., S, hd] with the
 * same leading axes, and an additive bias (no gradient) that broadcasts to [.., M, S]. The backward
 * pass takes the softmax's row sums sum_j P_ij dP_ij from the output, as dO_i . O_i: a product over
 * hd columns instead of one more pass over the [M, S] probabilities.
 */
export function attention(g: Graph, q: Value, k: Value, v: Value, bias: Value, scale: number): Value {
  const d = q.dtype;
  const last = q.shape.length - 1;
  const scores = matmulRaw(g, q, k, { transB: true, alpha: scale });
  const biased = binaryRaw(g, "Add", scores, bias);
  const probs = g.emit1("Softmax", [biased], d, biased.shape, { axis: int(last) });
  const out = matmulRaw(g, probs, v, {});
  g.record([q, k, v, bias], [out], ([gO], need) => {
    if (need[3]) throw new Error("attention: no gradient for the bias");
    let dS: Value | undefined;
    if (need[0] || need[1]) {
      const dP = matmulRaw(g, gO!, v, { transB: true });
      const rowDot = g.emit1("ReduceSum", [g.emit1("Mul", [gO!, out], d, out.shape), g.constI64([last])], d, reduceShape(out.shape, [last], true), {
        keepdims: int(1),
      });
      dS = g.emit1("Mul", [probs, g.emit1("Sub", [dP, rowDot], d, dP.shape)], d, probs.shape);
    }
    return [
      need[0] ? matmulRaw(g, dS!, k, { alpha: scale }) : undefined,
      need[1] ? matmulRaw(g, dS!, q, { transA: true, alpha: scale }) : undefined,
      need[2] ? matmulRaw(g, probs, gO!, { transA: true }) : undefined,
      undefined,
    ];
  });
  return out;
}

/**
 * RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * (weightOffset + w). `fusable` writes it as Pow ->
 * ReduceMean -> Add -> Sqrt -> Div -> Mul, the exact pattern ONNX Runtime fuses into one
 * SimplifiedLayerNormalization kernel (and, after a residual Add, SkipSimplifiedLayerNormalization):
 * for inference graphs. Training graphs use x * x and a reciprocal, whose pieces the backward pass
 * reuses (calling that kernel directly in training made the bench/train.ts step slower).
 */
export function rmsNorm(g: Graph, x: Value, w: Value, eps: number, fusable = false, weightOffset = 0): Value {
  // Zero-centred weights (Gemma) scale by offset + w: an Add that ORT folds when w is a constant.
  if (weightOffset !== 0) w = add(g, w, g.constF(w.dtype, weightOffset));
  const d = x.dtype;
  const last = x.shape.length - 1;
  const keepShape = reduceShape(x.shape, [last], true);
  const x2 = fusable ? g.emit1("Pow", [x, g.constF(d, 2)], d, x.shape) : g.emit1("Mul", [x, x], d, x.shape);
  const ms = g.emit1("ReduceMean", [x2, g.constI64([last])], d, keepShape, { keepdims: int(1) });
  const s = g.emit1("Sqrt", [g.emit1("Add", [ms, g.constF(d, eps)], d, keepShape)], d, keepShape);
  let r: Value | undefined;
  const n = fusable ? g.emit1("Div", [x, s], d, x.shape) : g.emit1("Mul", [x, (r = g.emit1("Reciprocal", [s], d, keepShape))], d, x.shape);
  const y = g.emit1("Mul", [n, w], d, x.shape);
  g.record([x, w], [y], ([gy], need) => {
    const gn = mul(g, gy!, w);
    r ??= g.emit1("Reciprocal", [s], d, keepShape);
    const gx = need[0]
      ? mul(g, r, sub(g, gn, mul(g, n, reduceMean(g, mul(g, gn, n), [last], true))))
      : undefined;
    const gw = need[1] ? sumTo(g, mul(g, gy!, n), w.shape) : undefined;
    return [gx, gw];
  });
  return y;
}

/** rotate_half(x) = concat(-x2, x1) over the last axis (and its transpose concat(x2, -x1)). */
function rotateHalf(g: Graph, x: Value, transposed: boolean): Value {
  const last = x.shape.length - 1;
  const D = x.shape[last] as number;
  const h = D / 2;
  const sl = (s: number, e: number) =>
    g.emit1("Slice", [x, g.constI64([s]), g.constI64([e]), g.constI64([last])], x.dtype, x.shape.map((d, i) => (i === last ? h : d)));
  const x1 = sl(0, h);
  const x2 = sl(h, D);
  const parts = transposed ? [x2, g.emit1("Neg", [x1], x.dtype, x1.shape)] : [g.emit1("Neg", [x2], x.dtype, x2.shape), x1];
  return g.emit1("Concat", parts, x.dtype, x.shape, { axis: int(last) });
}

/** Rotary position embedding (HF "rotate_half" layout): x cos + rotate_half(x) sin. */
export function rope(g: Graph, x: Value, cos: Value, sin: Value): Value {
  const a = g.emit1("Mul", [x, cos], x.dtype, x.shape);
  const b = g.emit1("Mul", [rotateHalf(g, x, false), sin], x.dtype, x.shape);
  const y = g.emit1("Add", [a, b], x.dtype, x.shape);
  g.record([x, cos, sin], [y], ([gy], need) => {
    if (need[1] || need[2]) throw new Error("rope: no gradient for cos/sin");
    const gs = g.emit1("Mul", [gy!, sin], x.dtype, x.shape);
    const gc = g.emit1("Mul", [gy!, cos], x.dtype, x.shape);
    return [g.emit1("Add", [gc, rotateHalf(g, gs, true)], x.dtype, x.shape), undefined, undefined];
  });
  return y;
}

/**
 * Rotary position embedding through ONNX Runtime's RotaryEmbedding kernel (com.microsoft, float32;
 * rotate_half layout) with cos/sin tables [maxPos, hd/2] indexed by `positions` [B, T]. x is
 * [B, heads, T, hd]. The rotation's transpose is the rotation by minus the angle, so the gradient is
 * the same kernel with -sin in place of sin (a Neg of the constant table, folded when ORT loads the
 * model).
 */
export function rotaryEmbedding(g: Graph, x: Value, positions: Value, cos: Value, sin: Value): Value {
  const apply = (v: Value, s: Value) => g.emit1("RotaryEmbedding", [v, positions, cos, s], v.dtype, v.shape, { interleaved: int(0) }, "com.microsoft");
  const y = apply(x, sin);
  g.record([x], [y], ([gy]) => {
    // One negated table per graph, shared by every layer's gradient.
    let negSin = negatedTables.get(sin);
    if (!negSin) negatedTables.set(sin, (negSin = g.emit1("Neg", [sin], sin.dtype, sin.shape)));
    return [apply(gy!, negSin)];
  });
  return y;
}

const negatedTables = new WeakMap<Value, Value>();

/**
 * The int64 tensor [0], computed from `values` so that whatever reads it runs after them (and is
 * never merged with a computation that does not read it). ONNX Runtime orders a graph by a
 * depth-first walk from its outputs, which leaves every LoRA weight gradient (a graph output) to the
 * end of the step; with gradient checkpointing each layer's recomputed activations would then live
 * until the end. (The sum of an empty slice is data, not a constant, so no optimisation folds it away.)
 */
export function after(g: Graph, values: Value[]): Value {
  if (values.length === 0) return g.constI64([0]);
  const parts = values.map((v) => {
    const none = g.emit1("Slice", [v, g.constI64([0]), g.constI64([0]), g.constI64([0])], v.dtype, [0, ...v.shape.slice(1)]);
    return g.emit1("Reshape", [none, g.constI64([-1])], v.dtype, [0]);
  });
  const all = parts.length === 1 ? parts[0] : g.emit1("Concat", parts, parts[0].dtype, [0], { axis: int(0) });
  const zero = g.emit1("ReduceSum", [all], all.dtype, [1], { keepdims: int(1) });
  return g.emit1("Cast", [zero], "int64", [1], { to: int(7) });
}

/** `x` again, read only once `values` exist: a recomputation from it is not merged with the first computation. */
export function readAfter(g: Graph, x: Value, values: Value[]): Value {
  const end = g.emit1("Add", [g.constI64([2 ** 53]), after(g, values)], "int64", [1]);
  return g.emit1("Slice", [x, g.constI64([0]), end, g.constI64([0])], x.dtype, x.shape);
}

// ---------------------------------------------------------------- loss

export interface ChunkedCrossEntropyOptions {
  /** Vocabulary rows per chunk; bounds the [tokens x chunk] temporaries alive at once. */
  chunkSize: number;
  /**
   * Recompute each chunk's logits in the backward pass instead of keeping its log-softmax for the
   * whole vocabulary: no [tokens x vocab] tensor stays alive, for about 1.5x the head's matmul work.
   */
  recompute?: boolean;
  /**
   * W's row blocks supplied by the caller (e.g. zero-copy views fed as inputs), in order, instead of
   * Slice nodes that would copy the table on every run. W then gets no gradient.
   */
  chunks?: Value[];
}

/** Each chunk's log-softmax and log-sum-exp [N, 1] from its logits [N, chunk]. */
export function chunkLogSoftmax(g: Graph, logits: Value): { ls: Value; lse: Value } {
  const d = logits.dtype;
  const col = [logits.shape[0], 1];
  const firstColumn = (x: Value) => g.emit1("Slice", [x, g.constI64([0]), g.constI64([1]), g.constI64([1])], d, col);
  // One LogSoftmax pass (max, sum of exps and the output in MLAS's vector kernels) instead of
  // ReduceMax, Sub, Exp and ReduceSum over [N, chunk]. The chunk's log-sum-exp is any logit minus its
  // log-softmax; column 0's error is an ulp of |logit - max|, as for max + log(sum).
  const ls = g.emit1("LogSoftmax", [logits], d, logits.shape, { axis: int(1) });
  return { ls, lse: g.emit1("Sub", [firstColumn(logits), firstColumn(ls)], d, col) };
}

/** The log-sum-exp over the whole vocabulary [N, 1] from the chunks' [N, 1] ones. */
export function combinedLogSumExp(g: Graph, lses: Value[]): Value {
  if (lses.length === 1) return lses[0];
  const d = lses[0].dtype;
  const N = lses[0].shape[0];
  const col = [N, 1];
  const L = g.emit1("Concat", lses, d, [N, lses.length], { axis: int(1) });
  const m = g.emit1("ReduceMax", [L, g.constI64([1])], d, col, { keepdims: int(1) });
  const s = g.emit1("ReduceSum", [g.emit1("Exp", [g.emit1("Sub", [L, m], d, L.shape)], d, L.shape), g.constI64([1])], d, col, { keepdims: int(1) });
  return g.emit1("Add", [g.emit1("Log", [s], d, col), m], d, col);
}

/**
 * sum_t w_t (lse_t - h_t . W[target_t]) (no gradient recorded: the losses record their own), with
 * `targetRows` = W[target] [N, D]; also the weights as a column [N, 1].
 */
export function weightedTokenLoss(g: Graph, h: Value, lse: Value, targetRows: Value, weights: Value): { loss: Value; w2: Value } {
  const d = h.dtype;
  const col = [h.shape[0], 1];
  const tl = g.emit1("ReduceSum", [g.emit1("Mul", [h, targetRows], d, h.shape), g.constI64([1])], d, col, { keepdims: int(1) });
  const w2 = g.emit1("Unsqueeze", [weights, g.constI64([1])], d, col);
  const perTok = g.emit1("Mul", [g.emit1("Sub", [lse, tl], d, col), w2], d, col);
  return { loss: g.emit1("ReduceSum", [perTok, g.constI64([0, 1])], d, [], { keepdims: int(0) }), w2 };
}

/**
 * Weighted sum over tokens of cross-entropy(softmax(h W^T), target), with W [V, D] the output
 * embedding. Logits are computed one vocabulary chunk at a time and their log-sum-exp combined.
 * Backward either reuses each chunk's kept log-softmax or (recompute) recomputes the chunk in the
 * transposed layout, so ORT cannot merge it with the forward product and keep the logits alive.
 * h [N, D], targets [N] int64, weights [N].
 */
export function chunkedCrossEntropy(g: Graph, h: Value, W: Value, targets: Value, weights: Value, o: ChunkedCrossEntropyOptions): Value {
  const d = h.dtype;
  const V = W.shape[0] as number;
  const N = h.shape[0];
  const chunks: [number, number][] = [];
  for (let s = 0; s < V; s += o.chunkSize) chunks.push([s, Math.min(V, s + o.chunkSize)]);
  const Wc =
    o.chunks ??
    chunks.map(([s, e]) =>
      chunks.length === 1 ? W : g.emit1("Slice", [W, g.constI64([s]), g.constI64([e]), g.constI64([0])], W.dtype, [e - s, W.shape[1]]),
    );
  const col = [N, 1];
  const fwd = Wc.map((w) => chunkLogSoftmax(g, matmulRaw(g, h, w, { transB: true })));
  const lse = combinedLogSumExp(g, fwd.map((f) => f.lse));
  const wt = g.emit1("Gather", [W, targets], d, [N, W.shape[1]], { axis: int(0) });
  const { loss, w2 } = weightedTokenLoss(g, h, lse, wt, weights);

  g.record([h, W, targets, weights], [loss], ([gl], need) => {
    if (need[2] || need[3]) throw new Error("chunkedCrossEntropy: no gradient for targets or weights");
    if (need[1] && o.chunks) throw new Error("chunkedCrossEntropy: no gradient for W when its chunks are supplied");
    const gt = g.emit1("Mul", [w2, gl!], d, col); // d loss / d lse per token
    let gh: Value | undefined;
    const gWs: Value[] = [];
    const gtT = o.recompute ? g.emit1("Transpose", [gt], d, [1, N], { perm: { kind: "ints", value: [1, 0] } }) : undefined;
    const lseT = o.recompute ? g.emit1("Transpose", [lse], d, [1, N], { perm: { kind: "ints", value: [1, 0] } }) : undefined;
    Wc.forEach((w, c) => {
      const Vc = w.shape[0];
      if (o.recompute) {
        const logitsT = matmulRaw(g, w, h, { transB: true }); // [Vc, N]
        const pT = g.emit1("Exp", [g.emit1("Sub", [logitsT, lseT!], d, [Vc, N])], d, [Vc, N]);
        const dlT = g.emit1("Mul", [pT, gtT!], d, [Vc, N]);
        if (need[0]) {
          const part = matmulRaw(g, dlT, w, { transA: true }); // [N, D]
          gh = gh ? g.emit1("Add", [gh, part], d, h.shape) : part;
        }
        if (need[1]) gWs.push(matmulRaw(g, dlT, h, {})); // [Vc, D]
      } else {
        // softmax over the vocabulary = exp(ls) * exp(lse_c - lse). That factor and gt are per row, so
        // they scale the [N, D] product instead of the [N, chunk] probabilities.
        const p = g.emit1("Exp", [fwd[c].ls], d, [N, Vc]);
        const f = g.emit1("Mul", [g.emit1("Exp", [g.emit1("Sub", [fwd[c].lse, lse], d, col)], d, col), gt], d, col);
        if (need[0]) {
          const part = g.emit1("Mul", [matmulRaw(g, p, w, {}), f], d, h.shape); // [N, D]
          gh = gh ? g.emit1("Add", [gh, part], d, h.shape) : part;
        }
        if (need[1]) gWs.push(matmulRaw(g, p, g.emit1("Mul", [h, f], d, h.shape), { transA: true })); // [Vc, D]
      }
    });
    let gW: Value | undefined;
    if (need[0]) gh = g.emit1("Sub", [gh!, g.emit1("Mul", [wt, gt], d, h.shape)], d, h.shape);
    if (need[1]) {
      const dense = gWs.length === 1 ? gWs[0] : g.emit1("Concat", gWs, d, W.shape, { axis: int(0) });
      const idx = g.emit1("Unsqueeze", [targets, g.constI64([-1])], "int64", [N, 1]);
      const upd = g.emit1("Neg", [g.emit1("Mul", [h, gt], d, h.shape)], d, h.shape);
      gW = g.emit1("ScatterND", [dense, idx, upd], d, W.shape, { reduction: str("add") });
    }
    return [gh, gW, undefined, undefined];
  });
  return loss;
}
