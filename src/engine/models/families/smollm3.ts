/**
 * SmolLM3 (SmolLM3ForCausalLM): Llama layers, but the layers where no_rope_layers[i] is 0 use no
 * position embedding at all (NoPE; by default every 4th layer: no_rope_layer_interval). Embeddings
 * are tied unless the config says otherwise (transformers' default). Sliding windows only with
 * use_sliding_window, on the layers layer_types marks. From transformers' modeling_smollm3.py.
 */
import type { ModelFamily } from "../family.js";
import { ConfigReader, LLAMA_CPP_TENSORS, PROJECTION_LORA_TARGETS, llamaStyleDecoder, readDecoderBasics, readLayerTypes, readRope } from "../family.js";

export const smollm3: ModelFamily = {
  id: "smollm3",
  label: "SmolLM3ForCausalLM (SmolLM3)",
  architectures: ["SmolLM3ForCausalLM"],
  modelTypes: ["smollm3"],
  loraTargets: PROJECTION_LORA_TARGETS,
  gguf: { architecture: "smollm3", tensors: LLAMA_CPP_TENSORS },
  parseConfig(raw, file) {
    const r = new ConfigReader(raw, "SmolLM3", file);
    const basics = readDecoderBasics(r, { tieWordEmbeddings: true, maxPositionEmbeddings: 32768 });
    const rope = readRope(r, 2000000);
    const n = basics.numLayers;
    let usesRope: boolean[];
    const nrl = raw.no_rope_layers;
    if (nrl === undefined || nrl === null) {
      const interval = r.int("no_rope_layer_interval", 4);
      usesRope = Array.from({ length: n }, (_, i) => (i + 1) % interval !== 0);
    } else {
      if (!Array.isArray(nrl) || nrl.length < n || nrl.slice(0, n).some((v) => v !== 0 && v !== 1)) {
        throw r.bad(`config.json: "no_rope_layers" must give 0 or 1 for each of the ${n} layers`);
      }
      usesRope = nrl.slice(0, n).map((v) => v === 1);
    }
    const useWindow = r.bool("use_sliding_window", false);
    const window = useWindow && r.has("sliding_window") ? r.int("sliding_window") : undefined;
    const types = readLayerTypes(r, n) ?? usesRope.map((ropeHere) => (window !== undefined && !ropeHere ? "sliding_attention" : "full_attention"));
    const bias = r.bool("attention_bias", false);
    const layers = usesRope.map((ropeHere, i) => ({
      ...(ropeHere ? { rope } : {}),
      ...(window !== undefined && types[i] === "sliding_attention" ? { slidingWindow: window } : {}),
    }));
    return llamaStyleDecoder(r, basics, { qkvBias: bias, oBias: bias, layers });
  },
};
