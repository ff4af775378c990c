/**
 * Mistral (MistralForCausalLM): Llama layers with sliding-window attention on every layer when
 * `sliding_window` is set; no attention biases. From transformers' modeling_mistral.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, llamaStyleDecoder, readDecoderBasics, readRope } from "../family.js";

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
    const rope = readRope(r, 10000);
    const window = r.has("sliding_window") ? r.int("sliding_window") : undefined;
    const layers = Array.from({ length: basics.numLayers }, () => ({ rope, ...(window !== undefined ? { slidingWindow: window } : {}) }));
    return llamaStyleDecoder(r, basics, { qkvBias: false, oBias: false, layers });
  },
};
