/**
 * A decoder (ModelConfig) as llama.cpp's architecture metadata: `general.architecture` and the
 * `{arch}.*` hyperparameters llama.cpp's loader reads, from the family's `gguf` slot
 * (models/families/*.ts). What llama.cpp's graph for that architecture cannot express is refused by
 * name (`gguf_unsupported_config`) rather than written as a file that would run differently; what
 * it runs differently only past a point (a sliding window on an architecture whose llama.cpp graph
 * attends to the whole context) is written with a note.
 */
import type { GgufNames } from "../../engine/models/family.js";
import { ropeInvFreq } from "../../engine/models/rope.js";
import type { ModelConfig, RopeSpec } from "../../engine/types.js";
import { TunekitError } from "../../util/errors.js";
import { kv, type MetadataEntry } from "./container.js";
import { linearAttentionMetadata } from "./linear-attention.js";

export interface ArchitectureMetadata {
  metadata: MetadataEntry[];
  /** llama3 rope scaling as llama.cpp's `rope_freqs` tensor (one factor per rotary frequency), when needed. */
  ropeFreqs?: Float32Array;
  /** Differences from tunekit's own run of the model that the file cannot avoid (shown to the user). */
  notes: string[];
}

function refuse(what: string, hint?: string): TunekitError {
  return new TunekitError("gguf_unsupported_config", `llama.cpp cannot run this model as trained: ${what}`, {
    hint: hint ?? "export the merged model (--merged) for tools that run it from safetensors",
  });
}

const sameRope = (a: RopeSpec | undefined, b: RopeSpec | undefined) => JSON.stringify(a) === JSON.stringify(b);

/** The sliding-window period p llama.cpp would need (layer i slides when i % p < p - 1; 0: every layer slides). */
function slidingPeriod(sliding: boolean[]): number | undefined {
  const n = sliding.length;
  if (sliding.every((s) => s)) return 0;
  for (let p = 1; p <= n + 1; p++) if (sliding.every((s, i) => s === i % p < p - 1)) return p;
  return undefined;
}

export function architectureMetadata(c: ModelConfig, g: GgufNames): ArchitectureMetadata {
  const a = g.architecture;
  const notes: string[] = [];
  const m: MetadataEntry[] = [
    kv.u32(`${a}.vocab_size`, c.vocabSize),
    kv.u32(`${a}.context_length`, c.maxPositionEmbeddings),
    kv.u32(`${a}.embedding_length`, c.hiddenSize),
    kv.u32(`${a}.block_count`, c.numLayers),
    kv.u32(`${a}.feed_forward_length`, c.intermediateSize),
    kv.u32(`${a}.attention.head_count`, c.numHeads),
    kv.u32(`${a}.attention.head_count_kv`, c.numKvHeads),
    kv.u32(`${a}.attention.key_length`, c.headDim),
    kv.u32(`${a}.attention.value_length`, c.headDim),
    kv.f32(`${a}.attention.layer_norm_rms_epsilon`, c.rmsNormEps),
    kv.u32(`${a}.rope.dimension_count`, c.rotaryDim ?? c.headDim),
  ];
  if (c.linearAttention) m.push(...linearAttentionMetadata(c, a));

  if (c.oBias && !g.outputBias) throw refuse(`the output projection has a bias, which llama.cpp's ${a} graph does not load`);
  // llama.cpp scales attention by 1/sqrt(head_dim) for these graphs (Gemma 3's 62-layer size by 1/sqrt(hidden / heads)).
  const llamaCppScale = a === "gemma3" && c.numLayers === 62 ? 1 / Math.sqrt(c.hiddenSize / c.numHeads) : 1 / Math.sqrt(c.headDim);
  if (Math.abs(c.attentionScale - llamaCppScale) > 1e-6 * llamaCppScale) {
    throw refuse(`its attention scale is ${c.attentionScale.toPrecision(6)}, llama.cpp's ${a} graph uses ${llamaCppScale.toPrecision(6)}`);
  }
  if (c.embedScale !== undefined) {
    const llamaCpp = Math.fround(Math.sqrt(c.hiddenSize));
    if (c.embedScale !== llamaCpp) notes.push(`llama.cpp scales the embeddings by sqrt(${c.hiddenSize}) = ${llamaCpp.toFixed(4)}; transformers and tunekit use ${c.embedScale.toFixed(4)} (rounded to the weights' dtype)`);
  }

  // Which layers slide and which rope each layer uses.
  const sliding = c.layers.map((l) => l.slidingWindow !== undefined);
  const windows = [...new Set(c.layers.map((l) => l.slidingWindow).filter((w): w is number => w !== undefined))];
  let swaRope: RopeSpec | undefined;
  if (g.slidingWindowPattern && sliding.some((s) => s)) {
    if (windows.length !== 1) throw refuse(`its layers have different sliding windows (${windows.join(", ")})`);
    const period = slidingPeriod(sliding);
    if (period === undefined) throw refuse("its sliding-window layers do not follow a repeating pattern (llama.cpp's sliding_window_pattern)");
    m.push(kv.u32(`${a}.attention.sliding_window`, windows[0]), kv.u32(`${a}.attention.sliding_window_pattern`, period));
    swaRope = c.layers.find((_, i) => sliding[i])!.rope;
    if (!swaRope || swaRope.scaling) throw refuse("its sliding-window layers use rope scaling, which llama.cpp applies to full-attention layers only");
    if (c.layers.some((l, i) => sliding[i] && !sameRope(l.rope, swaRope))) throw refuse("its sliding-window layers use different rotary embeddings");
    m.push(kv.f32(`${a}.rope.freq_base_swa`, swaRope.theta));
  } else if (windows.some((w) => w < c.maxPositionEmbeddings)) {
    notes.push(`llama.cpp's ${a} graph attends to the whole context in every layer: the model was trained with a sliding window of ${Math.min(...windows)} tokens, so outputs match up to that length`);
  }
  // Linear-attention layers have no positions at all; only attention layers are checked for RoPE.
  const attention = c.layers.map((l) => l.mixer !== "linear_attention");
  const ropeLayers = c.layers.filter((l, i) => l.rope !== undefined && !(swaRope && sliding[i]));
  const fullRope = ropeLayers[0]?.rope;
  if (ropeLayers.some((l) => !sameRope(l.rope, fullRope))) throw refuse("its layers use different rotary embeddings");

  // Layers without RoPE (SmolLM3's NoPE layers): only llama.cpp's fixed pattern can be expressed.
  const noRope = c.layers.map((l, i) => attention[i] && l.rope === undefined);
  if (g.noRopeEvery !== undefined) {
    const every = g.noRopeEvery;
    const expected = c.layers.map((_, i) => (i + 1) % every === 0);
    if (noRope.some((x, i) => x !== expected[i])) {
      throw refuse(`llama.cpp's ${a} graph leaves RoPE out of every ${every}th layer; this model leaves it out of layers ${noRope.flatMap((x, i) => (x ? [i] : [])).join(", ") || "none"}`);
    }
  } else if (noRope.some((x) => x)) {
    throw refuse(`layers without rotary embeddings are not part of llama.cpp's ${a} graph`);
  }

  let ropeFreqs: Float32Array | undefined;
  if (fullRope) {
    m.push(kv.f32(`${a}.rope.freq_base`, fullRope.theta));
    const s = fullRope.scaling;
    if (s?.type === "linear") {
      m.push(kv.str(`${a}.rope.scaling.type`, "linear"), kv.f32(`${a}.rope.scaling.factor`, s.factor));
    } else if (s?.type === "llama3") {
      if (!g.ropeFreqsTensor) throw refuse(`llama3 rope scaling, which llama.cpp's ${a} graph has no input for`);
      // Each rotary frequency divided by its factor: the factor is the plain frequency over the scaled one.
      const plain = ropeInvFreq({ theta: fullRope.theta }, c.headDim);
      const scaled = ropeInvFreq(fullRope, c.headDim);
      ropeFreqs = Float32Array.from(plain, (f, i) => f / scaled[i]);
    }
  }
  return { metadata: m, ...(ropeFreqs ? { ropeFreqs } : {}), notes };
}
