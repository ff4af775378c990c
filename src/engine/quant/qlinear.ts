/**
 * Frozen linear layers on block-quantized weights (QLoRA's frozen base): y = x W^T with ONNX Runtime's
 * com.microsoft MatMulNBits, and the gradient to the input, dx = dy W, with the same kernel on W^T
 * quantized on its own (MatMulNBits only multiplies by a transposed right operand). W gets no
 * gradient: it is frozen.
 */
import type { Graph, Value } from "../graph/graph.js";
import { int } from "../onnx/model.js";
import type { Tensor } from "../types.js";
import { blocksPerRow, type QuantizedMatrix, type StoredBytes } from "./blockwise.js";

/**
 * MatMulNBits' accuracy_level 4: the activations rounded to int8 per block and integer dot products
 * (VNNI where the CPU has it). 0 computes in float32 on the dequantized weights (tests).
 */
export const ACCURACY_LEVEL = 4;

/** A quantized matrix as three graph values (codes, scales, zero points). */
export interface QuantizedValue {
  rows: number;
  cols: number;
  bits: number;
  block: number;
  data: Value;
  scales: Value;
  zeroPoints: Value;
}

/**
 * Add a quantized matrix to the graph as initializers named after `name`, stored as external data (a
 * quantized 4B model's two copies are over protobuf's 2 GB limit): ORT copies them from our buffers, or
 * reads them from the code file they were moved to (code-file.ts).
 */
export function quantizedInitializer(g: Graph, name: string, q: QuantizedMatrix, dims?: { data: number[]; scales: number[]; zeroPoints: number[] }): QuantizedValue {
  const nb = blocksPerRow(q.cols, q.block);
  const at = q.stored;
  const d = dims ?? { data: [q.rows, nb, (q.block * q.bits) / 8], scales: [q.rows * nb], zeroPoints: [at ? at.zeroPoints.length : q.zeroPoints.length] };
  const put = (suffix: string, dtype: "uint8" | "float32", shape: number[], data: ArrayBufferView, stored: StoredBytes | undefined) =>
    stored ? g.storedInitializer(`${name}:${suffix}`, dtype, shape, stored) : g.initializer(`${name}:${suffix}`, dtype, shape, data, true);
  return {
    rows: q.rows,
    cols: q.cols,
    bits: q.bits,
    block: q.block,
    data: put("q", "uint8", d.data, q.data, at?.data),
    scales: put("scales", "float32", d.scales, q.scales, at?.scales),
    zeroPoints: put("zp", "uint8", d.zeroPoints, q.zeroPoints, at?.zeroPoints),
  };
}

/** x [..., cols] times W^T for a quantized W [rows, cols]: [..., rows] (no gradient recorded). */
export function matmulNBits(g: Graph, x: Value, w: QuantizedValue, accuracyLevel = ACCURACY_LEVEL): Value {
  return g.emit1("MatMulNBits", [x, w.data, w.scales, w.zeroPoints], x.dtype, [...x.shape.slice(0, -1), w.rows], {
    K: int(w.cols),
    N: int(w.rows),
    bits: int(w.bits),
    block_size: int(w.block),
    accuracy_level: int(accuracyLevel),
  }, "com.microsoft");
}

/**
 * y = x W^T for a frozen quantized W; `wt` (W^T quantized) is asked for only when the backward pass
 * needs x's gradient, so layers below every adapter never get the second copy.
 */
export function frozenQuantizedMatmul(g: Graph, x: Value, w: QuantizedValue, wt: () => QuantizedValue, accuracyLevel = ACCURACY_LEVEL): Value {
  const y = matmulNBits(g, x, w, accuracyLevel);
  g.record([x], [y], ([gy]) => [matmulNBits(g, gy!, wt(), accuracyLevel)]);
  return y;
}

/** A weight whose codes were handed over (EngineOptions.handOverQuantizedCodes) cannot go into a new graph. */
export function refuseReleased(name: string, t: Tensor | undefined): void {
  if (t?.released) throw new Error(`${name}: its quantized codes were handed to ONNX Runtime already; no new graph can be built from them`);
}

/**
 * The frozen product of each quantized weight in `weights` (undefined for float ones), its codes added
 * to the graph as initializers (MatMulNBits pre-packs constant weights once; fed as inputs it repacked
 * them on every run, 2-300x slower). `training`: the product records its input gradient on W^T.
 */
export function quantizedLinears(g: Graph, weights: Map<string, Tensor>, training: boolean, accuracyLevel = ACCURACY_LEVEL): (name: string) => ((x: Value) => Value) | undefined {
  // One initializer per weight, however often a layer is emitted (gradient checkpointing emits it twice).
  const made = new Map<string, QuantizedValue>();
  const once = (key: string, make: () => QuantizedValue) => made.get(key) ?? made.set(key, make()).get(key)!;
  return (name) => {
    refuseReleased(name, weights.get(name));
    const q = weights.get(name)?.quantized;
    if (!q) return undefined;
    return (x) => {
      const w = once(name, () => quantizedInitializer(g, name, q.w));
      if (!training) return matmulNBits(g, x, w, accuracyLevel);
      return frozenQuantizedMatmul(g, x, w, () => {
        if (!q.wt) throw new Error(`${name}: no transposed quantized copy for the backward pass`);
        return once(`${name}^T`, () => quantizedInitializer(g, `${name}^T`, q.wt!));
      }, accuracyLevel);
    };
  };
}
