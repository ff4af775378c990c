/**
 * `tunekit train DATA --model DIR|ID -o RUN_DIR [options]`: LoRA fine-tuning on this machine, or on a
 * hosted provider with --provider. The command parses options and shows progress; the work is
 * train()/resumeTraining() in src/engine/train/train-run.ts.
 */
import { bool, num, str, usageError, type Command, type CommandContext } from "../command.js";
import { createProgress, createStatusLine } from "../progress.js";
import { shownPath } from "../io.js";
import { isTunekitError, TunekitError } from "../../util/errors.js";
import type { LoraSpec } from "../../engine/train/engine.js";
import { FAMILIES } from "../../engine/models/families/index.js";
import { DEFAULT_TRAIN_OPTIONS } from "../../engine/train/defaults.js";
import type { TrainOptions } from "../../engine/train/loop.js";
import type { TrainRunEvent } from "../../engine/train/train-run.js";
import { baseBitsField } from "../../engine/quant/base.js";

const d = DEFAULT_TRAIN_OPTIONS;

/**
 * "all-linear", or a comma list of targets. A name no model family knows is a usage error here; the
 * model's own family checks the rest when it loads.
 */
export function parseTargets(raw: string): LoraSpec["targets"] {
  if (raw === "all-linear" || raw === "all") return "all-linear";
  const known = [...new Set(FAMILIES.flatMap((f) => f.loraTargets.map((m) => m.target)))];
  const out: string[] = [];
  for (const part of raw.split(",").map((s) => s.trim().replace(/_proj$/, "")).filter(Boolean)) {
    if (!known.includes(part)) {
      throw new TunekitError("usage", `--lora-targets: unknown target "${part}"`, { hint: `use a comma list of ${known.join(",")} or all-linear` });
    }
    if (!out.includes(part)) out.push(part);
  }
  if (out.length === 0) throw new TunekitError("usage", "--lora-targets is empty", { hint: "e.g. q,v or all-linear" });
  return out;
}

/** Reads a numeric option that hosted providers also accept as "auto" (auto = the local default). */
function numOrAuto(ctx: CommandContext, name: string, o: { integer?: boolean; min?: number; max?: number }): number | undefined {
  if (str(ctx, name) === "auto") return undefined;
  return num(ctx, cmd, name, o);
}

function optionsFrom(ctx: CommandContext): TrainOptions {
  const lora = {
    r: num(ctx, cmd, "lora-r", { integer: true, min: 1, max: 4096 }) ?? d.lora.r,
    alpha: num(ctx, cmd, "lora-alpha", { min: 0 }) ?? d.lora.alpha,
    dropout: num(ctx, cmd, "lora-dropout", { min: 0, max: 0.9 }) ?? d.lora.dropout,
    rslora: bool(ctx, "rslora"),
    targets: parseTargets(str(ctx, "lora-targets") ?? "all-linear"),
  };
  const schedule = str(ctx, "schedule") ?? d.schedule;
  if (!["cosine", "linear", "constant"].includes(schedule)) {
    throw new TunekitError("usage", `--schedule must be cosine, linear or constant, got "${schedule}"`, { hint: "run `tunekit train --help`" });
  }
  const threads = num(ctx, cmd, "threads", { integer: true, min: 1, max: 1024 });
  return {
    epochs: numOrAuto(ctx, "epochs", { min: 1, integer: true }) ?? d.epochs,
    maxSteps: num(ctx, cmd, "max-steps", { integer: true, min: 1 }),
    batchSize: numOrAuto(ctx, "batch-size", { integer: true, min: 1 }) ?? d.batchSize,
    gradAccum: num(ctx, cmd, "grad-accum", { integer: true, min: 1 }) ?? d.gradAccum,
    maxSeqLen: num(ctx, cmd, "max-seq-len", { integer: true, min: 2 }) ?? d.maxSeqLen,
    lr: num(ctx, cmd, "lr", { min: 0 }) ?? d.lr,
    warmup: num(ctx, cmd, "warmup", { min: 0 }) ?? d.warmup,
    schedule: schedule as TrainOptions["schedule"],
    weightDecay: num(ctx, cmd, "weight-decay", { min: 0 }) ?? d.weightDecay,
    maxGradNorm: num(ctx, cmd, "max-grad-norm", { min: 0 }) ?? d.maxGradNorm,
    lora,
    seed: num(ctx, cmd, "seed", { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? d.seed,
    packing: bool(ctx, "packing"),
    evalEvery: num(ctx, cmd, "eval-every", { integer: true, min: 0 }) ?? d.evalEvery,
    patience: num(ctx, cmd, "patience", { integer: true, min: 0 }) ?? d.patience,
    saveEvery: num(ctx, cmd, "save-every", { integer: true, min: 0 }) ?? d.saveEvery,
    ...(threads !== undefined ? { threads } : {}),
    ...(bool(ctx, "gradient-checkpointing") ? { gradientCheckpointing: true } : {}),
    // Only set when quantized, so run.json stays as before for the float32 base.
    ...baseBitsField(str(ctx, "base-bits")),
  };
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));

/** Where the local run is recorded (the job store); a store that cannot be opened is only a warning. */
async function openStoreOrWarn(ctx: CommandContext): Promise<import("../../store/store.js").Store | undefined> {
  try {
    const { openStore } = await import("../../store/store.js");
    return openStore({ env: ctx.io.env });
  } catch (e) {
    if (!bool(ctx, "json")) ctx.err(`${ctx.errColor.yellow("warning")} the run is not recorded in the job store: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * Local training through the same submission flow as hosted training (providers/submit.ts): the run is
 * recorded in the job store when it starts, followed into it while it trains, and its live events
 * drive the progress display.
 */
async function runLocal(ctx: CommandContext): Promise<number> {
  const json = bool(ctx, "json");
  const resumeDir = str(ctx, "resume");
  const [{ LocalTrainer }, { submitTraining, resumeLocalTraining }] = await Promise.all([import("../../providers/local/trainer.js"), import("../../providers/submit.js")]);
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130); // second Ctrl-C: leave now
    stopRequested = true;
    if (!json) ctx.err("\nstopping after this step (a checkpoint is written); press Ctrl-C again to quit at once");
  };
  process.on("SIGINT", onSigint);
  // The loop's tokens/s and ETA leave out the setup time before the first step: the bar shows those, not its own.
  const progress = createProgress(ctx.io, { label: "train", unit: "steps", showRate: false });
  const status = createStatusLine(ctx.io);
  let heldOut: number | null = null;
  let lastEvent: TrainRunEvent | undefined;
  const onEvent = (e: TrainRunEvent) => {
    lastEvent = e;
    if (json) {
      ctx.out(JSON.stringify(e));
      return;
    }
    switch (e.type) {
      case "start":
        status.clear();
        progress.setTotal(e.totalSteps);
        ctx.err(
          `${e.resumedFromStep !== null ? `resuming at step ${e.resumedFromStep}: ` : ""}training ${e.params.toLocaleString("en-US")} LoRA parameters for ${e.totalSteps} steps on ${e.trainExamples} examples` +
            (e.heldOutExamples > 0 ? ` (${e.heldOutExamples} held out)` : " (no held-out set: pass --validation FILE or --test-split 0.1 to watch overfitting)"),
        );
        progress.update(e.resumedFromStep ?? 0, "running the first step");
        break;
      case "step":
        progress.update(
          e.step,
          `epoch ${e.epoch.toFixed(2)} loss ${fmt(e.loss)} held-out ${fmt(heldOut)} ${Math.round(e.tokensPerSecond).toLocaleString("en-US")} tok/s`,
          e.etaSeconds,
        );
        break;
      case "eval":
        heldOut = e.heldOutLoss;
        progress.finish();
        ctx.err(`step ${e.step}: held-out loss ${fmt(e.heldOutLoss)}, train loss ${fmt(e.trainLoss)}, gap ${fmt(e.gap)}${e.best ? " (best)" : ""}`);
        break;
      case "warning":
        status.clear();
        progress.finish();
        ctx.err(`${ctx.errColor.yellow("warning")}${ctx.errColor.dim(`[${e.code}]`)} ${e.message}`);
        break;
      default:
        break;
    }
  };
  const options = resumeDir ? undefined : optionsFrom(ctx);
  const validation = str(ctx, "validation");
  const testSplit = num(ctx, cmd, "test-split", { min: 0, max: 0.9 });
  const trainer = new LocalTrainer({
    ...(options ? { outDir: str(ctx, "output")!, baseOptions: options } : {}),
    ...(testSplit !== undefined ? { testSplit } : {}),
    callbacks: { onEvent, ...(json ? {} : { onPhase: (text: string) => status.show(`train: ${text} ...`) }), shouldStop: () => stopRequested },
  });
  const store = await openStoreOrWarn(ctx);
  const follow = { pollMs: 2000 };
  let remoteId: string | undefined;
  try {
    if (resumeDir) {
      if (store) {
        const r = await resumeLocalTraining(trainer, store, resumeDir, { follow });
        if (!r.ok) throw trainer.lastStartError ?? new TunekitError(r.error.code, r.error.message);
        remoteId = r.job.remoteId;
      } else {
        const r = await trainer.resume(resumeDir);
        if (!r.ok) throw trainer.lastStartError ?? new TunekitError(r.error.code, r.error.message);
        remoteId = r.value.remoteId;
      }
    } else {
      const o = options!;
      const params = {
        model: str(ctx, "model")!,
        hyperparameters: { n_epochs: o.epochs, batch_size: o.batchSize, learning_rate: o.lr },
        seed: o.seed,
        lora: { r: o.lora.r, alpha: o.lora.alpha, dropout: o.lora.dropout, modules: typeof o.lora.targets === "string" ? o.lora.targets : o.lora.targets.join(",") },
      };
      const request = { trainingFile: ctx.positionals[0], ...(validation ? { validationFile: validation } : {}), params };
      if (store) {
        const out = await submitTraining(trainer, request, { store, confirm: () => true, follow });
        if (!out.ok) throw trainer.lastStartError ?? new TunekitError(out.error.code, out.error.message, out.error.code === "invalid_params" ? { hint: "run `tunekit train --help`" } : {});
        remoteId = out.job.remoteId;
      } else {
        const prepared = await trainer.prepare(request);
        if (!prepared.ok) throw new TunekitError(prepared.error.code, prepared.error.message);
        const started = await trainer.start(prepared.value, params);
        if (!started.ok) throw trainer.lastStartError ?? new TunekitError(started.error.code, started.error.message);
        remoteId = started.value.remoteId;
      }
    }
    // The engine's own result (or its own error, with its code, hint and exit code).
    const result = await trainer.finished(remoteId!);
    progress.finish();
    if (!json) {
      const dn = result.done;
      const what = dn.reason === "interrupted" ? "stopped" : dn.reason === "early_stopped" ? "stopped early (held-out loss stopped improving)" : "done";
      ctx.out(`${what} at step ${dn.step}: train loss ${fmt(dn.trainLoss)}, held-out loss ${fmt(dn.heldOutLoss)} (best ${fmt(dn.bestHeldOutLoss)} at step ${dn.bestStep ?? "-"})`);
      ctx.out(`adapter (step ${dn.adapterStep}): ${shownPath(result.adapterDir)}`);
      if (dn.reason === "interrupted") ctx.out(`continue with: tunekit train --resume ${shownPath(result.runDir)}`);
    }
    return result.done.reason === "interrupted" ? 130 : 0;
  } catch (e) {
    status.clear();
    progress.finish();
    if (json && lastEvent?.type !== "error") {
      const { trainErrorEvent } = await import("../../engine/train/train-run.js");
      ctx.out(JSON.stringify(trainErrorEvent(e)));
    }
    if (json && isTunekitError(e)) {
      ctx.err(`error[${e.code}] ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ""}`);
      return e.exitCode;
    }
    throw e;
  } finally {
    store?.close();
    process.off("SIGINT", onSigint);
  }
}

const cmd: Command = {
  name: "train",
  summary: "Fine-tune a model with LoRA on this machine (or on a hosted provider with --provider)",
  usage: "tunekit train DATA --model DIR|ID -o RUN_DIR [options]   |   tunekit train --resume RUN_DIR",
  details: [
    "Validates DATA first and refuses to start on errors. Loss is computed on assistant tokens only",
    "(weight 0 respected; each reply's end-of-turn token is trained). Checkpoints are atomic; Ctrl-C stops",
    "cleanly with a checkpoint; --resume continues bit-exactly. The run folder holds run.json (config,",
    "dataset sha256), metrics.jsonl, checkpoint.safetensors and adapter/ (PEFT).",
    "",
    `Defaults (for small models): ${d.epochs} epochs, batch ${d.batchSize}, lr ${d.lr}, cosine schedule with ${d.warmup * 100}% warmup,`,
    `LoRA r=${d.lora.r} alpha=${d.lora.alpha} on all linear layers, max grad norm ${d.maxGradNorm}, max-seq-len ${d.maxSeqLen}, seed ${d.seed},`,
    "held-out loss every ~10% of the steps (when a held-out set is given).",
    "--json prints one JSON event per line: start, step, eval, checkpoint, warning, done, error (docs/json.md).",
    "Exit codes: 0 done, 1 the data has errors or training diverged, 2 usage/I-O problem, 130 stopped by Ctrl-C.",
  ].join("\n"),
  options: {
    model: { type: "string", short: "m", valueName: "DIR|ID", description: "base model: a Hugging Face folder or hub id" },
    output: { type: "string", short: "o", valueName: "RUN_DIR", description: "run folder to create" },
    resume: { type: "string", valueName: "RUN_DIR", description: "continue an interrupted run exactly" },
    provider: { type: "string", valueName: "NAME", description: "local, or a hosted provider (together, fireworks, azure, openai)", default: "local" },
    validation: { type: "string", valueName: "FILE", description: "held-out data file" },
    "test-split": { type: "string", valueName: "FRAC", description: "hold out this fraction of DATA (leak-free)" },
    epochs: { type: "string", valueName: "N", description: `epochs (hosted: N or auto; default ${d.epochs})` },
    "max-steps": { type: "string", valueName: "N", description: "stop after N optimizer steps (overrides --epochs)" },
    "batch-size": { type: "string", valueName: "N", description: `examples (or packed windows) per micro-batch (hosted: N or auto; default ${d.batchSize})` },
    "grad-accum": { type: "string", valueName: "N", description: `micro-batches per optimizer step (default ${d.gradAccum})` },
    "max-seq-len": { type: "string", valueName: "N", description: `tokens per example/window; a full window trains N-1 positions (next-token targets), as Hugging Face's Trainer and TRL do (default ${d.maxSeqLen})` },
    lr: { type: "string", valueName: "X", description: `peak learning rate (default ${d.lr})` },
    warmup: { type: "string", valueName: "N|FRAC", description: `warmup steps, or a fraction of all steps when < 1 (default ${d.warmup})` },
    schedule: { type: "string", valueName: "KIND", description: `cosine, linear or constant (default ${d.schedule})` },
    "weight-decay": { type: "string", valueName: "X", description: `AdamW decoupled weight decay (default ${d.weightDecay})` },
    "max-grad-norm": { type: "string", valueName: "X", description: `clip the global gradient norm, 0 = off (default ${d.maxGradNorm})` },
    "lora-r": { type: "string", valueName: "N", description: `LoRA rank (default ${d.lora.r})` },
    "lora-alpha": { type: "string", valueName: "X", description: `LoRA alpha; scale = alpha/r (default ${d.lora.alpha})` },
    "lora-dropout": { type: "string", valueName: "P", description: `dropout on the LoRA input (default ${d.lora.dropout})` },
    "lora-targets": { type: "string", valueName: "LIST", description: "comma list of the model's targets (q,k,v,o,gate,up,down for every family today) or all-linear (default all-linear)" },
    rslora: { type: "boolean", description: "rank-stabilised LoRA: scale = alpha/sqrt(r)" },
    "base-bits": { type: "string", valueName: "4|8|32", description: "keep the frozen base's linear weights in 4 or 8 bits (QLoRA: less memory, faster steps; default 32 = float32)" },
    seed: { type: "string", valueName: "N", description: `seed for init, data order and dropout (default ${d.seed})` },
    packing: { type: "boolean", description: "pack several examples per window (no attention across them)" },
    "eval-every": { type: "string", valueName: "N", description: "held-out loss every N steps (default: ~10% of the steps)" },
    "save-every": { type: "string", valueName: "N", description: "checkpoint every N steps (default: at each eval)" },
    threads: { type: "string", valueName: "N", description: "CPU threads for ONNX Runtime (default: one per physical core)" },
    "gradient-checkpointing": { type: "boolean", description: "keep only each layer's input and recompute the layer in the backward pass: less memory (about 40% less on a 1B model), 20-40% more time per step" },
    patience: { type: "string", valueName: "N", description: "stop after N evals without a better held-out loss, keep the best adapter (default off)" },
    json: { type: "boolean", description: "print one JSON event per line" },
    yes: { type: "boolean", description: "hosted: skip the cost confirmation" },
    suffix: { type: "string", valueName: "S", description: "hosted: suffix of the fine-tuned model's name" },
    "lr-multiplier": { type: "string", valueName: "X|auto", description: "hosted (openai, azure): learning-rate multiplier" },
    "max-context-length": { type: "string", valueName: "N", description: "hosted (fireworks): longest example in tokens" },
  },
  positionals: { min: 0, max: 1, names: "DATA" },
  async run(ctx) {
    const provider = str(ctx, "provider") ?? "local";
    if (provider !== "local") {
      if (str(ctx, "base-bits") !== undefined) throw usageError(cmd, "--base-bits applies to local training only (a hosted provider trains on its own hardware)");
      // Hosted training lives with the providers; its module is loaded only when asked for.
      const { runHostedTrain } = await import("../train-hosted.js");
      return runHostedTrain(ctx);
    }
    for (const hostedOnly of ["suffix", "lr-multiplier", "max-context-length"]) {
      if (str(ctx, hostedOnly) !== undefined) throw usageError(cmd, `--${hostedOnly} applies to hosted providers only (--provider ...)`);
    }
    if (str(ctx, "resume") !== undefined) {
      if (ctx.positionals.length > 0) throw usageError(cmd, "--resume takes the run folder only; the data and options come from its run.json");
    } else {
      if (ctx.positionals.length === 0) throw usageError(cmd, "missing argument: DATA");
      if (!str(ctx, "model")) throw usageError(cmd, "--model is required (a model folder or hub id)");
      if (!str(ctx, "output")) throw usageError(cmd, "-o RUN_DIR is required (where the run's checkpoints and adapter go)");
      if (str(ctx, "validation") !== undefined && str(ctx, "test-split") !== undefined) throw usageError(cmd, "pass --validation or --test-split, not both");
    }
    return runLocal(ctx);
  },
};

export default cmd;
