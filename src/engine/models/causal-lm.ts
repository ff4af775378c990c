/**
 * A decoder-only causal language model on ONNX Runtime, for every family (models/families/): a LoRA
 * training step, a held-out loss, and KV-cached inference, built from the model's ModelConfig.
 *
 * API (weights are tensor names -> float32 tensors, as loadModel() in ../io/model.ts returns them):
 *
 *   const spec: LoraSpec = { r: 16, alpha: 32, targets: "all-linear" };    // or ["q", "v"]; see lora.ts
 *   const shapes = loraParamShapes(config, spec);      // [{ name: "layers.0.self_attn.q_proj.lora_A", shape: [r, in] },
 *                                                      //  { name: "layers.0.self_attn.q_proj.lora_B", shape: [out, r] }, ...]
 *   const step = await createTrainStep(config, weights, spec, { threads: 2 });
 *   const { lossSum, tokenCount, grads } = await step.run(batch, params, { dropoutSeed: 1234 });
 *   //   batch: { batchSize, seqLen, inputIds, targets, lossWeights, segmentIds?, positions? } (flat [B*T] arrays)
 *   //   targets[t] is the token predicted at position t (already shifted); lossWeights 0 ignores a position
 *   //   (negative targets are ignored too). segmentIds: 0 = padding, 1..k = packed examples (no attention
 *   //   across them); positions default to restarting at 0 in every segment.
 *   //   lossSum = sum_t w_t * CE_t (a SUM: normalise by tokens across micro-batches yourself);
 *   //   grads: d lossSum / d param for every LoRA tensor (same names as loraParamShapes).
 *   const { lossSum, tokenCount } = await step.evalLoss(batch, params);   // no dropout, no gradients
 *   await step.dispose();
 *
 *   const merged = mergeLora(config, weights, loraWeights(config, spec, params));  // W + scale * B @ A (new Map)
 *   const model = await createInferenceModel(config, merged, { threads: 2 });
 *   let { logits, cache } = await model.prefill([[1, 15043], [1, 306, 626]]);  // rows may differ: left-padded
 *   // logits: Float32Array [B * vocab], the last position of every row
 *   ({ logits, cache } = await model.decode(cache, [nextTok0, nextTok1]));     // one new token per row
 *   const all = await model.allLogits([[1, 2, 3]]);            // [B * T * vocab] (tests, scoring)
 *   await model.dispose();
 *
 * LoRA dropout (spec.dropout > 0) draws its masks inside the graph from a hash of (dropoutSeed, layer,
 * element), so the same seed gives the same masks (bit-identical resume needs only the seed).
 * Attention biases are one input per attention window the layers use (full, or a sliding window):
 * "attn_bias" and "attn_bias_w{N}".
 */
import { totalmem } from "node:os";
import { Graph, type ExternalData, type Value } from "../graph/graph.js";
import * as op from "../graph/ops.js";
import { gradients } from "../graph/autodiff.js";
import { encodeModel, int } from "../onnx/model.js";
import { Session, tensor, type ort, type RuntimeOptions } from "../runtime/session.js";
import type { ModelConfig, Tensor } from "../types.js";
import { TunekitError } from "../../util/errors.js";
import { attentionWindows, biasKey, buildDecoder, frozenMatmul, type LoraBinding } from "./decoder.js";
import { loraParamShapes, loraScaling, type LoraSpec } from "./lora.js";
import { cacheBias, segmentBias, segmentPositions } from "./masks.js";
import { dropoutMask } from "./dropout.js";
import { outputEmbeddingName } from "./tensors.js";
import { hasRecurrentLayers, packingRefused, tensorName } from "./family.js";
import { quantizedLinears } from "../quant/qlinear.js";
import { quantizedLookup, quantizedVocab } from "../quant/qhead.js";

export { loraParamShapes, loraScaling, loraWeights, mergeLora, type LoraSpec, type LoraTarget } from "./lora.js";

export interface EngineOptions extends RuntimeOptions {
  /** Vocabulary rows per cross-entropy chunk (default 8192; a quantized head is chunked when quantized: quant/base.ts HEAD_CHUNK). */
  vocabChunk?: number;
  /**
   * Recompute the output-layer logits in the backward pass (no [tokens x vocab] tensor kept; about
   * 1.5x the output layer's matmul work). Default: only for vocabularies above 65,536.
   */
  ceRecompute?: boolean;
  /** Compute in float64 (tests only: slower, no FusedMatMul). */
  dtype?: "float32" | "float64";
  /**
   * Feed frozen weights as graph inputs (zero-copy views of the JS tensors) instead of embedding them
   * in the model. Embedded weights let ONNX Runtime pre-pack them for its GEMM once, at load: a faster
   * training step for more peak memory (ORT keeps a packed copy for the forward product and one for the
   * backward; figures in docs/engine.md). Default for the training step:
   * embedded when the weights are at most 1/8 of the machine's memory (and under ONNX's 2 GB protobuf
   * limit), else inputs. Eval sessions default to inputs (they run rarely; no extra copy). Inference
   * defaults to embedded weights below the 2 GB limit (a vocabulary above 65,536 tokens: its embedding
   * table an input) and inputs above it.
   */
  weightsAsInputs?: boolean;
  /** Inference with embedded weights: MatMul on weights transposed once at load (default true; see DecoderOptions). */
  pretransposedWeights?: boolean;
  /** ORT's RotaryEmbedding kernel for rotary embeddings, float32 (default true; see DecoderOptions). */
  fusedRotary?: boolean;
  /** Training and eval: attention in causal query blocks (default true = 2; a number: that many; see DecoderOptions). */
  blockCausal?: boolean | number;
  /**
   * Activation recomputation: the backward pass keeps only each layer's input and emits the layer's
   * forward again from it, inside the same graph (recomputeGradients). Peak memory then holds one
   * layer's activations instead of all of them, for about one more forward pass of time.
   */
  gradientCheckpointing?: boolean;
  /**
   * The caller hands over the quantized codes in `weights` (train(), which loaded them for this step
   * alone): once the sessions exist ONNX Runtime holds its own copies, so the codes are dropped from
   * `weights` (marked `released`). `evalLoss` then needs its session built up front: say whether it
   * will be called. Figures: docs/engine.md, "Quantized frozen base".
   */
  handOverQuantizedCodes?: { evalLoss: boolean };
  /**
   * MatMulNBits' accuracy level for a quantized base (quant/qlinear.ts): 4 (default) rounds the
   * activations to int8 for integer dot products; 0 multiplies in float32 by the dequantized weights.
   */
  quantizedAccuracyLevel?: 0 | 4;
}

export interface TrainBatch {
  batchSize: number;
  seqLen: number;
  inputIds: ArrayLike<number>;
  targets: ArrayLike<number>;
  lossWeights: ArrayLike<number>;
  segmentIds?: ArrayLike<number>;
  positions?: ArrayLike<number>;
}

export interface TrainStepResult {
  lossSum: number;
  tokenCount: number;
  grads: Map<string, Float32Array>;
}

export interface TrainStep {
  readonly paramShapes: { name: string; shape: [number, number] }[];
  run(batch: TrainBatch, params: Map<string, Float32Array>, options?: { dropoutSeed?: number }): Promise<TrainStepResult>;
  evalLoss(batch: TrainBatch, params: Map<string, Float32Array>): Promise<{ lossSum: number; tokenCount: number }>;
  dispose(): Promise<void>;
}

const biasKeyOf = (window: number | undefined) => biasKey({ slidingWindow: window });

/** The graph input of the attention bias for a window (undefined: full attention). */
function biasInputName(window: number | undefined): string {
  return window === undefined ? "attn_bias" : `attn_bias_w${window}`;
}

// ---------------------------------------------------------------- weights

const TWO_GB_SAFE = 1.8e9;

/** Vocabularies above this recompute the loss's logits in the backward pass and feed their tables as inputs. */
const LARGE_VOCAB = 65536;

interface WeightPlan {
  source: (name: string) => Value;
  /** Rows [start, end) of a 2-D weight as its own tensor: a view of the same memory, never a copy in JS. */
  rows: (name: string, start: number, end: number) => Value;
  /** Weight tensors to feed each run (weights-as-inputs mode). */
  feeds: Record<string, ort.Tensor>;
}

/**
 * `asInputs`: all weights as graph inputs, none (embedded), or those the predicate names. `external`:
 * embedded weights as external data (ORT reads them from the JS buffers; not copied into the model).
 */
function planWeights(g: Graph, weights: Map<string, Tensor>, dtype: "float32" | "float64", asInputs: boolean | ((name: string) => boolean), external = false): WeightPlan {
  const isInput = typeof asInputs === "function" ? asInputs : () => asInputs;
  const cache = new Map<string, Value>();
  const feeds: Record<string, ort.Tensor> = {};
  const source = (name: string): Value => {
    const hit = cache.get(name);
    if (hit) return hit;
    const t = weights.get(name);
    if (!t) throw new TunekitError("MODEL_WEIGHT_MISSING", `the model has no tensor "${name}"`, { hint: "the weights do not match the architecture in config.json" });
    const data = dtype === "float64" ? Float64Array.from(t.data) : t.data;
    let v: Value;
    if (isInput(name)) {
      v = g.input(name, dtype, [...t.shape]);
      feeds[name] = tensor(dtype, data, t.shape);
    } else {
      v = g.initializer(name, dtype, [...t.shape], data, external);
    }
    cache.set(name, v);
    return v;
  };
  const rows = (name: string, start: number, end: number): Value => {
    const t = weights.get(name);
    if (!t) throw new TunekitError("MODEL_WEIGHT_MISSING", `the model has no tensor "${name}"`);
    const cols = t.shape[1];
    const view = t.data.subarray(start * cols, end * cols);
    const data = dtype === "float64" ? Float64Array.from(view) : view;
    const key = `${name}[${start}:${end}]`;
    if (isInput(name)) {
      feeds[key] = tensor(dtype, data, [end - start, cols]);
      return g.input(key, dtype, [end - start, cols]);
    }
    return g.initializer(key, dtype, [end - start, cols], data, external);
  };
  return { source, rows, feeds };
}

function totalBytes(weights: Map<string, Tensor>): number {
  let n = 0;
  for (const t of weights.values()) n += t.data.byteLength;
  return n;
}

function checkConfig(c: ModelConfig): void {
  if (c.numHeads % c.numKvHeads !== 0) {
    throw new TunekitError("MODEL_CONFIG", `num_attention_heads (${c.numHeads}) is not a multiple of num_key_value_heads (${c.numKvHeads})`);
  }
  if (c.headDim % 2 !== 0) throw new TunekitError("MODEL_CONFIG", `head_dim ${c.headDim} must be even for rotary embeddings`);
}

// ---------------------------------------------------------------- batch feeds

function toInt64(a: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  return out;
}

function floatArray(dtype: "float32" | "float64", n: number): Float32Array | Float64Array {
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
}

/** Rows of a model with recurrent layers hold one example (one segment id), any padding after it. */
function checkUnpacked(c: ModelConfig, seg: ArrayLike<number>, B: number, T: number): void {
  for (let b = 0; b < B; b++) {
    const first = seg[b * T];
    for (let t = 1; t < T; t++) {
      const s = seg[b * T + t];
      if (s !== 0 && s !== first) throw packingRefused(c);
    }
  }
}

function batchFeeds(c: ModelConfig, batch: TrainBatch, dtype: "float32" | "float64"): { feeds: Record<string, ort.Tensor>; tokenCount: number } {
  const { batchSize: B, seqLen: T } = batch;
  const n = B * T;
  for (const [k, a] of [["inputIds", batch.inputIds], ["targets", batch.targets], ["lossWeights", batch.lossWeights]] as const) {
    if (a.length !== n) throw new Error(`train batch: ${k} has ${a.length} entries, expected ${B}x${T}`);
  }
  const seg = batch.segmentIds ?? new Int32Array(n).fill(1);
  if (hasRecurrentLayers(c)) checkUnpacked(c, seg, B, T);
  const pos = batch.positions ?? segmentPositions(seg, B, T);
  const targets = new BigInt64Array(n);
  const weights = floatArray(dtype, n);
  let tokenCount = 0;
  for (let i = 0; i < n; i++) {
    const t = batch.targets[i];
    const w = batch.lossWeights[i];
    if (t < 0 || w === 0) continue; // ignored position: any valid id will do
    if (t >= c.vocabSize) throw new Error(`train batch: target ${t} outside the vocabulary (${c.vocabSize})`);
    targets[i] = BigInt(t);
    weights[i] = w;
    tokenCount += w;
  }
  const feeds: Record<string, ort.Tensor> = {
    input_ids: tensor("int64", toInt64(batch.inputIds), [B, T]),
    positions: tensor("int64", toInt64(pos), [B, T]),
    targets: tensor("int64", targets, [B, T]),
    loss_weights: tensor(dtype, weights, [B, T]),
  };
  for (const w of attentionWindows(c)) feeds[biasInputName(w)] = tensor(dtype, segmentBias(seg, B, T, w, floatArray(dtype, B * T * T)), [B, 1, T, T]);
  return { feeds, tokenCount };
}

// ---------------------------------------------------------------- training / eval graphs

/** Whether the training step embeds its frozen weights (see EngineOptions.weightsAsInputs). */
function embedTrainingWeights(weights: Map<string, Tensor>): boolean {
  return totalBytes(weights) <= Math.min(TWO_GB_SAFE, totalmem() / 8);
}

function buildLossGraph(
  c: ModelConfig,
  weights: Map<string, Tensor>,
  spec: LoraSpec,
  o: EngineOptions,
  withGrads: boolean,
): { bytes: Uint8Array; externalData: ExternalData; weightFeeds: Record<string, ort.Tensor>; gradNames: string[]; hasDropout: boolean } {
  checkConfig(c);
  const dtype = o.dtype ?? "float32";
  const outName = outputEmbeddingName(c, (n) => weights.has(n));
  // A large vocabulary's tables (the embedding, the LM head and the head's row blocks for the loss)
  // stay zero-copy inputs even when the rest is embedded: embedded, a tied table goes into the model
  // twice (whole for the lookup, in blocks for the loss), ORT copies both and pre-packs the blocks, a
  // few times the table's size in memory (docs/engine.md); the lookup gains nothing from pre-packing.
  const vocabTables = new Set([tensorName(c, "embed"), outName]);
  const asInputs = o.weightsAsInputs ?? (withGrads && embedTrainingWeights(weights) ? (n: string) => c.vocabSize > LARGE_VOCAB && vocabTables.has(n) : true);
  const g = new Graph({ fusedMatMul: dtype === "float32" });
  const w = planWeights(g, weights, dtype, asInputs);
  const ids = g.input("input_ids", "int64", ["B", "T"]);
  const positions = g.input("positions", "int64", ["B", "T"]);
  const biases = new Map(attentionWindows(c).map((win) => [biasKeyOf(win), g.input(biasInputName(win), dtype, ["B", 1, "T", "T"])]));
  const targets = g.input("targets", "int64", ["B", "T"]);
  const lossWeights = g.input("loss_weights", dtype, ["B", "T"]);
  const hasDropout = withGrads && (spec.dropout ?? 0) > 0;
  const seed = hasDropout ? g.input("dropout_seed", "int64", []) : undefined;

  const shapes = loraParamShapes(c, spec);
  const scale = loraScaling(spec);
  const lora = new Map<string, LoraBinding>();
  const params: Value[] = [];
  for (let k = 0; k < shapes.length; k += 2) {
    const A = g.input(shapes[k].name, dtype, shapes[k].shape);
    const Bv = g.input(shapes[k + 1].name, dtype, shapes[k + 1].shape);
    params.push(A, Bv);
    const module = shapes[k].name.replace(/\.lora_A$/, "");
    const layerIndex = k / 2;
    lora.set(module, {
      A,
      B: Bv,
      scale,
      dropout: seed ? (x) => op.mul(g, x, dropoutMask(g, x, seed, layerIndex, spec.dropout!)) : undefined,
    });
  }
  const vocab = quantizedVocab(g, c, weights, o.quantizedAccuracyLevel);
  const decoder = buildDecoder(g, c, w.source, { ids, positions, biases }, lora, dtype, {
    fusedRotary: dtype === "float32" && (o.fusedRotary ?? true),
    blockCausal: o.blockCausal ?? true,
    quantizedLinear: quantizedLinears(g, weights, withGrads, o.quantizedAccuracyLevel),
    ...(vocab ? { embedding: vocab.embedding } : {}),
  });
  const D = c.hiddenSize;
  const h2 = op.reshape(g, decoder.hidden, [-1, D]);
  const flat = (v: Value) => g.emit1("Reshape", [v, g.constI64([-1])], v.dtype, ["N"]);
  const floatLoss = () => {
    const chunkSize = o.vocabChunk ?? 8192;
    const chunks: Value[] = [];
    for (let s = 0; s < c.vocabSize; s += chunkSize) chunks.push(w.rows(outName, s, Math.min(c.vocabSize, s + chunkSize)));
    return op.chunkedCrossEntropy(g, h2, w.source(outName), flat(targets), flat(lossWeights), {
      chunkSize,
      recompute: o.ceRecompute ?? c.vocabSize > LARGE_VOCAB,
      chunks,
    });
  };
  const loss = vocab ? vocab.crossEntropy(h2, flat(targets), flat(lossWeights)) : floatLoss();
  g.output(loss, "loss_sum");
  const gradNames: string[] = [];
  if (withGrads) {
    const grads = o.gradientCheckpointing ? recomputeGradients(g, loss, params, decoder) : gradients(g, loss, params);
    grads.forEach((gv, i) => {
      const name = `grad:${shapes[i].name}`;
      g.output(gv, name);
      gradNames.push(name);
    });
  }
  return { bytes: encodeModel(g.toModel()), externalData: g.externalData(), weightFeeds: w.feeds, gradNames, hasDropout };
}

/**
 * Gradients of `loss` for the LoRA parameters with each layer recomputed: the head's gradient reaches
 * the last layer's output; then, from the last layer down, the layer is emitted again on its kept
 * input and differentiated with the incoming gradient as seed, giving its parameters' gradients and
 * the gradient of its input. The recomputed input is made to depend on that incoming gradient (an empty
 * slice of it concatenated on), so ONNX Runtime can neither run the recomputation during the forward
 * pass nor merge it with the forward's identical ops; the forward's activations die after the forward.
 */
function recomputeGradients(g: Graph, loss: Value, params: Value[], d: ReturnType<typeof buildDecoder>): Value[] {
  const L = d.layerOutputs.length;
  const byLayer = new Map<number, Value[]>();
  for (const p of params) {
    const i = Number(/^layers\.(\d+)\./.exec(p.name)?.[1]);
    byLayer.set(i, [...(byLayer.get(i) ?? []), p]);
  }
  const out = new Map<string, Value>();
  let gh = gradients(g, loss, [d.layerOutputs[L - 1]])[0];
  let above: Value[] = [];
  for (let i = L - 1; i >= 0; i--) {
    const x = d.layerInputs[i];
    const empty = g.emit1("Slice", [gh, g.constI64([0]), op.after(g, above), g.constI64([0])], gh.dtype, [0, ...gh.shape.slice(1)]);
    const xi = g.emit1("Concat", [x, empty], x.dtype, x.shape, { axis: int(0) });
    const ps = byLayer.get(i) ?? [];
    const gs = gradients(g, d.rebuildLayer(i, xi), [xi, ...ps], gh);
    ps.forEach((p, k) => out.set(p.name, gs[k + 1]));
    gh = gs[0];
    above = gs.slice(1);
  }
  return params.map((p) => out.get(p.name)!);
}

function paramFeeds(shapes: { name: string; shape: [number, number] }[], params: Map<string, Float32Array>, dtype: "float32" | "float64"): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const s of shapes) {
    const p = params.get(s.name);
    if (!p) throw new Error(`LoRA parameter ${s.name} missing`);
    if (p.length !== s.shape[0] * s.shape[1]) throw new Error(`LoRA parameter ${s.name} has ${p.length} values, expected ${s.shape.join("x")}`);
    feeds[s.name] = tensor(dtype, dtype === "float64" ? Float64Array.from(p) : p, s.shape);
  }
  return feeds;
}

/** Build (once) the training-step session: forward + chunked cross-entropy + LoRA gradients. */
export async function createTrainStep(c: ModelConfig, weights: Map<string, Tensor>, spec: LoraSpec, o: EngineOptions = {}): Promise<TrainStep> {
  const dtype = o.dtype ?? "float32";
  const shapes = loraParamShapes(c, spec);
  const built = buildLossGraph(c, weights, spec, o, true);
  const trainSession = await Session.create(built.bytes, o, built.externalData);
  // Keep only what runs need: the serialised model (as large as the weights) can be collected.
  const train = { weightFeeds: built.weightFeeds, gradNames: built.gradNames, hasDropout: built.hasDropout };
  let evalSession: Promise<{ session: Session; weightFeeds: Record<string, ort.Tensor> }> | undefined;
  const buildEval = async () => {
    const ev = buildLossGraph(c, weights, spec, o, false);
    return { session: await Session.create(ev.bytes, o, ev.externalData), weightFeeds: ev.weightFeeds };
  };
  if (o.handOverQuantizedCodes && [...weights.values()].some((t) => t.quantized)) {
    if (o.handOverQuantizedCodes.evalLoss) await (evalSession = buildEval());
    for (const [name, t] of weights) if (t.quantized) weights.set(name, { shape: t.shape, data: t.data, released: true });
  }
  const readScalar = (t: ort.Tensor) => Number(t.data[0]);

  return {
    paramShapes: shapes,
    async run(batch, params, options = {}) {
      const { feeds, tokenCount } = batchFeeds(c, batch, dtype);
      Object.assign(feeds, train.weightFeeds, paramFeeds(shapes, params, dtype));
      if (train.hasDropout) feeds.dropout_seed = tensor("int64", BigInt64Array.of(BigInt(options.dropoutSeed ?? 0)), []);
      const res = await trainSession.run(feeds, ["loss_sum", ...train.gradNames]);
      const grads = new Map<string, Float32Array>();
      train.gradNames.forEach((n, i) => {
        const d = res[n].data as Float32Array | Float64Array;
        grads.set(shapes[i].name, d instanceof Float32Array ? d : Float32Array.from(d));
      });
      return { lossSum: readScalar(res.loss_sum), tokenCount, grads };
    },
    async evalLoss(batch, params) {
      evalSession ??= buildEval();
      const { session, weightFeeds } = await evalSession;
      const { feeds, tokenCount } = batchFeeds(c, batch, dtype);
      Object.assign(feeds, weightFeeds, paramFeeds(shapes, params, dtype));
      const res = await session.run(feeds, ["loss_sum"]);
      return { lossSum: readScalar(res.loss_sum), tokenCount };
    },
    async dispose() {
      await trainSession.dispose();
      const ev = await evalSession?.catch(() => undefined); // a failed build left nothing to dispose
      if (ev) await ev.session.dispose();
    },
  };
}

// ---------------------------------------------------------------- inference

export interface KvCache {
  batch: number;
  /** Cached positions (including left padding). */
  length: number;
  k: ort.Tensor[];
  v: ort.Tensor[];
  /** [batch * length] 1 = real token, 0 = padding. */
  mask: Uint8Array;
  /** Position id of the next token of each row. */
  nextPos: number[];
}

export interface InferenceModel {
  readonly config: ModelConfig;
  /** Process prompts (rows may differ in length: left-padded); logits of each row's last token. */
  prefill(rows: number[][]): Promise<{ logits: Float32Array; cache: KvCache }>;
  /** Append one token per row; logits of the new tokens [B * vocab]. */
  decode(cache: KvCache, tokens: number[]): Promise<{ logits: Float32Array; cache: KvCache }>;
  /** Logits at every position, [B * T * vocab] (equal-length rows, no cache). */
  allLogits(rows: number[][]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

function buildInferenceGraph(c: ModelConfig, weights: Map<string, Tensor>, o: EngineOptions, allLogits: boolean): { bytes: Uint8Array; externalData: ExternalData; weightFeeds: Record<string, ort.Tensor> } {
  checkConfig(c);
  const dtype = o.dtype ?? "float32";
  // A quantized base leaves only the vocabulary tables in float32: zero-copy inputs (embedded, ORT copied
  // and pre-packed them several times over; the head's product runs on its quantized copy anyway).
  const quantized = [...weights.values()].some((t) => t.quantized);
  // A large vocabulary's embedding table is a zero-copy input (the lookup gains nothing from an
  // embedded copy); the head's product keeps an embedded copy of its table, which ORT pre-packs (a
  // tied table goes in under a second name): one-token decode stays on the packed GEMM (docs/engine.md,
  // "Weights and memory").
  const embedName = tensorName(c, "embed");
  const outName = outputEmbeddingName(c, (n) => weights.has(n));
  const allInputs = o.weightsAsInputs ?? (quantized || totalBytes(weights) > TWO_GB_SAFE);
  const largeVocab = o.weightsAsInputs === undefined && !allInputs && c.vocabSize > LARGE_VOCAB;
  const asInputs = largeVocab ? (n: string) => n === embedName : allInputs;
  const g = new Graph({ fusedMatMul: dtype === "float32" });
  // Embedded weights go to ORT as external data: no copy of them in the model's protobuf bytes.
  const w = planWeights(g, weights, dtype, asInputs, true);
  const ids = g.input("input_ids", "int64", ["B", "T"]);
  const positions = g.input("positions", "int64", ["B", "T"]);
  const biases = new Map(attentionWindows(c).map((win) => [biasKeyOf(win), g.input(biasInputName(win), dtype, ["B", 1, "T", "S"])]));
  // Per layer: keys/values, or for a linear-attention layer its convolution and recurrent states.
  const past = allLogits
    ? undefined
    : Array.from({ length: c.numLayers }, (_, i) => {
        const [k, v] = cacheShapes(c, i, "B", "P");
        return { k: g.input(`past_k_${i}`, dtype, k), v: g.input(`past_v_${i}`, dtype, v) };
      });
  const recurrent = hasRecurrentLayers(c) && past !== undefined;
  const linearPast = recurrent ? past.map((p, i) => (c.layers[i].mixer === "linear_attention" ? { conv: p.k, recurrent: p.v } : undefined)) : undefined;
  const tokenMask = recurrent ? g.input("token_mask", dtype, ["B", "T"]) : undefined;
  const pretransposed = !allInputs && dtype === "float32" && (o.pretransposedWeights ?? true);
  const { hidden, presents } = buildDecoder(g, c, w.source, { ids, positions, biases, past, linearPast, tokenMask }, new Map(), dtype, {
    pretransposedWeights: pretransposed,
    fusableNorms: true,
    fusedRotary: dtype === "float32" && (o.fusedRotary ?? true),
    quantizedLinear: quantizedLinears(g, weights, false, o.quantizedAccuracyLevel),
    ...quantizedLookup(g, embedName, weights.get(embedName)!),
  });
  const quantizedHead = quantizedLinears(g, weights, false, o.quantizedAccuracyLevel)(outName);
  // Large vocabulary: x W^T with transB on the embedded table (ORT pre-packs it as it is), not on a
  // transposed copy that ORT would fold into one more table-sized initializer first.
  const headTable = (): Value => {
    const t = weights.get(outName)!;
    if (outName !== embedName) return w.source(outName);
    return g.initializer(`${outName}:head`, dtype, [...t.shape], dtype === "float64" ? Float64Array.from(t.data) : t.data, true);
  };
  const W = quantizedHead ? undefined : largeVocab ? headTable() : w.source(outName);
  const head = (x: Value) => (quantizedHead ? quantizedHead(x) : frozenMatmul(g, x, W!, pretransposed && !largeVocab));
  if (allLogits) {
    g.output(head(hidden), "logits");
  } else {
    const D = c.hiddenSize;
    const last = g.emit1("Slice", [hidden, g.constI64([-1]), g.constI64([2 ** 53]), g.constI64([1])], dtype, ["B", 1, D]);
    const last2 = g.emit1("Reshape", [last, g.constI64([0, D])], dtype, ["B", D]);
    g.output(head(last2), "logits_last");
    presents.forEach((p, i) => {
      g.output(p.k, `present_k_${i}`);
      g.output(p.v, `present_v_${i}`);
    });
  }
  return { bytes: encodeModel(g.toModel()), externalData: g.externalData(), weightFeeds: w.feeds };
}

/**
 * The cache tensors' shapes of layer i: keys and values [B, kvH, P, hd]; a linear-attention layer's
 * last convolution inputs [B, C, K-1] and recurrent state [B, nv, dk, dv] (fixed sizes).
 */
function cacheShapes<D extends number | string>(c: ModelConfig, i: number, B: D, P: D): [(D | number)[], (D | number)[]] {
  const la = c.linearAttention;
  if (c.layers[i].mixer === "linear_attention" && la) {
    const C = 2 * la.numKeyHeads * la.keyHeadDim + la.numValueHeads * la.valueHeadDim;
    return [
      [B, C, la.convKernel - 1],
      [B, la.numValueHeads, la.keyHeadDim, la.valueHeadDim],
    ];
  }
  return [
    [B, c.numKvHeads, P, c.headDim],
    [B, c.numKvHeads, P, c.headDim],
  ];
}

function toFloat32(t: ort.Tensor): Float32Array {
  const d = t.data as Float32Array | Float64Array;
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/** Build (once) the KV-cached inference session; the all-positions session is built on first use. */
export async function createInferenceModel(c: ModelConfig, weights: Map<string, Tensor>, o: EngineOptions = {}): Promise<InferenceModel> {
  const dtype = o.dtype ?? "float32";
  const built = buildInferenceGraph(c, weights, o, false);
  const session = await Session.create(built.bytes, o, built.externalData);
  const main = { weightFeeds: built.weightFeeds };
  let full: Promise<{ session: Session; weightFeeds: Record<string, ort.Tensor> }> | undefined;
  const windows = attentionWindows(c);
  const recurrent = hasRecurrentLayers(c);
  const presentNames = Array.from({ length: c.numLayers }, (_, i) => [`present_k_${i}`, `present_v_${i}`]).flat();

  const checkIds = (ids: number[]) => {
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new TunekitError("TOKEN_OUT_OF_RANGE", `token id ${t} is outside the vocabulary (0..${c.vocabSize - 1})`);
    }
  };

  async function step(cache: KvCache, rows: number[][]): Promise<{ logits: Float32Array; cache: KvCache }> {
    const B = cache.batch;
    const T = Math.max(...rows.map((r) => r.length));
    const P = cache.length;
    const S = P + T;
    if (S > c.maxPositionEmbeddings) {
      throw new TunekitError("CONTEXT_TOO_LONG", `the sequence (${S} tokens) is longer than the model's context (${c.maxPositionEmbeddings})`, {
        hint: "shorten the prompt or lower --max-tokens",
      });
    }
    const ids = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * T);
    const mask = new Uint8Array(B * S);
    const nextPos = [...cache.nextPos];
    for (let b = 0; b < B; b++) {
      mask.set(cache.mask.subarray(b * P, (b + 1) * P), b * S);
      const row = rows[b];
      const pad = T - row.length;
      for (let t = 0; t < T; t++) {
        const real = t >= pad;
        ids[b * T + t] = BigInt(real ? row[t - pad] : 0);
        mask[b * S + P + t] = real ? 1 : 0;
        pos[b * T + t] = BigInt(real ? nextPos[b]++ : 0);
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      ...main.weightFeeds,
      input_ids: tensor("int64", ids, [B, T]),
      positions: tensor("int64", pos, [B, T]),
    };
    for (const w of windows) feeds[biasInputName(w)] = tensor(dtype, cacheBias(mask, B, T, S, w, floatArray(dtype, B * T * S)), [B, 1, T, S]);
    if (recurrent) {
      const tm = floatArray(dtype, B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) tm[b * T + t] = mask[b * S + P + t];
      feeds.token_mask = tensor(dtype, tm, [B, T]);
    }
    for (let i = 0; i < c.numLayers; i++) {
      feeds[`past_k_${i}`] = cache.k[i];
      feeds[`past_v_${i}`] = cache.v[i];
    }
    const res = await session.run(feeds, ["logits_last", ...presentNames]);
    return {
      logits: toFloat32(res.logits_last),
      cache: {
        batch: B,
        length: S,
        k: Array.from({ length: c.numLayers }, (_, i) => res[`present_k_${i}`]),
        v: Array.from({ length: c.numLayers }, (_, i) => res[`present_v_${i}`]),
        mask,
        nextPos,
      },
    };
  }

  return {
    config: c,
    async prefill(rows) {
      if (rows.length === 0 || rows.some((r) => r.length === 0)) throw new TunekitError("EMPTY_PROMPT", "every prompt needs at least one token");
      rows.forEach(checkIds);
      const B = rows.length;
      // Empty keys/values; zero states for linear-attention layers.
      const empty = (i: number, which: 0 | 1) => {
        const shape = cacheShapes(c, i, B, 0)[which] as number[];
        return tensor(dtype, floatArray(dtype, shape.reduce((a, b) => a * b, 1)), shape);
      };
      const cache: KvCache = {
        batch: B,
        length: 0,
        k: Array.from({ length: c.numLayers }, (_, i) => empty(i, 0)),
        v: Array.from({ length: c.numLayers }, (_, i) => empty(i, 1)),
        mask: new Uint8Array(0),
        nextPos: new Array(B).fill(0),
      };
      return step(cache, rows); // step() left-pads shorter rows
    },
    async decode(cache, tokens) {
      if (tokens.length !== cache.batch) throw new Error(`decode: ${tokens.length} tokens for a batch of ${cache.batch}`);
      checkIds(tokens);
      return step(cache, tokens.map((t) => [t]));
    },
    async allLogits(rows) {
      rows.forEach(checkIds);
      const B = rows.length;
      const T = rows[0].length;
      if (rows.some((r) => r.length !== T)) throw new Error("allLogits: rows must have equal length");
      full ??= (async () => {
        const f = buildInferenceGraph(c, weights, o, true);
        return { session: await Session.create(f.bytes, o, f.externalData), weightFeeds: f.weightFeeds };
      })();
      const { session: s, weightFeeds } = await full;
      const mask = new Uint8Array(B * T).fill(1);
      const pos = new BigInt64Array(B * T);
      for (let i = 0; i < B * T; i++) pos[i] = BigInt(i % T);
      const feeds: Record<string, ort.Tensor> = {
        ...weightFeeds,
        input_ids: tensor("int64", toInt64(rows.flat()), [B, T]),
        positions: tensor("int64", pos, [B, T]),
      };
      for (const w of windows) feeds[biasInputName(w)] = tensor(dtype, cacheBias(mask, B, T, T, w, floatArray(dtype, B * T * T)), [B, 1, T, T]);
      const res = await s.run(feeds, ["logits"]);
      return toFloat32(res.logits);
    },
    async dispose() {
      await session.dispose();
      if (full) await (await full).session.dispose();
    },
  };
}
