/**
 * The vocabulary tables of a quantized base in training: the embedding lookup (com.microsoft
 * GatherBlockQuantized) and the LM head's cross-entropy (MatMulNBits) read block-quantized tables, so
 * no float32 table is kept (1.05 GB on the Llama-3.2-1B shape) and the head's two forward products per
 * chunk (forward, and recomputed in the backward pass) run on the integer kernels. The head is frozen:
 * only h gets a gradient, dh = dlogits W, on W^T's chunks quantized on their own (quant/qlinear.ts).
 * The codes are 8-bit (quant/base.ts VOCAB_BITS).
 */
import type { Graph, Value } from "../graph/graph.js";
import * as op from "../graph/ops.js";
import { int } from "../onnx/model.js";
import { tensorName } from "../models/family.js";
import { outputEmbeddingName } from "../models/tensors.js";
import type { ModelConfig, Tensor } from "../types.js";
import { blocksPerRow, rowSlice, type QuantizedMatrix } from "./blockwise.js";
import { ACCURACY_LEVEL, matmulNBits, quantizedInitializer, refuseReleased, type QuantizedValue } from "./qlinear.js";

/** A quantized table [V, D] in GatherBlockQuantized's layout: codes [V, D * bits / 8], scales [V, blocks], zero points. */
export interface QuantizedTable {
  q: QuantizedMatrix;
  data: Value;
  scales: Value;
  zeroPoints: Value;
}

/** GatherBlockQuantized reads rows of whole blocks: the table's width must be a multiple of the block. */
export const gatherable = (q: QuantizedMatrix) => q.cols % q.block === 0;

/** `q` as a lookup table named after `name` (its own initializers: ORT wants them 2-D). */
export function quantizedTable(g: Graph, name: string, q: QuantizedMatrix): QuantizedTable {
  if (!gatherable(q)) throw new Error(`${name}: ${q.cols} columns are not whole ${q.block}-column blocks`);
  const nb = blocksPerRow(q.cols, q.block);
  const zpCols = Math.ceil((nb * q.bits) / 8);
  const v = quantizedInitializer(g, `${name}:table`, q, { data: [q.rows, (q.cols * q.bits) / 8], scales: [q.rows, nb], zeroPoints: [q.rows, zpCols] });
  return { q, data: v.data, scales: v.scales, zeroPoints: v.zeroPoints };
}

/** Rows `ids` of the table, dequantized: [...ids.shape, D] (no gradient: the table is frozen). */
export function gatherQuantized(g: Graph, t: QuantizedTable, ids: Value): Value {
  return g.emit1("GatherBlockQuantized", [t.data, ids, t.scales, t.zeroPoints], "float32", [...ids.shape, t.q.cols], {
    bits: int(t.q.bits),
    block_size: int(t.q.block),
    gather_axis: int(0),
    quantize_axis: int(1),
  }, "com.microsoft");
}

/** One vocabulary chunk of the head: W's rows (blocks along D) and their W^T (blocks along the chunk). */
export interface HeadChunk {
  w: QuantizedValue;
  wt: QuantizedValue;
}

/**
 * sum_t w_t CE(softmax(h W^T), target_t) for a frozen quantized head, one vocabulary chunk at a time
 * (logits [N, chunk] never all alive); the backward pass recomputes each chunk's logits. `table`: W as
 * a lookup table (the target rows). h [N, D], targets [N] int64, weights [N].
 */
export function quantizedCrossEntropy(g: Graph, h: Value, chunks: HeadChunk[], table: QuantizedTable, targets: Value, weights: Value, accuracyLevel = ACCURACY_LEVEL): Value {
  const d = h.dtype;
  const N = h.shape[0];
  const lse = op.combinedLogSumExp(g, chunks.map((c) => op.chunkLogSoftmax(g, matmulNBits(g, h, c.w, accuracyLevel)).lse));
  const rows = gatherQuantized(g, table, targets);
  const { loss, w2 } = op.weightedTokenLoss(g, h, lse, rows, weights);
  g.record([h], [loss], ([gl]) => {
    const gt = g.emit1("Mul", [w2, gl!], d, [N, 1]); // d loss / d lse per token
    // h read again once gt exists, so ORT does not merge the recomputed products with the forward
    // ones (which would keep every chunk's logits alive from the forward pass).
    const hb = op.readAfter(g, h, [gt]);
    let gh = g.emit1("Neg", [g.emit1("Mul", [rows, gt], d, h.shape)], d, h.shape);
    for (const c of chunks) {
      const logits = matmulNBits(g, hb, c.w, accuracyLevel);
      const p = g.emit1("Exp", [g.emit1("Sub", [logits, lse], d, logits.shape)], d, logits.shape);
      const dl = g.emit1("Mul", [p, gt], d, logits.shape);
      // float32 compute here: rounded to int8 per block, the probabilities next to a block's largest one
      // become 0 (stories260K's held-out loss on an 8-bit base: 1.4% above float32's instead of 0.2%).
      gh = g.emit1("Add", [gh, matmulNBits(g, dl, c.wt, 0)], d, h.shape);
    }
    return [gh];
  });
  return loss;
}

/**
 * The lookup and the loss of a training or eval graph on the quantized vocabulary tables of `weights`
 * (quant/base.ts quantizeVocabTables), or undefined when the tables are float32.
 */
export function quantizedVocab(g: Graph, c: ModelConfig, weights: Map<string, Tensor>, accuracyLevel = ACCURACY_LEVEL): { embedding: (ids: Value) => Value; crossEntropy: (h: Value, targets: Value, lossWeights: Value) => Value } | undefined {
  const headName = outputEmbeddingName(c, (n) => weights.has(n));
  const head = weights.get(headName)!;
  refuseReleased(headName, head);
  const q = head.quantized;
  if (!q?.chunksT) return undefined;
  const embedName = tensorName(c, "embed");
  const table = quantizedTable(g, headName, q.w);
  const embedTable = embedName === headName ? table : quantizedTable(g, embedName, weights.get(embedName)!.quantized!.w);
  let start = 0;
  const chunks = q.chunksT.map((wt, i) => {
    const w = rowSlice(q.w, start, (start += wt.cols));
    return { w: quantizedInitializer(g, `${headName}[${i}]`, w), wt: quantizedInitializer(g, `${headName}[${i}]^T`, wt) };
  });
  return {
    embedding: (ids) => gatherQuantized(g, embedTable, ids),
    crossEntropy: (h, targets, lossWeights) => quantizedCrossEntropy(g, h, chunks, table, targets, lossWeights, accuracyLevel),
  };
}

/** `{ embedding }` for DecoderOptions when the embedding table kept only its codes (quant/base.ts, inference), else `{}`. */
export function quantizedLookup(g: Graph, name: string, t: Tensor): { embedding?: (ids: Value) => Value } {
  refuseReleased(name, t);
  if (!t.quantized || t.data.length > 0) return {};
  const table = quantizedTable(g, name, t.quantized.w);
  return { embedding: (ids) => gatherQuantized(g, table, ids) };
}
