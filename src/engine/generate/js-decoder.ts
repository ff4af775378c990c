/**
 * A plain TypeScript decoder with a KV cache, for every family the engine runs (it reads the same
 * ModelConfig as the ONNX graphs). It is slow (no SIMD, one token at a time) and exists as an
 * engine-independent check and a fallback for tiny models; real work runs on the ONNX Runtime model.
 * Math: see scripts/reference/decoder_reference.py.
 */
import type { LinearRole, ModelConfig, Tensor, TensorRole } from "../types.js";
import { tensorName } from "../models/family.js";
import { ropeInvFreq } from "../models/rope.js";
import { normOffset } from "../models/tensors.js";
import type { DecoderBatch, DecoderModel } from "./types.js";

type LayerWeights = Partial<Record<TensorRole, Float32Array>>;

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

/** RMSNorm of x[off, off + n) in place or into a new array: x / rms(x) * (offset + w). */
function rmsnorm(x: Float32Array, w: Float32Array, eps: number, offset: number, off = 0, n = x.length, out = new Float32Array(n)): Float32Array {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[off + i] * x[off + i];
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[i] = x[off + i] * inv * (offset + w[i]);
  return out;
}

const GELU_C = Math.sqrt(2 / Math.PI);

function activate(kind: ModelConfig["activation"], x: number): number {
  if (kind === "gelu_tanh") return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
  return x / (1 + Math.exp(-x));
}

export class JsDecoder implements DecoderModel {
  readonly maxContext: number;
  private readonly layers: LayerWeights[] = [];
  private readonly embed: Float32Array;
  private readonly head: Float32Array;
  private readonly norm: Float32Array;
  /** Per layer: inverse frequencies of its rotary embedding, or undefined (no position embedding). */
  private readonly invFreq: (Float64Array | undefined)[];

  constructor(
    readonly config: ModelConfig,
    weights: Map<string, Tensor>,
  ) {
    const w = (n: string) => {
      const t = weights.get(n);
      if (!t) throw new Error(`JsDecoder: missing weight ${n}`);
      return t.data;
    };
    const c = config;
    this.maxContext = c.maxPositionEmbeddings;
    this.embed = w(tensorName(c, "embed"));
    this.head = c.tieWordEmbeddings || !c.tensorNames.lmHead || !weights.has(c.tensorNames.lmHead) ? this.embed : w(tensorName(c, "lmHead"));
    this.norm = w(tensorName(c, "finalNorm"));
    this.invFreq = c.layers.map((l) => (l.rope ? ropeInvFreq(l.rope, c.headDim) : undefined));
    const roles: TensorRole[] = ["attnNorm", "q", "k", "v", "o", "mlpNorm", "gate", "up", "down"];
    if (c.qkvBias) roles.push("qBias", "kBias", "vBias");
    if (c.oBias) roles.push("oBias");
    if (c.qkNorm) roles.push("qNorm", "kNorm");
    if (c.sandwichNorms) roles.push("attnOutNorm", "mlpOutNorm");
    for (let i = 0; i < c.numLayers; i++) {
      const L: LayerWeights = {};
      for (const r of roles) L[r] = w(tensorName(c, r, i));
      this.layers.push(L);
    }
  }

  private rope(x: Float32Array, heads: number, pos: number, inv: Float64Array): void {
    const D = this.config.headDim;
    const half = D / 2;
    for (let i = 0; i < half; i++) {
      const a = pos * inv[i];
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

  /** Per-head RMSNorm over head_dim, in place. */
  private headNorm(x: Float32Array, heads: number, w: Float32Array): void {
    const c = this.config;
    const D = c.headDim;
    const tmp = new Float32Array(D);
    for (let h = 0; h < heads; h++) {
      rmsnorm(x, w, c.rmsNormEps, normOffset(c), h * D, D, tmp);
      x.set(tmp, h * D);
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
    const off = normOffset(c);
    const lin = (L: LayerWeights, role: LinearRole, x: Float32Array, out: number, inn: number, bias?: TensorRole) => matvec(L[role]!, x, out, inn, bias ? L[bias] : undefined);
    let x: Float32Array = this.embed.slice(id * H, (id + 1) * H);
    if (c.embedScale !== undefined) for (let i = 0; i < H; i++) x[i] = Math.fround(x[i] * c.embedScale);
    for (let l = 0; l < c.numLayers; l++) {
      const L = this.layers[l];
      const xn = rmsnorm(x, L.attnNorm!, c.rmsNormEps, off);
      const q = lin(L, "q", xn, nh * D, H, c.qkvBias ? "qBias" : undefined);
      const k = lin(L, "k", xn, nkv * D, H, c.qkvBias ? "kBias" : undefined);
      const v = lin(L, "v", xn, nkv * D, H, c.qkvBias ? "vBias" : undefined);
      if (c.qkNorm) {
        this.headNorm(q, nh, L.qNorm!);
        this.headNorm(k, nkv, L.kNorm!);
      }
      const inv = this.invFreq[l];
      if (inv) {
        this.rope(q, nh, pos, inv);
        this.rope(k, nkv, pos, inv);
      }
      kc[l].push(k);
      vc[l].push(v);
      const T = kc[l].length;
      const window = c.layers[l].slidingWindow;
      const first = window ? Math.max(0, T - window) : 0;
      const att = new Float32Array(nh * D);
      const scale = c.attentionScale;
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
      let o = lin(L, "o", att, H, nh * D, c.oBias ? "oBias" : undefined);
      if (c.sandwichNorms) o = rmsnorm(o, L.attnOutNorm!, c.rmsNormEps, off);
      for (let i = 0; i < H; i++) x[i] += o[i];
      const xn2 = rmsnorm(x, L.mlpNorm!, c.rmsNormEps, off);
      const g = lin(L, "gate", xn2, c.intermediateSize, H);
      const u = lin(L, "up", xn2, c.intermediateSize, H);
      for (let i = 0; i < g.length; i++) g[i] = activate(c.activation, g[i]) * u[i];
      let dn = lin(L, "down", g, H, c.intermediateSize);
      if (c.sandwichNorms) dn = rmsnorm(dn, L.mlpOutNorm!, c.rmsNormEps, off);
      for (let i = 0; i < H; i++) x[i] += dn[i];
    }
    x = rmsnorm(x, this.norm, c.rmsNormEps, off);
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
