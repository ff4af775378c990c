/**
 * A plain TypeScript Llama-family decoder with a KV cache. It is slow (no SIMD, one token at a time)
 * and exists as an engine-independent check and a fallback for tiny models; real work runs on the
 * ONNX Runtime model. Math: see scripts/reference/llama_reference.py.
 */
import type { ModelConfig, Tensor } from "../types.js";
import { ropeInvFreq } from "../models/rope.js";
import type { DecoderBatch, DecoderModel } from "./types.js";

interface LayerWeights {
  inNorm: Float32Array;
  postNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  qb?: Float32Array;
  kb?: Float32Array;
  vb?: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** y = W x for W [out, in] row-major. */
function matvec(W: Float32Array, x: Float32Array, out: number, inn: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(out);
  for (let i = 0; i < out; i++) {
    let s = 0;
    const row = i * inn;
    for (let j = 0; j < inn; j++) s += W[row + j] * x[j];
    y[i] = bias ? s + bias[i] : s;
  }
  return y;
}

function rmsnorm(x: Float32Array, w: Float32Array, eps: number): Float32Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * inv * w[i];
  return y;
}

export class JsDecoder implements DecoderModel {
  readonly maxContext: number;
  private readonly layers: LayerWeights[] = [];
  private readonly embed: Float32Array;
  private readonly head: Float32Array;
  private readonly norm: Float32Array;
  private readonly invFreq: Float64Array;

  constructor(
    readonly config: ModelConfig,
    weights: Map<string, Tensor>,
  ) {
    const w = (n: string) => {
      const t = weights.get(n);
      if (!t) throw new Error(`JsDecoder: missing weight ${n}`);
      return t.data;
    };
    this.maxContext = config.maxPositionEmbeddings;
    this.embed = w("model.embed_tokens.weight");
    this.head = config.tieWordEmbeddings ? this.embed : w("lm_head.weight");
    this.norm = w("model.norm.weight");
    this.invFreq = ropeInvFreq(config);
    for (let i = 0; i < config.numLayers; i++) {
      const p = `model.layers.${i}.`;
      this.layers.push({
        inNorm: w(p + "input_layernorm.weight"),
        postNorm: w(p + "post_attention_layernorm.weight"),
        q: w(p + "self_attn.q_proj.weight"),
        k: w(p + "self_attn.k_proj.weight"),
        v: w(p + "self_attn.v_proj.weight"),
        o: w(p + "self_attn.o_proj.weight"),
        ...(config.attentionBias
          ? { qb: w(p + "self_attn.q_proj.bias"), kb: w(p + "self_attn.k_proj.bias"), vb: w(p + "self_attn.v_proj.bias") }
          : {}),
        gate: w(p + "mlp.gate_proj.weight"),
        up: w(p + "mlp.up_proj.weight"),
        down: w(p + "mlp.down_proj.weight"),
      });
    }
  }

  private rope(x: Float32Array, heads: number, pos: number): void {
    const D = this.config.headDim;
    const half = D / 2;
    for (let i = 0; i < half; i++) {
      const a = pos * this.invFreq[i];
      const c = Math.cos(a);
      const s = Math.sin(a);
      for (let h = 0; h < heads; h++) {
        const b = h * D;
        const x0 = x[b + i];
        const x1 = x[b + i + half];
        x[b + i] = x0 * c - x1 * s;
        x[b + i + half] = x1 * c + x0 * s;
      }
    }
  }

  /** One token through every layer; appends to the caches; returns logits. */
  private forwardToken(id: number, pos: number, kc: Float32Array[][], vc: Float32Array[][]): Float32Array {
    const c = this.config;
    const H = c.hiddenSize;
    const D = c.headDim;
    const nh = c.numHeads;
    const nkv = c.numKvHeads;
    const group = nh / nkv;
    let x: Float32Array = this.embed.slice(id * H, (id + 1) * H);
    for (let l = 0; l < c.numLayers; l++) {
      const L = this.layers[l];
      const xn = rmsnorm(x, L.inNorm, c.rmsNormEps);
      const q = matvec(L.q, xn, nh * D, H, L.qb);
      const k = matvec(L.k, xn, nkv * D, H, L.kb);
      const v = matvec(L.v, xn, nkv * D, H, L.vb);
      this.rope(q, nh, pos);
      this.rope(k, nkv, pos);
      kc[l].push(k);
      vc[l].push(v);
      const T = kc[l].length;
      const first = c.slidingWindow ? Math.max(0, T - c.slidingWindow) : 0;
      const att = new Float32Array(nh * D);
      const scale = 1 / Math.sqrt(D);
      const scores = new Float64Array(T);
      for (let h = 0; h < nh; h++) {
        const kvh = Math.floor(h / group);
        let max = -Infinity;
        for (let t = first; t < T; t++) {
          const kt = kc[l][t];
          let s = 0;
          for (let d = 0; d < D; d++) s += q[h * D + d] * kt[kvh * D + d];
          scores[t] = s * scale;
          if (scores[t] > max) max = scores[t];
        }
        let sum = 0;
        for (let t = first; t < T; t++) sum += scores[t] = Math.exp(scores[t] - max);
        for (let t = first; t < T; t++) {
          const p = scores[t] / sum;
          const vt = vc[l][t];
          for (let d = 0; d < D; d++) att[h * D + d] += p * vt[kvh * D + d];
        }
      }
      const o = matvec(L.o, att, H, nh * D);
      for (let i = 0; i < H; i++) x[i] += o[i];
      const xn2 = rmsnorm(x, L.postNorm, c.rmsNormEps);
      const g = matvec(L.gate, xn2, c.intermediateSize, H);
      const u = matvec(L.up, xn2, c.intermediateSize, H);
      for (let i = 0; i < g.length; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
      const dn = matvec(L.down, g, H, c.intermediateSize);
      for (let i = 0; i < H; i++) x[i] += dn[i];
    }
    x = rmsnorm(x, this.norm, c.rmsNormEps);
    return matvec(this.head, x, c.vocabSize, H);
  }

  /** Logits for every position of `ids` (tests compare them with the PyTorch reference). */
  allLogits(ids: number[]): Float32Array[] {
    const kc = this.layers.map(() => [] as Float32Array[]);
    const vc = this.layers.map(() => [] as Float32Array[]);
    return ids.map((id, pos) => this.forwardToken(id, pos, kc, vc));
  }

  async start(rows: number[][]): Promise<{ logits: Float32Array[]; batch: DecoderBatch }> {
    if (rows.some((r) => r.length === 0)) throw new Error("start: every row needs at least one token");
    const caches = rows.map(() => ({ k: this.layers.map(() => [] as Float32Array[]), v: this.layers.map(() => [] as Float32Array[]) }));
    const lengths = rows.map((r) => r.length);
    const logits = rows.map((ids, b) => {
      let l!: Float32Array;
      ids.forEach((id, pos) => (l = this.forwardToken(id, pos, caches[b].k, caches[b].v)));
      return l;
    });
    const batch: DecoderBatch = {
      get length() {
        return Math.max(...lengths);
      },
      next: async (tokens: number[]) => tokens.map((id, b) => this.forwardToken(id, lengths[b]++, caches[b].k, caches[b].v)),
      release: () => {
        caches.length = 0;
      },
    };
    return { logits, batch };
  }
}
