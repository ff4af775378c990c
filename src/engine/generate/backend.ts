/**
 * Builds the DecoderModel generation runs on: the ONNX Runtime KV-cache model from models/causal-lm.ts
 * (the default), or the plain-JS reference decoder (`backend: "js"`, slow; for checks and debugging).
 */
import type { ModelConfig, Tensor } from "../types.js";
import { createInferenceModel, type KvCache } from "../models/causal-lm.js";
import type { RuntimeOptions } from "../runtime/session.js";
import { JsDecoder } from "./js-decoder.js";
import { hasRecurrentLayers } from "../models/family.js";
import { TunekitError } from "../../util/errors.js";
import type { DecoderBatch, DecoderModel } from "./types.js";

export type DecoderBackend = "onnx" | "js";

export interface DecoderOptions extends RuntimeOptions {
  backend?: DecoderBackend;
}

/** Splits [B * vocab] into B row views. */
function rowsOf(logits: Float32Array, batch: number, vocab: number): Float32Array[] {
  return Array.from({ length: batch }, (_, b) => logits.subarray(b * vocab, (b + 1) * vocab));
}

export async function createDecoder(config: ModelConfig, weights: Map<string, Tensor>, opts: DecoderOptions = {}): Promise<DecoderModel> {
  if (opts.backend === "js") {
    if (hasRecurrentLayers(config)) throw new TunekitError("unsupported_architecture", `the plain-JS decoder does not run ${config.family}'s Gated DeltaNet layers`, { hint: "use the default ONNX backend" });
    return new JsDecoder(config, weights);
  }
  const { backend: _ignored, ...runtime } = opts;
  const model = await createInferenceModel(config, weights, runtime);
  const V = config.vocabSize;
  return {
    config,
    maxContext: config.maxPositionEmbeddings,
    async start(rows) {
      let { logits, cache } = await model.prefill(rows);
      let live: KvCache | undefined = cache;
      const batch: DecoderBatch = {
        get length() {
          return live?.length ?? 0;
        },
        async next(tokens) {
          if (!live) throw new Error("decoder batch already released");
          ({ logits, cache } = await model.decode(live, tokens));
          live = cache;
          return rowsOf(logits, rows.length, V);
        },
        release() {
          live = undefined;
        },
      };
      return { logits: rowsOf(logits, rows.length, V), batch };
    },
    dispose: () => model.dispose(),
  };
}
