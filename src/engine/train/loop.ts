/**
 * The training loop: micro-batches -> summed loss and gradients (engine) -> accumulate over
 * `gradAccum` micro-batches -> divide by the assistant-token total -> clip -> AdamW at the scheduled
 * learning rate. Held-out loss every `evalEvery` steps and at the end, early stopping on it, and a
 * checkpoint at step boundaries. Everything random comes from the seed and is saved in the checkpoint,
 * so a resumed run produces the same bits as an uninterrupted one.
 */
import type { BaseBits } from "../quant/base.js";
import { TunekitError } from "../../util/errors.js";
import { AdamW } from "./adamw.js";
import { epochBatches, evalBatches, type StepBatch, type TokenizedExample } from "./batches.js";
import type { Checkpoint, LoopState } from "./checkpoint.js";
import type { LoraSpec, TrainStepEngine } from "./engine.js";
import { gradClip, GradAccumulator } from "./grads.js";
import { initLoraParams } from "./lora-init.js";
import { Rng } from "./rng.js";
import { learningRateAt, warmupSteps, type ScheduleKind } from "./schedule.js";

export interface TrainOptions {
  /** Epochs to train (ignored when maxSteps is set). */
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  gradAccum: number;
  maxSeqLen: number;
  lr: number;
  /** Steps (>= 1) or a fraction of all steps (< 1). */
  warmup: number;
  schedule: ScheduleKind;
  weightDecay: number;
  /** 0 turns clipping off. */
  maxGradNorm: number;
  lora: LoraSpec;
  seed: number;
  packing: boolean;
  /** Held-out loss (and a checkpoint) every N optimizer steps (0: only at the end; < 0: about 10 per run). */
  evalEvery: number;
  /** Stop after this many evaluations without a better held-out loss (0: never). */
  patience: number;
  /** Checkpoint every N optimizer steps only (0: only at evals and the end; < 0: with the evals). Early stops and Ctrl-C always checkpoint. */
  saveEvery: number;
  /** ONNX Runtime intra-op threads (default: ORT's choice, one per physical core). */
  threads?: number;
  /** Keep only each layer's input and recompute the layer in the backward pass (less memory, more time). */
  gradientCheckpointing?: boolean;
  /** Keep the frozen base's linear weights in 4 or 8 bits (QLoRA; quant/base.ts); absent: float32. */
  baseBits?: BaseBits;
}

export type TrainEvent =
  | { type: "start"; totalSteps: number; epochs: number; trainExamples: number; heldOutExamples: number; params: number; resumedFromStep: number | null }
  | { type: "step"; step: number; totalSteps: number; epoch: number; loss: number; lr: number; gradNorm: number; tokens: number; tokensPerSecond: number; elapsedSeconds: number; etaSeconds: number }
  | { type: "eval"; step: number; heldOutLoss: number; trainLoss: number | null; gap: number | null; best: boolean }
  | { type: "checkpoint"; step: number; path: string }
  | { type: "done"; reason: "completed" | "early_stopped" | "interrupted"; step: number; trainLoss: number | null; heldOutLoss: number | null; bestHeldOutLoss: number | null; bestStep: number | null; adapterStep: number; tokensSeen: number; seconds: number };

export interface LoopIO {
  onEvent(e: TrainEvent): void;
  /** Persists a checkpoint (atomically); returns where. */
  saveCheckpoint(ck: Checkpoint): Promise<string>;
  /** Polled after every optimizer step (Ctrl-C). */
  shouldStop?(): boolean;
}

export interface LoopResult {
  /** The weights to export (the best held-out ones when early stopping was asked for). */
  params: Map<string, Float32Array>;
  final: Extract<TrainEvent, { type: "done" }>;
}

/** Optimizer steps of each epoch, given its micro-batch count. */
function stepsIn(microBatches: number, gradAccum: number): number {
  return Math.ceil(microBatches / gradAccum);
}

export function planTotalSteps(train: TokenizedExample[], o: TrainOptions): number {
  if (o.maxSteps !== undefined) return o.maxSteps;
  let total = 0;
  for (let e = 0; e < o.epochs; e++) total += stepsIn(epochBatches(train, e, batchPlan(o)).length, o.gradAccum);
  return total;
}

function batchPlan(o: TrainOptions) {
  return { batchSize: o.batchSize, maxSeqLen: o.maxSeqLen, packing: o.packing, seed: o.seed };
}

function copyParams(m: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
}

export async function heldOutLoss(engine: TrainStepEngine, examples: TokenizedExample[], params: Map<string, Float32Array>, batchSize: number): Promise<number> {
  let sum = 0;
  let tokens = 0;
  for (const b of evalBatches(examples, batchSize)) {
    if (b.tokenCount === 0) continue;
    const r = await engine.evalLoss(b, params);
    sum += r.lossSum;
    tokens += r.tokenCount;
  }
  return tokens > 0 ? sum / tokens : Number.NaN;
}

export async function trainLoop(
  engine: TrainStepEngine,
  train: TokenizedExample[],
  heldOut: TokenizedExample[],
  o: TrainOptions,
  io: LoopIO,
  resume?: Checkpoint,
): Promise<LoopResult> {
  const totalSteps = planTotalSteps(train, o);
  const warm = warmupSteps(o.warmup, totalSteps);
  // Negative cadences mean "auto": about ten evals (and checkpoints) per run.
  const evalEvery = o.evalEvery < 0 ? Math.max(1, Math.ceil(totalSteps / 10)) : o.evalEvery;
  const saveEvery = o.saveEvery < 0 ? evalEvery : o.saveEvery;
  const optimizer = new AdamW({ weightDecay: o.weightDecay });
  let params: Map<string, Float32Array>;
  let bestParams: Map<string, Float32Array> | undefined;
  let state: LoopState;
  if (resume) {
    params = resume.params;
    optimizer.load(resume.optimizer);
    bestParams = resume.bestParams;
    state = { ...resume.state };
  } else {
    params = initLoraParams(engine.paramShapes, new Rng(o.seed));
    state = {
      step: 0,
      epoch: 0,
      microIndex: 0,
      dropoutRng: new Rng((o.seed + 0x5bd1e995) >>> 0).state(),
      bestEvalLoss: null,
      bestStep: null,
      evalsWithoutImprovement: 0,
      lastEvalLoss: null,
      recentLossSum: 0,
      recentTokens: 0,
      tokensSeen: 0,
      trainSeconds: 0,
    };
  }
  const dropoutRng = new Rng(state.dropoutRng);
  const paramCount = engine.paramShapes.reduce((s, p) => s + p.shape[0] * p.shape[1], 0);
  io.onEvent({
    type: "start",
    totalSteps,
    epochs: o.maxSteps !== undefined ? Math.ceil(totalSteps / Math.max(1, stepsIn(epochBatches(train, 0, batchPlan(o)).length, o.gradAccum))) : o.epochs,
    trainExamples: train.length,
    heldOutExamples: heldOut.length,
    params: paramCount,
    resumedFromStep: resume ? state.step : null,
  });

  const checkpoint = async () => {
    state.dropoutRng = dropoutRng.state();
    const path = await io.saveCheckpoint({ state: { ...state }, params, optimizer: optimizer.state(), bestParams });
    io.onEvent({ type: "checkpoint", step: state.step, path });
  };

  const evaluate = async () => {
    if (heldOut.length === 0) return;
    const loss = await heldOutLoss(engine, heldOut, params, o.batchSize);
    const trainLoss = state.recentTokens > 0 ? state.recentLossSum / state.recentTokens : null;
    const best = state.bestEvalLoss === null || loss < state.bestEvalLoss;
    if (best) {
      state.bestEvalLoss = loss;
      state.bestStep = state.step;
      state.evalsWithoutImprovement = 0;
      if (o.patience > 0) bestParams = copyParams(params);
    } else {
      state.evalsWithoutImprovement++;
    }
    state.lastEvalLoss = loss;
    io.onEvent({ type: "eval", step: state.step, heldOutLoss: loss, trainLoss, gap: trainLoss === null ? null : loss - trainLoss, best });
    state.recentLossSum = 0;
    state.recentTokens = 0;
  };

  const acc = new GradAccumulator();
  let lastTrainLoss: number | null = null;
  let reason: "completed" | "early_stopped" | "interrupted" = "completed";
  const runStart = Date.now() - state.trainSeconds * 1000;
  let batches: StepBatch[] = epochBatches(train, state.epoch, batchPlan(o));
  let evaluatedAtStep = -1;
  let lastSavedStep = resume ? resume.state.step : 0;

  while (state.step < totalSteps) {
    // Gather one optimizer step's micro-batches (fewer at the end of an epoch).
    if (state.microIndex >= batches.length) {
      state.epoch++;
      state.microIndex = 0;
      batches = epochBatches(train, state.epoch, batchPlan(o));
    }
    const end = Math.min(batches.length, state.microIndex + o.gradAccum);
    let real = 0;
    for (let i = state.microIndex; i < end; i++) {
      const b = batches[i];
      real += b.realTokens;
      if (b.tokenCount === 0) continue;
      const seed = (o.lora.dropout ?? 0) > 0 ? dropoutRng.nextUint32() : undefined;
      const r = await engine.run(b, params, seed === undefined ? undefined : { dropoutSeed: seed });
      acc.add(r.grads, r.lossSum, r.tokenCount);
    }
    // Dividing by the token count and clipping happen in AdamW's pass over the gradients.
    const { grads, divisor, loss, tokens } = acc.takeSums();
    const { norm: gradNorm, clip } = gradClip(grads, divisor, o.maxGradNorm);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      const lr = learningRateAt(state.step, { kind: o.schedule, peakLr: o.lr, warmupSteps: warm, totalSteps });
      throw new TunekitError(
        "diverged",
        `training diverged at step ${state.step + 1}: the ${Number.isFinite(loss) ? "gradient norm" : "loss"} is ${Number.isFinite(loss) ? gradNorm : loss} (learning rate ${lr.toExponential(2)})`,
        {
          hint: `start again with a lower --lr (now ${o.lr}) and with --max-grad-norm on; the checkpoint of step ${lastSavedStep} (before the divergence) is kept in the run folder`,
          exitCode: 1,
        },
      );
    }
    const lr = learningRateAt(state.step, { kind: o.schedule, peakLr: o.lr, warmupSteps: warm, totalSteps });
    optimizer.update(params, grads, lr, { gradDivisor: divisor, clip });
    state.step++;
    state.microIndex = end;
    state.tokensSeen += real;
    state.recentLossSum += loss * tokens;
    state.recentTokens += tokens;
    lastTrainLoss = loss;
    const elapsed = (Date.now() - runStart) / 1000;
    state.trainSeconds = elapsed;
    const stepsThisRun = state.step - (resume ? resume.state.step : 0);
    const secondsThisRun = elapsed - (resume ? resume.state.trainSeconds : 0);
    io.onEvent({
      type: "step",
      step: state.step,
      totalSteps,
      epoch: state.epoch + state.microIndex / Math.max(1, batches.length),
      loss,
      lr,
      gradNorm,
      tokens: real,
      tokensPerSecond: state.tokensSeen / Math.max(1e-9, elapsed),
      elapsedSeconds: elapsed,
      etaSeconds: stepsThisRun > 0 ? ((totalSteps - state.step) * secondsThisRun) / stepsThisRun : Number.NaN,
    });

    let saved = false;
    if (evalEvery > 0 && state.step % evalEvery === 0 && state.step < totalSteps) {
      await evaluate();
      evaluatedAtStep = state.step;
      if (o.patience > 0 && state.evalsWithoutImprovement >= o.patience) reason = "early_stopped";
      // An explicit --save-every is the checkpoint cadence; otherwise checkpoints go with the evals.
      if (o.saveEvery <= 0) {
        await checkpoint();
        lastSavedStep = state.step;
        saved = true;
      }
    }
    if (reason === "early_stopped") break;
    if (io.shouldStop?.()) {
      reason = "interrupted";
      if (!saved) {
        await checkpoint();
        lastSavedStep = state.step;
      }
      break;
    }
    if (!saved && saveEvery > 0 && state.step % saveEvery === 0 && state.step < totalSteps) {
      await checkpoint();
      lastSavedStep = state.step;
    }
  }
  if (reason === "completed" && evaluatedAtStep !== state.step) await evaluate();
  if (reason !== "interrupted") {
    await checkpoint();
    lastSavedStep = state.step;
  }
  const useBest = o.patience > 0 && bestParams !== undefined;
  const final: Extract<TrainEvent, { type: "done" }> = {
    type: "done",
    reason,
    step: state.step,
    trainLoss: lastTrainLoss,
    heldOutLoss: state.lastEvalLoss,
    bestHeldOutLoss: state.bestEvalLoss,
    bestStep: state.bestStep,
    adapterStep: useBest ? (state.bestStep ?? state.step) : state.step,
    tokensSeen: state.tokensSeen,
    seconds: state.trainSeconds,
  };
  return { params: useBest ? bestParams! : params, final };
}
