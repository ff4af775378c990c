/**
 * Qwen3 (Qwen3ForCausalLM; 0.6B, 1.7B, 4B, 8B ...): Llama layers plus a per-head RMSNorm on queries and
 * keys (q_norm, k_norm over head_dim) before RoPE; head_dim is its own field (128 by default, so
 * 0.6B's 16 heads x 128 differ from its hidden size 1024); attention_bias (false in the released
 * models) would put biases on q, k, v and o; sliding windows only with use_sliding_window, on the
 * layers layer_types marks. Read from transformers' modeling_qwen3.py / configuration_qwen3.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, llamaStyleDecoder, readDecoderBasics, readQwenWindows, readRope } from "../family.js";

export const qwen3: ModelFamily = {
  id: "qwen3",
  label: "Qwen3ForCausalLM (Qwen3)",
  architectures: ["Qwen3ForCausalLM"],
  modelTypes: ["qwen3"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: { architecture: "qwen3", tensors: LLAMA_CPP_TENSORS },
  parseConfig(raw, file) {
    const r = new ConfigReader(raw, "Qwen3", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: false, maxPositionEmbeddings: 32768, headDim: 128 });
    const rope = readRope(r, 10000);
    const layers = readQwenWindows(r, basics.numLayers).map((w) => ({ rope, ...(w !== undefined ? { slidingWindow: w } : {}) }));
    const bias = r.bool("attention_bias", false);
    return llamaStyleDecoder(r, basics, { qkvBias: bias, oBias: bias, qkNorm: true, layers });
  },
};
