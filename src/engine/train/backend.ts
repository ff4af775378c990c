/**
 * What train-run.ts needs from the rest of tunekit, in one place: the model loader, the tokenizer with
 * its chat template and assistant masks, the ONNX training-step engine, and the leak-free split.
 * Tests can pass their own backend (e.g. a tiny model built in memory).
 */
import type { BaseBits } from "../quant/base.js";
import type { SourcedExample } from "../../dataset/types.js";
import { loadModel } from "../io/model.js";
import type { CodeFile } from "../quant/code-file.js";
import type { ModelConfig, Tensor } from "../types.js";
import type { LoraSpec, TrainStepEngine } from "./engine.js";
import type { ExampleTokenizer } from "./prepare.js";

/** How the engine runs (not what it computes): threads and activation recomputation. */
export interface EngineChoices {
  threads?: number;
  gradientCheckpointing?: boolean;
  /** Causal query blocks in attention (EngineOptions.blockCausal; default 2). */
  blockCausal?: number;
  /** Drop the quantized codes from `weights` once the sessions hold them (EngineOptions.handOverQuantizedCodes). */
  handOverQuantizedCodes?: { evalLoss: boolean };
}

export interface TrainBackend {
  /** The model; `notes` say what was left out of it (e.g. a multimodal checkpoint's vision tower). */
  /**
   * `baseBits`: the linear weights quantized as they load, with the W^T copy training needs; their codes
   * go to a code file under `codeFolder` when there is room (removed by the caller: `codeFile`).
   */
  loadModel(model: string, options?: { baseBits?: BaseBits; codeFolder?: string }): Promise<{ dir: string; config: ModelConfig; weights: Map<string, Tensor>; notes?: string[]; codeFile?: CodeFile }>;
  /** `now`: the date templates see (the run's start, so a resumed run tokenizes as the first did). */
  tokenizerFor(modelDir: string, options?: { now?: Date }): Promise<{ tokenize: ExampleTokenizer; template: { name: string; plain: boolean } }>;
  createEngine(config: ModelConfig, weights: Map<string, Tensor>, spec: LoraSpec, options?: EngineChoices): Promise<TrainStepEngine>;
  /** Leak-free split of `file` (its split files may be kept in `outDir`). */
  split(file: string, fraction: number, seed: number, outDir: string): Promise<{ train: SourcedExample[]; test: SourcedExample[] }>;
}

export function defaultBackend(): TrainBackend {
  return {
    loadModel: (model, options) => loadModel(model, options?.baseBits ? { baseBits: options.baseBits, quantizeTransposed: true, ...(options.codeFolder ? { codeFolder: options.codeFolder } : {}) } : {}),
    tokenizerFor: async (dir, options) => (await import("./wiring.js")).trainingTokenizer(dir, options),
    createEngine: async (config, weights, spec, options) => (await import("./onnx-engine.js")).createOnnxTrainEngine(config, weights, spec, options),
    split: async (file, fraction, seed, outDir) => (await import("./wiring.js")).leakFreeSplit(file, fraction, seed, outDir),
  };
}
