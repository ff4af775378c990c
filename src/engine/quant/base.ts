/**
 * A quantized frozen base (QLoRA on the CPU): the linear layers' weights (q, k, v, o, gate, up, down)
 * in 4 or 8 bits, block-wise (blockwise.ts); in training the vocabulary tables too (quantizeVocabTables);
 * norms and biases stay float32. A quantized weight is a Tensor whose `quantized` field holds the
 * codes (its float data is empty), so it travels through the same weight maps as the float ones.
 * Training keeps a second copy quantized from W^T for the backward product to the inputs; inference
 * needs only W.
 */
import { TunekitError } from "../../util/errors.js";
import { loraSites } from "../models/lora.js";
import { outputEmbeddingName } from "../models/tensors.js";
import { tensorName } from "../models/family.js";
import type { ModelConfig, Tensor } from "../types.js";
import { DEFAULT_BLOCK, quantize, quantizedBytes, quantizedSize, type BaseBits, type QuantizedMatrix } from "./blockwise.js";
import type { CodeFile } from "./code-file.js";

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

/** `q`, moved to `codeFile` when there is one. */
const kept = (q: QuantizedMatrix, codeFile: CodeFile | undefined) => (codeFile ? codeFile.store(q) : q);

/**
 * W quantized (and W^T too when `transposed`, for training), as a Tensor without float data; with
 * `codeFile`, the codes are moved there as soon as they are made.
 */
export function quantizeTensor(t: Tensor, bits: BaseBits, transposed: boolean, codeFile?: CodeFile, block = DEFAULT_BLOCK): Tensor {
  if (t.quantized) return t;
  const [rows, cols] = t.shape;
  const w = kept(quantize(t.data, rows, cols, bits, block), codeFile);
  const wt = transposed ? kept(quantize(t.data, rows, cols, bits, block, true), codeFile) : undefined;
  return { shape: t.shape, data: new Float32Array(0), quantized: { w, wt } };
}

/** Bytes the quantized weights of `c` take for training (`transposed`: W^T's copies and the vocabulary tables too) or inference. */
export function quantizedBaseBytes(c: ModelConfig, bits: BaseBits, transposed: boolean, shapes: Map<string, number[]>): number {
  let n = 0;
  const both = (s: number[]) => quantizedSize(s[0], s[1], bits) + (transposed ? quantizedSize(s[1], s[0], bits) : 0);
  for (const name of quantizedWeightNames(c)) {
    const s = shapes.get(name);
    if (s) n += both(s);
  }
  // The vocabulary tables (quantizeVocabTables): at most an embedding and a head, each both ways.
  const embed = shapes.get(tensorName(c, "embed"));
  return transposed && embed ? n + 4 * quantizedSize(embed[0], embed[1], VOCAB_BITS, VOCAB_BLOCK) : n;
}

/**
 * Replaces the linear weights of `weights` by quantized ones, one at a time (each float copy can be
 * freed as soon as it is quantized), their codes moved to `codeFile` when given. Training
 * (`transposed`) and inference also get their vocabulary tables quantized (quantizeVocab).
 */
export function quantizeWeights(c: ModelConfig, weights: Map<string, Tensor>, bits: BaseBits, transposed: boolean, codeFile?: CodeFile): Map<string, Tensor> {
  const names = quantizedWeightNames(c);
  for (const [name, t] of weights) if (names.has(name)) weights.set(name, quantizeTensor(t, bits, transposed, codeFile));
  quantizeVocab(c, weights, transposed, codeFile);
  return weights;
}

/** The vocabulary side of a quantized base: training's tables (quantizeVocabTables) or inference's (quantizeInferenceTables). */
export function quantizeVocab(c: ModelConfig, weights: Map<string, Tensor>, training: boolean, codeFile?: CodeFile): void {
  if (training) quantizeVocabTables(c, weights, codeFile);
  else quantizeInferenceTables(c, weights);
}

/**
 * Inference on a quantized base: the LM head quantized (VOCAB_BITS; the largest product of a decode step
 * with a large vocabulary), and, when the hidden size is whole VOCAB_BLOCK blocks, the embedding too, its
 * lookup reading the codes (quant/qhead.ts): then no float32 table stays. Otherwise the float32 data
 * stays for the lookup.
 */
function quantizeInferenceTables(c: ModelConfig, weights: Map<string, Tensor>): void {
  const headName = outputEmbeddingName(c, (n) => weights.has(n));
  const embedName = tensorName(c, "embed");
  const lookupQuantized = weights.get(embedName)!.shape[1] % VOCAB_BLOCK === 0;
  const quantizedTable = (t: Tensor, keepFloat: boolean): Tensor =>
    t.quantized ? t : { shape: t.shape, data: keepFloat ? t.data : new Float32Array(0), quantized: { w: vocabCodes(t) } };
  weights.set(headName, quantizedTable(weights.get(headName)!, headName === embedName && !lookupQuantized));
  if (lookupQuantized && embedName !== headName) weights.set(embedName, quantizedTable(weights.get(embedName)!, false));
}

/** Vocabulary rows per chunk of a quantized head's loss (its W^T is quantized chunk by chunk). */
export const HEAD_CHUNK = 8192;

/**
 * The vocabulary tables' codes: 8 bits in blocks of 32, whatever the base's bits. On stories260K a 4-bit
 * head in blocks of 64/128 ended 21% above the float32 held-out loss, 8 bits in blocks of 64 2%; 8
 * bits in blocks of 32 stay within 0.3% (docs/engine.md, "Quantized frozen base").
 */
export const VOCAB_BITS: BaseBits = 8;
export const VOCAB_BLOCK = 32;

/**
 * Training on a quantized base: the LM head and the embedding table quantized as well (quant/qhead.ts,
 * VOCAB_BITS), when the hidden size is whole VOCAB_BLOCK blocks (the lookup reads whole blocks; else
 * they stay float32): the head as W (the logits and the lookups) and as W^T chunk by chunk (the gradient
 * to the hidden states), an untied embedding as W alone. No float32 table stays.
 */
export function quantizeVocabTables(c: ModelConfig, weights: Map<string, Tensor>, codeFile?: CodeFile, chunk = HEAD_CHUNK): void {
  const headName = outputEmbeddingName(c, (n) => weights.has(n));
  const head = weights.get(headName)!;
  const [V, D] = head.shape;
  if (head.quantized || D % VOCAB_BLOCK !== 0) return;
  const chunksT: QuantizedMatrix[] = [];
  for (let s = 0; s < V; s += chunk) {
    const e = Math.min(V, s + chunk);
    chunksT.push(kept(quantize(head.data.subarray(s * D, e * D), e - s, D, VOCAB_BITS, VOCAB_BLOCK, true), codeFile));
  }
  weights.set(headName, { shape: head.shape, data: new Float32Array(0), quantized: { w: vocabCodes(head, codeFile), chunksT } });
  const embedName = tensorName(c, "embed");
  const embed = weights.get(embedName)!;
  if (embedName !== headName) weights.set(embedName, { shape: embed.shape, data: new Float32Array(0), quantized: { w: vocabCodes(embed, codeFile) } });
}

/** A vocabulary table's codes (VOCAB_BITS, blocks of VOCAB_BLOCK along the hidden size), moved to `codeFile` when given. */
function vocabCodes(t: Tensor, codeFile?: CodeFile): QuantizedMatrix {
  return kept(quantize(t.data, t.shape[0], t.shape[1], VOCAB_BITS, VOCAB_BLOCK), codeFile);
}

/** Bytes a tensor holds, float or quantized. */
export function tensorBytes(t: Tensor): number {
  const q = t.quantized;
  if (!q) return t.data.byteLength;
  return t.data.byteLength + [q.w, q.wt, ...(q.chunksT ?? [])].reduce((n, m) => n + (m ? quantizedBytes(m) : 0), 0);
}

/** `{ baseBits }` for an options object when `raw` asks for a quantized base, else `{}` (parseBaseBits' errors). */
export function baseBitsField(raw: unknown): { baseBits?: BaseBits } {
  const bits = parseBaseBits(raw);
  return bits ? { baseBits: bits } : {};
}
