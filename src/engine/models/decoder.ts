/**
 * The decoder as a graph, for every family: embedding (optionally scaled), per layer a pre-norm
 * attention block (q/k/v with optional biases, optional per-head q/k norms, the layer's RoPE or none,
 * grouped-query attention with the layer's attention bias, o with optional bias, an optional norm on
 * its output) and a gated MLP (SiLU or GELU-tanh, an optional norm on its output), final norm. What
 * a model has comes from its ModelConfig (models/families/). Written once with differentiable ops;
 * training, eval and inference graphs are all built from it.
 */
import type { Graph, Value } from "../graph/graph.js";
import * as op from "../graph/ops.js";
import type { LayerSpec, LinearRole, ModelConfig, RopeSpec, TensorRole } from "../types.js";
import { int, ints } from "../onnx/model.js";
import { tensorName } from "./family.js";
import { stemOf } from "./lora.js";
import { ropeInvFreq, ropeKey } from "./rope.js";
import { normOffset } from "./tensors.js";
import { unknownDim } from "../graph/shape.js";
import { gatedDeltaNet, type DeltaNetState } from "./gated-deltanet.js";

/** The adapter applied to one linear layer: y += scale * (x A^T) B^T, x optionally dropped out first. */
export interface LoraBinding {
  A: Value;
  B: Value;
  scale: number;
  /** Multiplicative dropout mask builder for this layer's input (training only). */
  dropout?: (x: Value) => Value;
}

export interface DecoderInputs {
  ids: Value; // [B, T] int64
  positions: Value; // [B, T] int64
  /**
   * Additive attention biases [B, 1, T, S] (S = cached + new length), one per attention window the
   * layers use (`biasKey`): causal, padding and segments, plus the window where there is one.
   */
  biases: Map<string, Value>;
  /** Cached keys/values per layer, [B, kvH, P, hd] (linear-attention layers: unused entries). */
  past?: { k: Value; v: Value }[];
  /** Linear-attention layers' cached states, by layer index (inference with a cache). */
  linearPast?: (DeltaNetState | undefined)[];
  /** [B, T] 1 for real tokens, 0 for left padding: linear-attention layers see zeros there (no state change). */
  tokenMask?: Value;
}

export interface DecoderOutputs {
  /** Final-normed hidden states [B, T, hidden]. */
  hidden: Value;
  /** Keys/values including the new tokens, [B, kvH, S, hd] per layer (linear-attention layers: k = the convolution state, v = the recurrent state). */
  presents: { k: Value; v: Value }[];
  /** Each layer's input and output hidden states [B, T, hidden] (layer i's output is layer i+1's input). */
  layerInputs: Value[];
  layerOutputs: Value[];
  /**
   * Emits layer i again on `h` (same weights, adapters, biases and dropout masks): the new ops give the
   * same values, so autodiff through them recomputes the layer in the backward pass (no cache).
   */
  rebuildLayer(i: number, h: Value): Value;
}

export type WeightSource = (name: string) => Value;

export interface DecoderOptions {
  /**
   * Multiply by frozen weights as MatMul(x, Transpose(W)) instead of FusedMatMul(x, W, transB). Only for
   * weights embedded as initializers (inference): ONNX Runtime folds the Transpose when it loads the
   * model, and MLAS pre-packs a plain MatMul's constant right operand, which it does not do as well for
   * a transposed one: faster, at one row (decode) more so (docs/engine.md).
   */
  pretransposedWeights?: boolean;
  /** RMSNorm in the form ONNX Runtime fuses into one kernel (inference graphs; see op.rmsNorm). */
  fusableNorms?: boolean;
  /**
   * Rotary embeddings with ONNX Runtime's RotaryEmbedding kernel (com.microsoft) and cos/sin tables
   * precomputed for every position, instead of about a dozen small ops per layer (float32 only). The
   * gradient is the same kernel with the angle negated.
   */
  fusedRotary?: boolean;
  /**
   * Causal attention without a cache in query blocks (true: 2; a number: that many): block j of the
   * queries against the keys up to its own end only. Two blocks skip a quarter of the attention's
   * products and softmax work, which would be masked out; n blocks skip (n-1)/2n (training graphs).
   */
  blockCausal?: boolean | number;
  /** The product x W^T of a frozen weight stored quantized (quant/qlinear.ts), or undefined for a float weight. */
  quantizedLinear?: (name: string) => ((x: Value) => Value) | undefined;
  /** The embedding lookup of a quantized table (quant/qhead.ts) instead of a Gather on the float one. */
  embedding?: (ids: Value) => Value;
}

/** y = x W^T for a frozen weight W [out, in] (see DecoderOptions.pretransposedWeights; that form records no gradient: inference graphs only). */
export function frozenMatmul(g: Graph, x: Value, w: Value, pretransposed: boolean): Value {
  if (!pretransposed) return op.matmul(g, x, w, { transB: true });
  const [out, inn] = w.shape;
  const wt = g.emit1("Transpose", [w], w.dtype, [inn, out], { perm: ints([1, 0]) });
  return g.emit1("MatMul", [x, wt], x.dtype, [...x.shape.slice(0, -1), out]);
}

/**
 * x A^T for each adapter of layers that read the same x (q/k/v, gate/up). Without dropout they share
 * one product with the A's stacked, split afterwards: one GEMM instead of several with r columns, and
 * in the backward pass one product for x's gradient instead of several summed (the r-column products
 * run far below the big ones' rate: docs/engine.md).
 */
function loraDown(g: Graph, x: Value, loras: LoraBinding[]): Value[] {
  if (loras.length === 1 || loras.some((l) => l.dropout)) {
    return loras.map((l) => op.matmul(g, l.dropout ? l.dropout(x) : x, l.A, { transB: true }));
  }
  const stacked = op.concat(g, loras.map((l) => l.A), 0);
  const xa = op.matmul(g, x, stacked, { transB: true });
  return op.split(g, xa, -1, loras.map((l) => l.A.shape[0] as number));
}

interface LinearSpec {
  /** The float weight, or `frozen`: its product computed elsewhere (a quantized weight). */
  w?: Value;
  frozen?: (x: Value) => Value;
  bias?: Value;
  lora?: LoraBinding;
}

/** y_i = x W_i^T (+ b_i) (+ scale (x A_i^T) B_i^T) for layers that read the same x. */
function linears(g: Graph, x: Value, specs: LinearSpec[], pretransposed = false): Value[] {
  const adapted = specs.filter((s) => s.lora);
  const down = adapted.length > 0 ? loraDown(g, x, adapted.map((s) => s.lora!)) : [];
  return specs.map((s) => {
    let y = s.frozen ? s.frozen(x) : frozenMatmul(g, x, s.w!, pretransposed);
    if (s.bias) y = op.add(g, y, s.bias);
    if (s.lora) y = op.add(g, y, op.matmul(g, down[adapted.indexOf(s)], s.lora.B, { transB: true, alpha: s.lora.scale }));
    return y;
  });
}

/** The bias input a layer reads: "full", or "window:N" for a sliding window of N. */
export function biasKey(layer: LayerSpec): string {
  return layer.slidingWindow === undefined ? "full" : `window:${layer.slidingWindow}`;
}

/** The distinct attention windows of a model's layers (undefined: full attention), in first-use order. */
export function attentionWindows(c: ModelConfig): (number | undefined)[] {
  const seen = new Map<string, number | undefined>();
  for (const l of c.layers) if (!seen.has(biasKey(l))) seen.set(biasKey(l), l.slidingWindow);
  return [...seen.values()];
}

/** cos/sin of every position up to the context length, [maxPos, hd/2] (float32), for RotaryEmbedding. */
function rotaryCaches(g: Graph, c: ModelConfig, rope: RopeSpec): { cos: Value; sin: Value } {
  const inv = ropeInvFreq(rope, c.headDim);
  const half = c.headDim / 2;
  const P = c.maxPositionEmbeddings;
  const cos = new Float32Array(P * half);
  const sin = new Float32Array(P * half);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < half; i++) {
      // The angle rounded to float32 first, as the graph's own tables compute it.
      const a = Math.fround(Math.fround(p) * Math.fround(inv[i]));
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  return { cos: g.constF("float32", cos, [P, half]), sin: g.constF("float32", sin, [P, half]) };
}

/** cos/sin tables [B, 1, T, hd] from integer positions (computed in the graph's float type). */
function rotaryTables(g: Graph, c: ModelConfig, rope: RopeSpec, positions: Value, dtype: "float32" | "float64"): { cos: Value; sin: Value } {
  const rd = c.rotaryDim ?? c.headDim;
  const inv = ropeInvFreq(rope, rd);
  const B = positions.shape[0];
  const T = positions.shape[1];
  const half = rd / 2;
  const pos = g.emit1("Cast", [positions], dtype, [B, T], { to: int(dtype === "float64" ? 11 : 1) });
  const pos3 = g.emit1("Unsqueeze", [pos, g.constI64([2])], dtype, [B, T, 1]);
  const invC = g.constF(dtype, dtype === "float64" ? inv : Float32Array.from(inv), [half]);
  const freqs = g.emit1("Mul", [pos3, invC], dtype, [B, T, half]);
  const emb = g.emit1("Concat", [freqs, freqs], dtype, [B, T, rd], { axis: int(2) });
  const emb4 = g.emit1("Unsqueeze", [emb, g.constI64([1])], dtype, [B, 1, T, rd]);
  return {
    cos: g.emit1("Cos", [emb4], dtype, emb4.shape),
    sin: g.emit1("Sin", [emb4], dtype, emb4.shape),
  };
}

/** The rotary embedding of each distinct rope spec (tables built once per spec, shared by its layers). */
function rotaryFunctions(g: Graph, c: ModelConfig, positions: Value, dtype: "float32" | "float64", fusedRotary: boolean | undefined): (rope: RopeSpec) => (x: Value) => Value {
  const made = new Map<string, (x: Value) => Value>();
  // The tables hold every position: for very long contexts (over 2^23 entries, 32 MB each) the ops stay.
  // Partial rotary (the first rotaryDim dims of each head) keeps the ops: rotate that part, pass the rest.
  const rd = c.rotaryDim ?? c.headDim;
  const fused = fusedRotary && rd === c.headDim && c.maxPositionEmbeddings * (c.headDim / 2) <= 1 << 23;
  return (rope) => {
    const key = ropeKey(rope);
    let f = made.get(key);
    if (!f) {
      if (fused) {
        const t = rotaryCaches(g, c, rope);
        f = (x) => op.rotaryEmbedding(g, x, positions, t.cos, t.sin);
      } else {
        const t = rotaryTables(g, c, rope, positions, dtype);
        f = (x) => op.rope(g, x, t.cos, t.sin);
      }
      if (rd < c.headDim) {
        const whole = f;
        f = (x) => {
          const [r, rest] = op.split(g, x, -1, [rd, c.headDim - rd]);
          return op.concat(g, [whole(r), rest], -1);
        };
      }
      made.set(key, f);
    }
    return f;
  };
}

export function buildDecoder(
  g: Graph,
  c: ModelConfig,
  weight: WeightSource,
  inp: DecoderInputs,
  lora: Map<string, LoraBinding>,
  dtype: "float32" | "float64",
  options: DecoderOptions = {},
): DecoderOutputs {
  const { numHeads: H, numKvHeads: KV, headDim: hd } = c;
  const group = H / KV;
  const rotary = rotaryFunctions(g, c, inp.positions, dtype, options.fusedRotary);
  // Queries of one KV head are processed as one [group*T] block, so K and V are never repeated; the
  // bias is tiled to match (rows ordered group-major, like the reshaped queries).
  const tiled = (b: Value) => (group === 1 ? b : g.emit1("Tile", [b, g.constI64([1, 1, group, 1])], dtype, [b.shape[0], 1, unknownDim(), b.shape[3]]));
  const nBlocks = options.blockCausal === true ? 2 : options.blockCausal || 0;
  const blocks = nBlocks > 1 && !inp.past ? causalBlocks(g, inp.positions, nBlocks) : undefined;
  /** Per attention window: the tiled bias, or the tiled bias blocks of the query blocks. */
  const biases = new Map<string, { full?: Value; parts?: Value[] }>();
  const biasFor = (layer: LayerSpec) => {
    const key = biasKey(layer);
    let hit = biases.get(key);
    if (!hit) {
      const bias = inp.biases.get(key);
      if (!bias) throw new Error(`decoder: no attention bias input for ${key}`);
      if (blocks) hit = { parts: blocks.ends.map((end, j) => tiled(causalBiasBlock(g, bias, blocks.starts[j], end))) };
      else hit = { full: tiled(bias) };
      biases.set(key, hit);
    }
    return hit;
  };
  /** Attention of queries [B, H, Tq, hd] over keys/values [B, KV, S, hd] with additive bias (tiled) -> [B, H, Tq, hd]. */
  const attend = (q: Value, k: Value, v: Value, b: Value): Value => {
    const qg = op.reshape(g, q, [0, KV, -1, hd]); // [B, KV, group*Tq, hd]
    return op.reshape(g, op.attention(g, qg, k, v, b, c.attentionScale), [0, H, -1, hd]);
  };
  const offset = normOffset(c);
  const norm = (x: Value, role: TensorRole, i?: number, fusable = options.fusableNorms) => op.rmsNorm(g, x, weight(tensorName(c, role, i)), c.rmsNormEps, fusable, offset);

  let h = options.embedding ? options.embedding(inp.ids) : op.gather(g, weight(tensorName(c, "embed")), inp.ids); // [B, T, D]
  if (c.embedScale !== undefined) h = op.mul(g, h, g.constF(dtype, c.embedScale));
  const presents: { k: Value; v: Value }[] = [];
  const decoderLayer = (i: number, h: Value, keep: boolean): Value => {
    const layer = c.layers[i];
    const spec = (role: LinearRole, bias?: TensorRole): LinearSpec => {
      const name = tensorName(c, role, i);
      const frozen = options.quantizedLinear?.(name);
      return { w: frozen ? undefined : weight(name), frozen, bias: bias ? weight(tensorName(c, bias, i)) : undefined, lora: lora.get(stemOf(name)) };
    };
    const lin = (x: Value, ...specs: LinearSpec[]) => linears(g, x, specs, options.pretransposedWeights);

    const x = norm(h, "attnNorm", i);
    if (layer.mixer === "linear_attention") {
      const w = (role: TensorRole) => weight(tensorName(c, role, i));
      const r = gatedDeltaNet(g, c.linearAttention!, {
        project: (y) => lin(y, spec("linQkv"), spec("linZ")) as [Value, Value],
        out: (y) => lin(y, spec("linOut"))[0],
        inB: w("linB"), inA: w("linA"), conv: w("linConv"), dtBias: w("linDtBias"), aLog: w("linALog"), norm: w("linNorm"),
      }, inp.tokenMask ? op.mul(g, x, op.unsqueeze(g, inp.tokenMask, [2])) : x, c.rmsNormEps, inp.linearPast?.[i]);
      if (keep) presents.push({ k: r.state.conv, v: r.state.recurrent });
      h = op.add(g, h, r.y);
    } else {
    const [qp, kp, vp] = lin(x, spec("q", c.qkvBias ? "qBias" : undefined), spec("k", c.qkvBias ? "kBias" : undefined), spec("v", c.qkvBias ? "vBias" : undefined));
    const split = (y: Value, n: number) => op.reshape(g, y, [0, 0, n, hd]); // [B, T, n, hd]
    const heads = (y: Value) => op.transpose(g, y, [0, 2, 1, 3]); // [B, n, T, hd]
    const rope = layer.rope ? rotary(layer.rope) : (y: Value) => y;
    // Per-head norms over head_dim before RoPE (the training graph keeps the small ops; see op.rmsNorm).
    const qkNorm = (y: Value, role: TensorRole) => (c.qkNorm ? norm(y, role, i, false) : y);
    let qRaw = qp;
    let outGate: Value | undefined;
    if (c.attnOutputGate) {
      // Per head [q, gate]: the gate scales the attention output through a sigmoid.
      const [qh, gh] = op.split(g, op.reshape(g, qp, [0, 0, H, 2 * hd]), -1, [hd, hd]);
      qRaw = qh;
      outGate = op.reshape(g, gh, [0, 0, H * hd]);
    }
    const q = rope(heads(qkNorm(c.attnOutputGate ? qRaw : split(qRaw, H), "qNorm")));
    let k = rope(heads(qkNorm(split(kp, KV), "kNorm")));
    let v = heads(split(vp, KV));
    if (inp.past) {
      k = op.concat(g, [inp.past[i].k, k], 2);
      v = op.concat(g, [inp.past[i].v, v], 2);
    }
    if (keep) presents.push({ k, v });
    const bias = biasFor(layer);
    let ctx: Value; // [B, H, T, hd]
    if (blocks) {
      // Query block j only sees the keys up to its own end (the rest is masked anyway).
      const qs = op.splitBy(g, q, 2, blocks.sizes, nBlocks);
      const parts = qs.map((qj, j) => {
        if (j === nBlocks - 1) return attend(qj, k, v, bias.parts![j]);
        const [kj] = op.splitBy(g, k, 2, blocks.prefix[j], 2);
        const [vj] = op.splitBy(g, v, 2, blocks.prefix[j], 2);
        return attend(qj, kj, vj, bias.parts![j]);
      });
      ctx = op.concatBy(g, parts, 2, blocks.sizes);
    } else {
      ctx = attend(q, k, v, bias.full!);
    }
    let merged = op.reshape(g, op.transpose(g, ctx, [0, 2, 1, 3]), [0, 0, H * hd]);
    if (outGate) merged = op.mul(g, merged, op.sigmoid(g, outGate));
    let attnOut = lin(merged, spec("o", c.oBias ? "oBias" : undefined))[0];
    if (c.sandwichNorms) attnOut = norm(attnOut, "attnOutNorm", i);
    h = op.add(g, h, attnOut);
    }

    const x2 = norm(h, "mlpNorm", i);
    const [gate, up] = lin(x2, spec("gate"), spec("up"));
    const act = op.mul(g, c.activation === "gelu_tanh" ? op.geluTanh(g, gate) : op.silu(g, gate), up);
    let mlpOut = lin(act, spec("down"))[0];
    if (c.sandwichNorms) mlpOut = norm(mlpOut, "mlpOutNorm", i);
    return op.add(g, h, mlpOut);
  };
  const layerInputs: Value[] = [];
  const layerOutputs: Value[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    layerInputs.push(h);
    h = decoderLayer(i, h, true);
    layerOutputs.push(h);
  }
  return { hidden: norm(h, "finalNorm"), presents, layerInputs, layerOutputs, rebuildLayer: (i, x) => decoderLayer(i, x, false) };
}

/**
 * For block-causal attention over T positions (no cache) in n query blocks: block j holds rows
 * [starts[j], starts[j] + size) with its end floor(T (j+1) / n); the sizes for splitting the queries, and
 * for each block the end of the keys it sees (`ends`: its own end, 0 when empty) and the split of the
 * keys into [0, end) and the rest.
 */
function causalBlocks(g: Graph, positions: Value, n: number): { sizes: Value; starts: Value[]; ends: Value[]; prefix: Value[] } {
  const T = g.emit1("Slice", [g.emit1("Shape", [positions], "int64", [2]), g.constI64([1]), g.constI64([2])], "int64", [1]);
  const ends = Array.from({ length: n }, (_, j) =>
    j === n - 1 ? T : g.emit1("Div", [g.emit1("Mul", [T, g.constI64([j + 1])], "int64", [1]), g.constI64([n])], "int64", [1]),
  );
  const starts = [g.constI64([0]), ...ends.slice(0, -1)];
  const cat = (xs: Value[]) => g.emit1("Concat", xs, "int64", [xs.length], { axis: int(0) });
  const rows = ends.map((e, j) => g.emit1("Sub", [e, starts[j]], "int64", [1]));
  // An empty block (T < n) gets no keys either: a product over an empty axis (its keys' gradient)
  // may leave MLAS's output unwritten.
  const keyEnds = ends.map((e, j) => g.emit1("Mul", [e, g.emit1("Min", [rows[j], g.constI64([1])], "int64", [1])], "int64", [1]));
  const prefix = keyEnds.map((e) => cat([e, g.emit1("Sub", [T, e], "int64", [1])]));
  return { sizes: cat(rows), starts, ends: keyEnds, prefix };
}

/** The bias rows [start, end) over the keys [0, end): [B, 1, end - start, end] (empty when end is 0). */
function causalBiasBlock(g: Graph, bias: Value, start: Value, end: Value): Value {
  const cat = (xs: Value[]) => g.emit1("Concat", xs, "int64", [xs.length], { axis: int(0) });
  return g.emit1("Slice", [bias, cat([start, g.constI64([0])]), cat([end, end]), g.constI64([2, 3])], bias.dtype, [bias.shape[0], 1, unknownDim(), unknownDim()]);
}
