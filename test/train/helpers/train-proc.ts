/**
 * A training process for the kill-and-resume test: `node --import tsx train-proc.ts start DATA MODEL OUT`
 * or `... resume OUT`. Uses the tiny test backend (real ONNX engine, char tokenizer).
 */
import { DEFAULT_TRAIN_OPTIONS } from "../../../src/engine/train/defaults.js";
import { resumeTraining, train } from "../../../src/engine/train/train-run.js";
import { tinyBackend } from "./tiny.js";

export const procOptions = { ...DEFAULT_TRAIN_OPTIONS, epochs: 20, batchSize: 4, lr: 5e-3, warmup: 5, evalEvery: 25, saveEvery: 3, lora: { ...DEFAULT_TRAIN_OPTIONS.lora, r: 4, dropout: 0.1 } };

const [mode, a, b, c] = process.argv.slice(2) as (string | undefined)[] as string[];
if (mode === "start") {
  await train({ data: a, model: b, outDir: c, testSplit: 0.2, options: procOptions }, {}, tinyBackend());
} else if (mode === "resume") {
  await resumeTraining(a, {}, tinyBackend());
}
