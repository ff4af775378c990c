/**
 * Mistral (MistralForCausalLM): Llama layers with sliding-window attention on every layer when
 * `sliding_window` is set; no attention biases. From transformers' modeling_mistral.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, HF_DECODER_TENSORS, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, readDecoderBasics, readRope } from "../family.js";

export const mistral: ModelFamily = {
  id: "mistral",
  label: "MistralForCausalLM",
  architectures: ["MistralForCausalLM"],
  modelTypes: ["mistral"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: { architecture: "llama", tensors: LLAMA_CPP_TENSORS, permuteQK: true },
  parseConfig(raw, file) {
    const r = new ConfigReader(raw, "Mistral", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: false });
    const activation = r.activation({ silu: "silu", swish: "silu" }, "silu");
    const rope = readRope(r, 10000);
    const window = r.has("sliding_window") ? r.int("sliding_window") : undefined;
    return {
      ...basics,
      qkvBias: false,
      oBias: false,
      qkNorm: false,
      sandwichNorms: false,
      norm: "rms",
      activation,
      attentionScale: 1 / Math.sqrt(basics.headDim),
      layers: Array.from({ length: basics.numLayers }, () => ({ rope, ...(window !== undefined ? { slidingWindow: window } : {}) })),
      tensorNames: HF_DECODER_TENSORS,
      raw,
    };
  },
};
