/**
 * Llama (LlamaForCausalLM): Llama 2/3, SmolLM/SmolLM2, TinyLlama. Pre-norm RMSNorm, rotary
 * embeddings (llama3 scaling when configured), grouped-query attention, SwiGLU MLP; attention_bias
 * puts biases on q, k, v and o. From transformers' modeling_llama.py / configuration_llama.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, llamaStyleDecoder, readDecoderBasics, readRope } from "../family.js";

export const llama: ModelFamily = {
  id: "llama",
  label: "LlamaForCausalLM (Llama 2/3, SmolLM, SmolLM2, TinyLlama)",
  architectures: ["LlamaForCausalLM"],
  modelTypes: ["llama"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: { architecture: "llama", tensors: LLAMA_CPP_TENSORS, permuteQK: true },
  parseConfig(raw, file) {
    const r = new ConfigReader(raw, "Llama", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: false });
    const rope = readRope(r, 10000);
    const bias = r.bool("attention_bias", false);
    return llamaStyleDecoder(r, basics, { qkvBias: bias, oBias: bias, layers: Array.from({ length: basics.numLayers }, () => ({ rope })) });
  },
};
