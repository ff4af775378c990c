/**
 * The Llama-family decoder as a graph (Llama 2/3, SmolLM, Qwen2 with q/k/v bias, Mistral): embedding,
 * pre-norm attention with rotary embeddings and grouped-query attention, SwiGLU MLP, final RMSNorm.
 * Written once with differentiable ops; training, eval and inference graphs are all built from it.
 */
import type { Graph, Value } from "../graph/graph.js";
import * as op from "../graph/ops.js";
import type { ModelConfig } from "../types.js";
import { int, ints } from "../onnx/model.js";
import { ropeInvFreq } from "./rope.js";
import { unknownDim } from "../graph/shape.js";

export type LoraTarget = "q" | "k" | "v" | "o" | "gate" | "up" | "down";
export const ALL_LORA_TARGETS: LoraTarget[] = ["q", "k", "v", "o", "gate", "up", "down"];

/** HF module path (under model.layers.{i}.) of each LoRA target. */
export const TARGET_MODULE: Record<LoraTarget, string> = {
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  o: "self_attn.o_proj",
  gate: "mlp.gate_proj",
  up: "mlp.up_proj",
  down: "mlp.down_proj",
};

/** [out, in] of a target's frozen weight. */
export function targetShape(c: ModelConfig, t: LoraTarget): [number, number] {
  const H = c.hiddenSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  switch (t) {
    case "q":
      return [q, H];
    case "k":
    case "v":
      return [kv, H];
    case "o":
      return [H, q];
    case "gate":
    case "up":
      return [I, H];
    case "down":
      return [H, I];
  }
}

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
  /** Additive attention bias [B, 1, T, S] (S = cached + new length). */
  bias: Value;
  /** Cached keys/values per layer, [B, kvH, P, hd]. */
  past?: { k: Value; v: Value }[];
}

export interface DecoderOutputs {
  /** Final-normed hidden states [B, T, hidden]. */
  hidden: Value;
  /** Keys/values including the new tokens, [B, kvH, S, hd] per layer. */
  presents: { k: Value; v: Value }[];
}

export type WeightSource = (name: string) => Value;

export interface DecoderOptions {
  /**
   * Multiply by frozen weights as MatMul(x, Transpose(W)) instead of FusedMatMul(x, W, transB). Only for
   * weights embedded as initializers (inference): ONNX Runtime folds the Transpose when it loads the
   * model, and MLAS pre-packs a plain MatMul's constant right operand, which it does not do as well for
   * a transposed one. Measured here on 128x576 @ 576x1536: about 10% faster; at one row (decode) more.
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
   * Causal attention without a cache in two blocks: the first half of the queries against the first half
   * of the keys only, the second half against all keys. It skips a quarter of the attention's products
   * and softmax work, whose other half would be masked out (training graphs).
   */
  blockCausal?: boolean;
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
 * in the backward pass one product for x's gradient instead of several summed (measured on the
 * bench/train.ts step: the r-column products ran at a third of the big ones' rate).
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
  w: Value;
  bias?: Value;
  lora?: LoraBinding;
}

/** y_i = x W_i^T (+ b_i) (+ scale (x A_i^T) B_i^T) for layers that read the same x. */
function linears(g: Graph, x: Value, specs: LinearSpec[], pretransposed = false): Value[] {
  const adapted = specs.filter((s) => s.lora);
  const down = adapted.length > 0 ? loraDown(g, x, adapted.map((s) => s.lora!)) : [];
  return specs.map((s) => {
    let y = frozenMatmul(g, x, s.w, pretransposed);
    if (s.bias) y = op.add(g, y, s.bias);
    if (s.lora) y = op.add(g, y, op.matmul(g, down[adapted.indexOf(s)], s.lora.B, { transB: true, alpha: s.lora.scale }));
    return y;
  });
}

/** cos/sin of every position up to the context length, [maxPos, hd/2] (float32), for RotaryEmbedding. */
function rotaryCaches(g: Graph, c: ModelConfig): { cos: Value; sin: Value } {
  const inv = ropeInvFreq(c);
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
function rotaryTables(g: Graph, c: ModelConfig, positions: Value, dtype: "float32" | "float64"): { cos: Value; sin: Value } {
  const inv = ropeInvFreq(c);
  const B = positions.shape[0];
  const T = positions.shape[1];
  const half = c.headDim / 2;
  const pos = g.emit1("Cast", [positions], dtype, [B, T], { to: int(dtype === "float64" ? 11 : 1) });
  const pos3 = g.emit1("Unsqueeze", [pos, g.constI64([2])], dtype, [B, T, 1]);
  const invC = g.constF(dtype, dtype === "float64" ? inv : Float32Array.from(inv), [half]);
  const freqs = g.emit1("Mul", [pos3, invC], dtype, [B, T, half]);
  const emb = g.emit1("Concat", [freqs, freqs], dtype, [B, T, c.headDim], { axis: int(2) });
  const emb4 = g.emit1("Unsqueeze", [emb, g.constI64([1])], dtype, [B, 1, T, c.headDim]);
  return {
    cos: g.emit1("Cos", [emb4], dtype, emb4.shape),
    sin: g.emit1("Sin", [emb4], dtype, emb4.shape),
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
  // The tables hold every position: for very long contexts (over 2^23 entries, 32 MB each) the ops stay.
  const fused = options.fusedRotary && c.maxPositionEmbeddings * (hd / 2) <= 1 << 23 ? rotaryCaches(g, c) : undefined;
  const { cos, sin } = fused ? { cos: undefined, sin: undefined } : rotaryTables(g, c, inp.positions, dtype);
  const rope = (x: Value): Value =>
    fused
      ? op.rotaryEmbedding(g, x, inp.positions, fused.cos, fused.sin)
      : op.rope(g, x, cos!, sin!);
  // Queries of one KV head are processed as one [group*T] block, so K and V are never repeated; the
  // bias is tiled to match (rows ordered group-major, like the reshaped queries).
  const tiled = (b: Value) => (group === 1 ? b : g.emit1("Tile", [b, g.constI64([1, 1, group, 1])], dtype, [b.shape[0], 1, unknownDim(), b.shape[3]]));
  const halves = options.blockCausal && !inp.past ? causalHalves(g, inp.positions, inp.bias) : undefined;
  const bias = halves ? undefined : tiled(inp.bias);
  const biasA = halves ? tiled(halves.biasA) : undefined;
  const biasB = halves ? tiled(halves.biasB) : undefined;
  /** Attention of queries [B, H, Tq, hd] over keys/values [B, KV, S, hd] with additive bias (tiled) -> [B, H, Tq, hd]. */
  const attend = (q: Value, k: Value, v: Value, b: Value): Value => {
    const qg = op.reshape(g, q, [0, KV, -1, hd]); // [B, KV, group*Tq, hd]
    return op.reshape(g, op.attention(g, qg, k, v, b, 1 / Math.sqrt(hd)), [0, H, -1, hd]);
  };

  let h = op.gather(g, weight("model.embed_tokens.weight"), inp.ids); // [B, T, D]
  const presents: { k: Value; v: Value }[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const spec = (module: string, hasBias: boolean): LinearSpec => ({
      w: weight(`${p}${module}.weight`),
      bias: hasBias ? weight(`${p}${module}.bias`) : undefined,
      lora: lora.get(`layers.${i}.${module}`),
    });
    const lin = (x: Value, ...modules: [string, boolean][]) => linears(g, x, modules.map(([m, b]) => spec(m, b)), options.pretransposedWeights);

    const x = op.rmsNorm(g, h, weight(`${p}input_layernorm.weight`), c.rmsNormEps, options.fusableNorms);
    const heads = (y: Value, n: number) => op.transpose(g, op.reshape(g, y, [0, 0, n, hd]), [0, 2, 1, 3]); // [B, n, T, hd]
    const [qp, kp, vp] = lin(x, ["self_attn.q_proj", c.attentionBias], ["self_attn.k_proj", c.attentionBias], ["self_attn.v_proj", c.attentionBias]);
    const q = rope(heads(qp, H));
    let k = rope(heads(kp, KV));
    let v = heads(vp, KV);
    if (inp.past) {
      k = op.concat(g, [inp.past[i].k, k], 2);
      v = op.concat(g, [inp.past[i].v, v], 2);
    }
    presents.push({ k, v });
    let ctx: Value; // [B, H, T, hd]
    if (halves) {
      // The first half of the queries only sees the first half of the keys (the rest is masked anyway).
      const [qA, qB] = op.splitBy(g, q, 2, halves.sizes, 2);
      const [kA] = op.splitBy(g, k, 2, halves.sizes, 2);
      const [vA] = op.splitBy(g, v, 2, halves.sizes, 2);
      ctx = op.concatBy(g, [attend(qA, kA, vA, biasA!), attend(qB, k, v, biasB!)], 2, halves.sizes);
    } else {
      ctx = attend(q, k, v, bias!);
    }
    const merged = op.reshape(g, op.transpose(g, ctx, [0, 2, 1, 3]), [0, 0, H * hd]);
    h = op.add(g, h, lin(merged, ["self_attn.o_proj", false])[0]);

    const x2 = op.rmsNorm(g, h, weight(`${p}post_attention_layernorm.weight`), c.rmsNormEps, options.fusableNorms);
    const [gate, up] = lin(x2, ["mlp.gate_proj", false], ["mlp.up_proj", false]);
    const act = op.mul(g, op.silu(g, gate), up);
    h = op.add(g, h, lin(act, ["mlp.down_proj", false])[0]);
  }
  return { hidden: op.rmsNorm(g, h, weight("model.norm.weight"), c.rmsNormEps, options.fusableNorms), presents };
}

/**
 * For block-causal attention over a sequence of T positions (no cache): the split sizes [h, T - h] with
 * h = floor(T / 2), and the bias blocks the two halves of the queries need: [B, 1, h, h] (first half
 * over the first half of the keys) and [B, 1, T - h, T].
 */
function causalHalves(g: Graph, positions: Value, bias: Value): { sizes: Value; biasA: Value; biasB: Value } {
  const T = g.emit1("Slice", [g.emit1("Shape", [positions], "int64", [2]), g.constI64([1]), g.constI64([2])], "int64", [1]);
  const h = g.emit1("Div", [T, g.constI64([2])], "int64", [1]);
  const sizes = g.emit1("Concat", [h, g.emit1("Sub", [T, h], "int64", [1])], "int64", [2], { axis: int(0) });
  const zero2 = g.constI64([0, 0]);
  const hh = g.emit1("Concat", [h, h], "int64", [2], { axis: int(0) });
  const biasA = g.emit1("Slice", [bias, zero2, hh, g.constI64([2, 3])], bias.dtype, [bias.shape[0], 1, unknownDim(), unknownDim()]);
  const biasB = g.emit1("Slice", [bias, h, g.constI64([2 ** 53]), g.constI64([2])], bias.dtype, [bias.shape[0], 1, unknownDim(), bias.shape[3]]);
  return { sizes, biasA, biasB };
}

/** The output embedding: lm_head, or the input embedding when tied. */
export function outputEmbeddingName(c: ModelConfig, has: (name: string) => boolean): string {
  if (!c.tieWordEmbeddings && has("lm_head.weight")) return "lm_head.weight";
  return "model.embed_tokens.weight";
}
