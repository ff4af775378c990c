/**
 * Gated DeltaNet layers (Qwen3.5) as llama.cpp's `qwen35` graph reads them:
 *
 * - metadata: `ssm.conv_kernel`, `ssm.state_size` (the head size; llama.cpp sizes key and value heads
 *   by it), `ssm.group_count` (key heads), `ssm.time_step_rank` (value heads), `ssm.inner_size` (value
 *   heads x head size), `full_attention_interval`, and `rope.dimension_sections` (multi-section RoPE;
 *   a text token has the same position on every section, so any split of the rotary pairs rotates alike);
 * - `ssm_a` holds -exp(A_log) (the graph multiplies the softplus by it);
 * - the conv kernel [channels, 1, kernel] is written as [channels, kernel];
 * - value heads reordered when there are fewer key heads than value heads: Hugging Face groups the
 *   value heads by the key head they share (value head k * r + j uses key head k), llama.cpp tiles the
 *   key heads over the value heads (position j * K + k uses key head k). The value rows of `in_proj_qkv`
 *   and of the conv kernel, the rows of `in_proj_z`, `in_proj_a`, `in_proj_b`, the entries of `A_log`
 *   and `dt_bias`, and the columns of `out_proj` move together.
 */
import type { LinearAttentionSpec, ModelConfig, TensorRole } from "../../engine/types.js";
import { TunekitError } from "../../util/errors.js";
import { kv, type MetadataEntry } from "./container.js";

function refuse(what: string): TunekitError {
  return new TunekitError("gguf_unsupported_config", `llama.cpp cannot run this model as trained: ${what}`, {
    hint: "export the merged model (--merged) for tools that run it from safetensors",
  });
}

/** The `{arch}.ssm.*`, layer-pattern and rope-section metadata of a model with Gated DeltaNet layers. */
export function linearAttentionMetadata(c: ModelConfig, a: string): MetadataEntry[] {
  const s = c.linearAttention!;
  if (s.keyHeadDim !== s.valueHeadDim) throw refuse(`its linear-attention key heads (${s.keyHeadDim}) and value heads (${s.valueHeadDim}) differ in size; llama.cpp's ${a} graph sizes both by ssm.state_size`);
  const full = c.layers.map((l) => l.mixer !== "linear_attention");
  let interval: number | undefined;
  for (let p = 1; p <= c.numLayers + 1 && interval === undefined; p++) if (full.every((f, i) => f === ((i + 1) % p === 0))) interval = p;
  if (interval === undefined) throw refuse(`its full-attention layers (${full.flatMap((f, i) => (f ? [i] : [])).join(", ")}) do not recur every n-th layer (llama.cpp's full_attention_interval)`);
  const pairs = (c.rotaryDim ?? c.headDim) / 2;
  const third = Math.ceil(pairs / 3);
  const sections = [third, third, pairs - 2 * third, 0];
  return [
    kv.u32(`${a}.ssm.conv_kernel`, s.convKernel),
    kv.u32(`${a}.ssm.state_size`, s.keyHeadDim),
    kv.u32(`${a}.ssm.group_count`, s.numKeyHeads),
    kv.u32(`${a}.ssm.time_step_rank`, s.numValueHeads),
    kv.u32(`${a}.ssm.inner_size`, s.numValueHeads * s.valueHeadDim),
    kv.u32(`${a}.full_attention_interval`, interval),
    kv.i32s(`${a}.rope.dimension_sections`, sections),
  ];
}

/** Value head at each llama.cpp position: position j * K + k holds Hugging Face's head k * r + j. */
function tiledOrder(s: LinearAttentionSpec): number[] {
  const K = s.numKeyHeads;
  const r = s.numValueHeads / K;
  return Array.from({ length: s.numValueHeads }, (_, p) => (p % K) * r + Math.floor(p / K));
}

/** Moves blocks of `size` values (one value head's rows) starting at `start` into tiled order. */
function reorderBlocks(data: Float32Array, start: number, size: number, order: number[]): void {
  const from = data.slice(start, start + order.length * size);
  order.forEach((h, p) => data.set(from.subarray(h * size, (h + 1) * size), start + p * size));
}

/** The ggml dims of a Gated DeltaNet tensor from its safetensors shape, when they are not just reversed. */
export function linearAttentionDims(role: TensorRole, shape: readonly number[]): number[] | undefined {
  return role === "linConv" ? [shape[shape.length - 1], shape[0]] : undefined;
}

/**
 * A Gated DeltaNet tensor's data (whole, row-major as in safetensors, any LoRA already merged) in
 * llama.cpp's layout; other roles are returned unchanged.
 */
export function linearAttentionLayout(c: ModelConfig, role: TensorRole, data: Float32Array, shape: readonly number[]): Float32Array {
  const s = c.linearAttention;
  if (!s || !role.startsWith("lin")) return data;
  const order = s.numKeyHeads === s.numValueHeads ? undefined : tiledOrder(s);
  const rowLen = shape.length === 1 ? 1 : shape.slice(1).reduce((x, y) => x * y, 1);
  const keyRows = 2 * s.numKeyHeads * s.keyHeadDim;
  switch (role) {
    case "linALog":
      for (let i = 0; i < data.length; i++) data[i] = -Math.exp(data[i]);
      if (order) reorderBlocks(data, 0, 1, order);
      break;
    case "linDtBias":
    case "linA":
    case "linB":
      if (order) reorderBlocks(data, 0, rowLen, order);
      break;
    case "linZ":
      if (order) reorderBlocks(data, 0, s.valueHeadDim * rowLen, order);
      break;
    case "linQkv":
    case "linConv":
      if (order) reorderBlocks(data, keyRows * rowLen, s.valueHeadDim * rowLen, order);
      break;
    case "linOut":
      if (order) for (let r = 0; r < shape[0]; r++) reorderBlocks(data, r * rowLen, s.valueHeadDim, order);
      break;
    default:
      break;
  }
  return data;
}

/**
 * A LoRA update of a Gated DeltaNet projection in llama.cpp's layout (copies; the inputs are kept):
 * the output rows of B move as the weight's rows do (in_proj_qkv, in_proj_z), the input columns of
 * A as the weight's columns do (out_proj).
 */
export function linearAttentionLora(c: ModelConfig, role: TensorRole, A: Float32Array, B: Float32Array, outDim: number, inDim: number, rank: number): { A: Float32Array; B: Float32Array } {
  if (!c.linearAttention || !role.startsWith("lin")) return { A, B };
  if (role === "linOut") return { A: linearAttentionLayout(c, role, A.slice(), [rank, inDim]), B };
  return { A, B: linearAttentionLayout(c, role, B.slice(), [outDim, rank]) };
}
