/**
 * Qwen2 / Qwen2.5 (Qwen2ForCausalLM): Llama layers with biases on q, k and v (always; none on o).
 * Sliding-window attention only with use_sliding_window, on the layers layer_types marks (by
 * default those from max_window_layers on). From transformers' modeling_qwen2.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, llamaStyleDecoder, readDecoderBasics, readQwenWindows, readRope } from "../family.js";

export const qwen2: ModelFamily = {
  id: "qwen2",
  label: "Qwen2ForCausalLM (Qwen2, Qwen2.5)",
  architectures: ["Qwen2ForCausalLM"],
  modelTypes: ["qwen2"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: { architecture: "qwen2", tensors: LLAMA_CPP_TENSORS },
  parseConfig(raw, file) {
    const r = new ConfigReader(raw, "Qwen2", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: false, maxPositionEmbeddings: 32768 });
    const rope = readRope(r, 10000);
    const layers = readQwenWindows(r, basics.numLayers).map((w) => ({ rope, ...(w !== undefined ? { slidingWindow: w } : {}) }));
    return llamaStyleDecoder(r, basics, { qkvBias: true, oBias: false, layers });
  },
};
