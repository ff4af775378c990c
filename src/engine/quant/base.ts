/**
 * A quantized frozen base (QLoRA on the CPU): the linear layers' weights (q, k, v, o, gate, up, down)
 * in 4 or 8 bits, block-wise (blockwise.ts); embeddings, norms and biases stay float32. A quantized
 * weight is a Tensor whose `quantized` field holds the codes (its float data is empty), so it travels
 * through the same weight maps as the float ones. Training keeps a second copy quantized from W^T for
 * the backward product to the inputs; inference needs only W.
 */
import { TunekitError } from "../../util/errors.js";
import { loraSites } from "../models/lora.js";
import { outputEmbeddingName } from "../models/tensors.js";
import type { ModelConfig, Tensor } from "../types.js";
import { DEFAULT_BLOCK, quantize, quantizedBytes, type BaseBits } from "./blockwise.js";

export type { BaseBits } from "./blockwise.js";

export const BASE_BITS: readonly BaseBits[] = [4, 8];

/** `--base-bits`: 4, 8, or 32 / undefined for the float32 base (returned as undefined). */
export function parseBaseBits(raw: unknown): BaseBits | undefined {
  if (raw === undefined || raw === null || raw === "" || raw === 32 || raw === "32") return undefined;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (n === 4 || n === 8) return n;
  throw new TunekitError("invalid_base_bits", `--base-bits must be 4, 8 or 32 (float32), got "${String(raw)}"`, {
    hint: "4 or 8 keeps the frozen base weights quantized block-wise; 32 (the default) keeps them in float32",
  });
}

/** Names of the weights a quantized base stores in `bits` bits: every linear layer's. */
export function quantizedWeightNames(c: ModelConfig): Set<string> {
  return new Set(loraSites(c, "all-linear").map((s) => s.weight));
}

/** W quantized (and W^T too when `transposed`, for training), as a Tensor without float data. */
export function quantizeTensor(t: Tensor, bits: BaseBits, transposed: boolean, block = DEFAULT_BLOCK): Tensor {
  if (t.quantized) return t;
  const [rows, cols] = t.shape;
  const w = quantize(t.data, rows, cols, bits, block);
  const wt = transposed ? quantize(t.data, rows, cols, bits, block, true) : undefined;
  return { shape: t.shape, data: new Float32Array(0), quantized: { w, wt } };
}

/**
 * Replaces the linear weights of `weights` by quantized ones, one at a time (each float copy can be
 * freed as soon as it is quantized). Inference (`transposed` false) also gets the LM head quantized.
 */
export function quantizeWeights(c: ModelConfig, weights: Map<string, Tensor>, bits: BaseBits, transposed: boolean): Map<string, Tensor> {
  const names = quantizedWeightNames(c);
  for (const [name, t] of weights) if (names.has(name)) weights.set(name, quantizeTensor(t, bits, transposed));
  if (!transposed) {
    const head = outputEmbeddingName(c, (n) => weights.has(n));
    weights.set(head, withQuantizedHead(weights.get(head)!, bits));
  }
  return weights;
}

/**
 * The LM head for inference: its float data stays (a tied head is also the embedding table the lookup
 * reads), and a quantized copy multiplies the last hidden states, the largest product of a decode step
 * with a large vocabulary. Training keeps the head in float32 (the loss and its gradient use it).
 */
export function withQuantizedHead(t: Tensor, bits: BaseBits, block = DEFAULT_BLOCK): Tensor {
  if (t.quantized) return t;
  const [rows, cols] = t.shape;
  return { ...t, quantized: { w: quantize(t.data, rows, cols, bits, block) } };
}

/** Bytes a tensor holds, float or quantized. */
export function tensorBytes(t: Tensor): number {
  const q = t.quantized;
  return t.data.byteLength + (q ? quantizedBytes(q.w) + (q.wt ? quantizedBytes(q.wt) : 0) : 0);
}

/** `{ baseBits }` for an options object when `raw` asks for a quantized base, else `{}` (parseBaseBits' errors). */
export function baseBitsField(raw: unknown): { baseBits?: BaseBits } {
  const bits = parseBaseBits(raw);
  return bits ? { baseBits: bits } : {};
}
