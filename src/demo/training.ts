/** The demo's LoRA training runs (behaviour, then facts), with the same options, summarised. */
import { join } from "node:path";
import { DEFAULT_TRAIN_OPTIONS } from "../engine/train/defaults.js";
import { train, type TrainResult, type TrainRunEvent } from "../engine/train/train-run.js";
import type { DemoContext } from "./context.js";
import type { DemoSettings } from "./settings.js";
import type { TrainSummary } from "./types.js";

function trainOptions(s: DemoSettings) {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    epochs: s.epochs,
    ...(s.maxSteps !== undefined ? { maxSteps: s.maxSteps } : {}),
    batchSize: s.batchSize,
    lr: s.lr,
    maxSeqLen: s.maxSeqLen,
    warmup: 0.1,
    seed: s.seed,
    lora: { ...DEFAULT_TRAIN_OPTIONS.lora, r: s.loraR, alpha: 2 * s.loraR },
  };
}

function summarizeTraining(runDir: string, examples: number, events: TrainRunEvent[], seconds: number): TrainSummary {
  const steps = events.filter((e): e is Extract<TrainRunEvent, { type: "step" }> => e.type === "step");
  const evals = events.filter((e): e is Extract<TrainRunEvent, { type: "eval" }> => e.type === "eval");
  return {
    runDir,
    steps: steps.length,
    examples,
    firstLoss: steps[0]?.loss ?? null,
    lastLoss: steps.at(-1)?.loss ?? null,
    heldOutLoss: evals.at(-1)?.heldOutLoss ?? null,
    seconds,
  };
}

/** Trains a LoRA adapter on `data` into runs/<outName>, reporting steps as progress. */
export async function runTraining(
  ctx: DemoContext,
  data: string,
  outName: string,
  validationFile: string | undefined,
  examples: number,
): Promise<{ result: TrainResult; summary: TrainSummary }> {
  const events: TrainRunEvent[] = [];
  const started = Date.now();
  const runDir = join(ctx.outDir, "runs", outName);
  const r = await train(
    { data, model: ctx.modelDir, outDir: runDir, ...(validationFile ? { validation: validationFile } : {}), options: trainOptions(ctx.settings) },
    {
      onEvent: (e) => {
        events.push(e);
        if (e.type === "step") ctx.options.onProgress?.(e.step, e.totalSteps, `loss ${e.loss.toFixed(3)}`);
      },
    },
  );
  return { result: r, summary: summarizeTraining(runDir, examples, events, (Date.now() - started) / 1000) };
}
