/**
 * LoRA dropout masks drawn inside the graph from a counter-based hash of (seed, layer, element index),
 * so a run is reproducible from the seed alone (exact resume needs no RNG state from ORT). The hash is
 * a 32-bit multiply-xorshift mixer evaluated in int64 (products stay below 2^63, no overflow).
 */
import type { Graph, Value } from "../graph/graph.js";
import { int } from "../onnx/model.js";

const M32 = 2 ** 32;

function mix(g: Graph, h: Value): Value {
  const shape = h.shape;
  const i64 = (op: string, a: Value, b: Value) => g.emit1(op, [a, b], "int64", shape);
  const c = (v: number) => g.constI64([v], []);
  const xorShift = (x: Value, k: number) => i64("BitwiseXor", x, i64("Div", x, c(2 ** k)));
  let x = xorShift(h, 16);
  x = i64("Mod", i64("Mul", x, c(0x7feb352d)), c(M32));
  x = xorShift(x, 15);
  x = i64("Mod", i64("Mul", x, c(0x446ca68b)), c(M32));
  return xorShift(x, 16);
}

/** A [shape of x] mask with entries 0 (probability p) or 1/(1-p), in x's float type. */
export function dropoutMask(g: Graph, x: Value, seed: Value, layerIndex: number, p: number): Value {
  const shape = g.emit1("Shape", [x], "int64", [x.shape.length]);
  const n = g.emit1("ReduceProd", [shape], "int64", [], { keepdims: int(0) });
  const idx = g.emit1("Range", [g.constI64([0], []), n, g.constI64([1], [])], "int64", ["n"]);
  const idxs = g.emit1("Reshape", [idx, shape], "int64", x.shape);
  // Per-(seed, layer) salt, itself mixed so nearby seeds give unrelated masks.
  const seed32 = g.emit1("Mod", [seed, g.constI64([M32], [])], "int64", []);
  const salt = mix(g, g.emit1("BitwiseXor", [seed32, g.constI64([(layerIndex * 0x3c6ef372 + 0x1b873593) % M32], [])], "int64", []));
  const bits = mix(g, g.emit1("BitwiseXor", [idxs, salt], "int64", x.shape));
  const keep = g.emit1("GreaterOrEqual", [bits, g.constI64([Math.floor(p * M32)], [])], "bool", x.shape);
  const keepF = g.emit1("Cast", [keep], x.dtype, x.shape, { to: int(x.dtype === "float64" ? 11 : 1) });
  return g.emit1("Mul", [keepF, g.constF(x.dtype, 1 / (1 - p))], x.dtype, x.shape);
}
