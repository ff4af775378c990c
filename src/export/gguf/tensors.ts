/**
 * The model's tensors under llama.cpp's names and layouts, as GGUF tensors that read, transform and
 * encode their weights only while they are being written (a block of rows at a time where the
 * transform allows), so a large model never has a second copy in memory:
 *
 * - names from the family's `gguf.tensors` by role (`.weight`, or `.bias` for bias roles);
 * - dims in ggml order (the reverse of safetensors'): an [out, in] weight is written as [in, out];
 * - zero-centred norms (Gemma's x * (1 + w)) stored as 1 + w, as llama.cpp multiplies by the weight;
 * - for llama.cpp's `llama`-style RoPE (pairs of adjacent dimensions), the q and k rows (and biases)
 *   permuted from Hugging Face's half-split layout: per head, row j * (d/2) + i goes to 2i + j;
 * - a LoRA adapter merged into the weight it adapts (W + scale * B A), before the permutation;
 * - Gated DeltaNet tensors in llama.cpp's qwen35 layout (linear-attention.ts);
 * - the tied output head left out (llama.cpp then uses token_embd);
 * - norms, biases and other 1-D tensors in F32; matrices in the export dtype (Q8_0 needs rows that are
 *   a multiple of 32 values and falls back to F16 otherwise, as llama.cpp's converter does).
 */
import type { GgufNames } from "../../engine/models/family.js";
import { tensorName } from "../../engine/models/family.js";
import { addLoraDelta } from "../../engine/models/lora.js";
import { layerRoles, normOffset } from "../../engine/models/tensors.js";
import type { ModelConfig, Tensor, TensorRole } from "../../engine/types.js";
import type { GgufTensor } from "./container.js";
import { linearAttentionDims, linearAttentionLayout } from "./linear-attention.js";
import { encodeRows, GGML_TYPE, Q8_0_BLOCK, type GgmlType } from "./tensor-data.js";

export const GGUF_DTYPES = ["f32", "f16", "bf16", "q8_0"] as const;
export type GgufDtype = (typeof GGUF_DTYPES)[number];

/** `general.file_type` (llama.cpp's LlamaFileType) of each export dtype. */
export const FILE_TYPE: Record<GgufDtype, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

const MATRIX_TYPE: Record<GgufDtype, GgmlType> = { f32: GGML_TYPE.F32, f16: GGML_TYPE.F16, bf16: GGML_TYPE.BF16, q8_0: GGML_TYPE.Q8_0 };

const NORM_ROLES = new Set<TensorRole>(["finalNorm", "attnNorm", "qNorm", "kNorm", "attnOutNorm", "mlpNorm", "mlpOutNorm"]);
const BIAS_ROLES = new Set<TensorRole>(["qBias", "kBias", "vBias", "oBias", "linDtBias"]);
/** Roles llama.cpp names without a ".weight"/".bias" suffix. */
const BARE_ROLES = new Set<TensorRole>(["linALog"]);

/** Where weights come from: a model opened for streaming (engine/io/model.ts openModelWeights). */
export interface WeightSource {
  readonly shapes: Map<string, number[]>;
  read(name: string): Promise<Tensor>;
  readRows(name: string, start: number, count: number): Promise<Tensor>;
}

/** A LoRA update of one weight: A [r, in], B [out, r], scale. */
export interface LoraDelta {
  A: Float32Array;
  B: Float32Array;
  scale: number;
}

/** The ggml type a tensor is stored in: F32 for vectors and norms, the export dtype for matrices. */
export function ggmlTypeFor(dtype: GgufDtype, ggufName: string, dims: readonly number[]): GgmlType {
  // ggml's convolution of recurrent layers (ssm_conv) reads an F32 kernel only.
  if (dims.length < 2 || /_norm\.weight$|ssm_conv1d\.weight$/.test(ggufName)) return GGML_TYPE.F32;
  const t = MATRIX_TYPE[dtype];
  if (t === GGML_TYPE.Q8_0 && dims[0] % Q8_0_BLOCK !== 0) return GGML_TYPE.F16;
  return t;
}

/**
 * Rows of a [heads * d, cols] matrix (or a vector, cols = 1) reordered from the half-split rotary
 * layout to llama.cpp's interleaved one: reshape (heads, 2, d/2, cols), swap axes 1 and 2.
 */
export function permuteRopeRows(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  const half = d / 2;
  if (!Number.isInteger(half)) throw new Error(`cannot permute ${rows} rows into ${heads} heads of even size`);
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < 2; j++) {
      for (let i = 0; i < half; i++) {
        const from = (h * d + j * half + i) * cols;
        const to = (h * d + 2 * i + j) * cols;
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** llama.cpp's name of a role's tensor (".weight" or ".bias"). */
export function ggufTensorName(g: GgufNames, role: TensorRole, layer?: number): string {
  const t = g.tensors[role];
  if (t === undefined) throw new Error(`llama.cpp has no tensor name for ${role}`);
  return (layer === undefined ? t : t.replace("{i}", String(layer))) + (BARE_ROLES.has(role) ? "" : BIAS_ROLES.has(role) ? ".bias" : ".weight");
}

/** Heads to permute a role's rows by (llama-style RoPE), or undefined. */
export function permuteHeadsFor(c: ModelConfig, g: GgufNames, role: TensorRole): number | undefined {
  if (!g.permuteQK) return undefined;
  if (role === "q" || role === "qBias") return c.numHeads;
  if (role === "k" || role === "kBias") return c.numKvHeads;
  return undefined;
}

/** Rows read, transformed and encoded at once (about 16 MB of float32). */
const CHUNK_VALUES = 4 * 1024 * 1024;

interface Plan {
  hfName: string;
  role: TensorRole;
  layer?: number;
}

/** Every tensor of the model, in llama.cpp's layout, reading from `source` while written. */
export function modelTensors(
  c: ModelConfig,
  g: GgufNames,
  source: WeightSource,
  opts: { dtype: GgufDtype; lora?: Map<string, LoraDelta>; ropeFreqs?: Float32Array },
): GgufTensor[] {
  const plans: Plan[] = [{ hfName: tensorName(c, "embed"), role: "embed" }];
  for (let i = 0; i < c.numLayers; i++) for (const role of layerRoles(c, i)) plans.push({ hfName: tensorName(c, role, i), role, layer: i });
  plans.push({ hfName: tensorName(c, "finalNorm"), role: "finalNorm" });
  if (!c.tieWordEmbeddings) plans.push({ hfName: tensorName(c, "lmHead"), role: "lmHead" });

  const offset = normOffset(c);
  const tensors: GgufTensor[] = plans.map((p) => {
    const shape = source.shapes.get(p.hfName);
    if (!shape) throw new Error(`the model has no tensor ${p.hfName}`);
    const name = ggufTensorName(g, p.role, p.layer);
    const dims = linearAttentionDims(p.role, shape) ?? [...shape].reverse();
    const type = ggmlTypeFor(opts.dtype, name, dims);
    const rows = shape[0];
    const cols = shape.length === 1 ? 1 : shape.slice(1).reduce((a, b) => a * b, 1);
    const heads = permuteHeadsFor(c, g, p.role);
    const lora = opts.lora?.get(p.hfName);
    const shift = NORM_ROLES.has(p.role) ? offset : 0;
    const rowLength = dims[0];
    const relaid = p.role.startsWith("lin");
    return {
      name,
      dims,
      type,
      async produce(write) {
        const transform = (data: Float32Array, rowStart: number, count: number) => {
          if (lora) addLoraDelta(data, rowStart, count, cols, lora.A, lora.B, lora.scale);
          if (shift !== 0) for (let i = 0; i < data.length; i++) data[i] += shift;
        };
        if (heads !== undefined || relaid || shape.length === 1) {
          // Permuted, relaid and 1-D tensors are small (one layer's projection at most): whole.
          const data = (await source.read(p.hfName)).data; // a fresh buffer: transformed in place
          transform(data, 0, rows);
          const out = heads !== undefined ? permuteRopeRows(data, rows, cols, heads) : relaid ? linearAttentionLayout(c, p.role, data, shape) : data;
          await write(encodeRows(type, out, rowLength));
          return;
        }
        const step = Math.max(1, Math.floor(CHUNK_VALUES / cols));
        for (let start = 0; start < rows; start += step) {
          const count = Math.min(step, rows - start);
          const data = (await source.readRows(p.hfName, start, count)).data;
          transform(data, start, count);
          await write(encodeRows(type, data, rowLength));
        }
      },
    };
  });
  if (opts.ropeFreqs) {
    const freqs = opts.ropeFreqs;
    tensors.push({ name: "rope_freqs.weight", dims: [freqs.length], type: GGML_TYPE.F32, produce: (write) => write(encodeRows(GGML_TYPE.F32, freqs, freqs.length)) });
  }
  return tensors;
}
