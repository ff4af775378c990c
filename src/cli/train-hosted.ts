/**
 * `tunekit train DATA --provider openai|together --model M ...`: hosted fine-tuning. The
 * `train` command dispatches here when --provider is given and is not "local".
 *
 * Order of work, so nothing is paid for by mistake: parameters checked against the provider's ranges ->
 * dataset validated locally (refused on errors) -> billed tokens and cost estimated -> confirmation
 * (a prompt on a terminal; without a terminal --yes is required, and a missing --yes refuses with
 * exit 2) -> job recorded in the store -> upload (skipped when the same bytes were uploaded before)
 * -> job created -> followed to the end (Ctrl-C stops following; `tunekit jobs watch ID` resumes).
 */
import { createInterface } from "node:readline";
import { bool, printJson, str, usageError, type CommandContext } from "./command.js";
import { followPrinter, jobExitCode, pollIntervalMs, printJobSummary } from "./hosted-output.js";
import { TunekitError, EXIT } from "../util/errors.js";
import { openStore } from "../store/store.js";
import { createHostedTrainer, HOSTED_PROVIDERS } from "../providers/registry.js";
import { startHostedJob } from "../providers/run.js";
import { followJob } from "../providers/follow.js";
import { preflightHostedData, type Preflight } from "../providers/preflight.js";
import type { HyperparameterValue, TrainerError, TrainParams } from "../providers/types.js";

/** Options of `tunekit train` that only the local engine understands. */
const LOCAL_ONLY_OPTIONS = [
  "output",
  "resume",
  "test-split",
  "max-steps",
  "grad-accum",
  "max-seq-len",
  "warmup",
  "schedule",
  "weight-decay",
  "max-grad-norm",
  "rslora",
  "packing",
  "eval-every",
  "save-every",
  "patience",
];

function hyper(ctx: CommandContext, option: string, integer: boolean): HyperparameterValue | undefined {
  const raw = str(ctx, option);
  if (raw === undefined) return undefined;
  if (raw.trim().toLowerCase() === "auto") return "auto";
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new TunekitError("usage", `--${option} must be ${integer ? "a positive integer" : "a positive number"} or "auto", got "${raw}"`, {
      hint: "run `tunekit train --help` for usage",
    });
  }
  return v;
}

/** Prints a provider error the way users need it; returns the exit code. */
export function reportTrainerError(ctx: CommandContext, error: TrainerError, json: boolean, jobId?: string): number {
  if (json) {
    printJson(ctx, { type: "error", ...(jobId ? { job: jobId } : {}), error }, true);
  }
  const c = ctx.errColor;
  ctx.err(`${c.red("error")}${c.dim(`[${error.code}]`)} ${error.message}`);
  if (error.code === "auth") ctx.err(`  ${c.dim("hint:")} the key is read only from the environment; it is never stored`);
  if (error.code === "rate_limit" || error.code === "server" || error.code === "connection") {
    ctx.err(`  ${c.dim("hint:")} this is temporary; try again later${jobId ? ` (\`tunekit jobs watch ${jobId}\` resumes following)` : ""}`);
  }
  return EXIT.usage;
}

function printEstimate(ctx: CommandContext, pre: Preflight, provider: string): void {
  const c = ctx.errColor;
  const e = pre.estimate;
  const t = pre.training;
  ctx.err(`${c.bold(t.file)}: ${t.examples.toLocaleString("en-US")} examples, ${t.tokens.toLocaleString("en-US")} tokens${t.exactTokens ? "" : " (approximate: o200k_base)"}`);
  if (t.overLimit > 0) ctx.err(c.yellow(`  ${t.overLimit} example(s) exceed the model's ${t.tokenLimit?.toLocaleString("en-US")}-token limit and will be truncated`));
  if (pre.validation) ctx.err(`${c.bold(pre.validation.file)}: ${pre.validation.examples.toLocaleString("en-US")} validation examples`);
  for (const w of t.report.warnings.slice(0, 5)) ctx.err(c.yellow(`  warning ${t.file}${w.line > 0 ? `:${w.line}` : ""}: ${w.message}`));
  if (t.report.warningCount > 5) ctx.err(c.yellow(`  ... ${t.report.warningCount - 5} more warnings (run \`tunekit validate ${t.file}\`)`));
  const cost = e.cost !== undefined ? `about $${e.cost.toFixed(2)} at $${e.pricePerMTok}/1M tokens (prices as of ${e.pricesAsOf})` : `cost unknown for this model at ${provider}`;
  ctx.err(`estimate: ${e.epochs} epoch(s) x ${e.datasetTokens.toLocaleString("en-US")} tokens = ${c.bold(e.billedTokens.toLocaleString("en-US"))} billed tokens, ${cost}`);
}

async function confirm(ctx: CommandContext, question: string): Promise<boolean> {
  const stdin = ctx.io.stdin;
  if (!stdin) return false;
  const rl = createInterface({ input: stdin, output: ctx.io.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      rl.once("close", () => resolve(""));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function runHostedTrain(ctx: CommandContext): Promise<number> {
  const provider = str(ctx, "provider")!;
  const json = bool(ctx, "json");
  const data = ctx.positionals[0];
  const model = str(ctx, "model");
  if (!(HOSTED_PROVIDERS as readonly string[]).includes(provider)) {
    throw new TunekitError("unknown_provider", `unknown provider "${provider}"`, { hint: `use one of: local, ${HOSTED_PROVIDERS.join(", ")}` });
  }
  if (!data) throw usageError(undefined, "missing argument: DATA");
  if (!model) {
    throw new TunekitError("usage", `--model is required with --provider ${provider}`, {
      hint: provider === "openai" ? "e.g. --model gpt-4o-mini-2024-07-18" : "e.g. --model meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    });
  }
  // Options of the local engine that no hosted API takes: refuse them rather than ignore them.
  for (const option of LOCAL_ONLY_OPTIONS) {
    const v = ctx.values[option];
    if (v !== undefined && v !== false) {
      throw new TunekitError("usage", `--${option} applies to local training only, not to --provider ${provider}`, { hint: "run `tunekit train --help` for the options hosted training takes" });
    }
  }
  const env = ctx.io.env;
  const trainer = await createHostedTrainer(provider, { env, pollMs: Math.min(2000, pollIntervalMs(env)) });
  const seedRaw = str(ctx, "seed");
  const seed = seedRaw === undefined ? undefined : Number(seedRaw);
  if (seedRaw !== undefined && (!Number.isInteger(seed) || seed! < 0)) throw new TunekitError("usage", `--seed must be a non-negative integer, got "${seedRaw}"`);
  const hyperparameters: TrainParams["hyperparameters"] = {};
  const epochs = hyper(ctx, "epochs", true);
  const batch = hyper(ctx, "batch-size", true);
  const lr = hyper(ctx, "lr-multiplier", false);
  if (epochs !== undefined) hyperparameters.n_epochs = epochs;
  if (batch !== undefined) hyperparameters.batch_size = batch;
  if (lr !== undefined) hyperparameters.learning_rate_multiplier = lr;
  const lrRaw = str(ctx, "lr");
  if (lrRaw !== undefined) {
    const v = Number(lrRaw);
    if (!(v > 0) || !Number.isFinite(v)) throw new TunekitError("usage", `--lr must be a positive number, got "${lrRaw}"`);
    hyperparameters.learning_rate = v;
  }
  const suffix = str(ctx, "suffix");
  const lora: NonNullable<TrainParams["lora"]> = {};
  const loraNum = (option: string) => {
    const raw = str(ctx, option);
    if (raw === undefined) return undefined;
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v)) throw new TunekitError("usage", `--${option} must be a number, got "${raw}"`);
    return v;
  };
  const r = loraNum("lora-r");
  const alpha = loraNum("lora-alpha");
  const dropout = loraNum("lora-dropout");
  const targets = str(ctx, "lora-targets");
  if (r !== undefined) lora.r = r;
  if (alpha !== undefined) lora.alpha = alpha;
  if (dropout !== undefined) lora.dropout = dropout;
  if (targets !== undefined) lora.modules = targets === "all-linear" ? targets : targets.split(",").map((t) => t.trim()).filter(Boolean).join(",");
  const params: TrainParams = {
    model,
    hyperparameters,
    ...(suffix !== undefined ? { suffix } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(Object.keys(lora).length > 0 ? { lora } : {}),
  };

  // 1. Parameters, before anything else.
  const checked = trainer.validateParams(params);
  if (!checked.ok) {
    const flags: Record<string, string> = {
      n_epochs: "--epochs",
      batch_size: "--batch-size",
      learning_rate_multiplier: "--lr-multiplier",
      learning_rate: "--lr",
      lora: "--lora-*",
      "lora.r": "--lora-r",
      "lora.alpha": "--lora-alpha",
      "lora.dropout": "--lora-dropout",
    };
    const param = checked.error.param ?? "";
    const flag = flags[param] ?? `--${param}`;
    const hint =
      param === "learning_rate" && trainer.capabilities.hyperparameters.learning_rate_multiplier
        ? `${provider} takes a learning-rate multiplier: use --lr-multiplier X`
        : param === "learning_rate_multiplier" && trainer.capabilities.hyperparameters.learning_rate
          ? `${provider} takes an absolute learning rate: use --lr X`
          : "run `tunekit train --help` for the accepted ranges";
    throw new TunekitError("invalid_params", `${flag}: ${checked.error.message}`, { hint });
  }

  // 2. Local validation and the estimate.
  const validationFile = str(ctx, "validation");
  const pre = await preflightHostedData({
    trainingFile: data,
    ...(validationFile ? { validationFile } : {}),
    model,
    ...(typeof epochs === "number" ? { epochs } : trainer.capabilities.autoEpochs !== undefined ? { epochs: trainer.capabilities.autoEpochs } : {}),
    ...(trainer.capabilities.minExamples !== undefined ? { minExamples: trainer.capabilities.minExamples } : {}),
  });
  for (const check of [pre.training, pre.validation]) {
    if (!check) continue;
    for (const e of check.report.errors.slice(0, 10)) ctx.err(`${ctx.errColor.red("error")} ${check.file}:${e.line}: ${e.message}`);
  }
  if (pre.blocking.length > 0) {
    if (json) printJson(ctx, { type: "refused", reasons: pre.blocking }, true);
    for (const b of pre.blocking) ctx.err(`${ctx.errColor.red("refused")}: ${b}`);
    ctx.err("Nothing was uploaded. Fix the file (see `tunekit validate`) and run again.");
    return EXIT.inputErrors;
  }
  if (json) printJson(ctx, { type: "estimate", provider, ...pre.estimate, model, tokens: pre.training.tokens, exactTokens: pre.training.exactTokens }, true);
  else printEstimate(ctx, pre, provider);

  // 3. Confirmation.
  if (!bool(ctx, "yes")) {
    const interactive = ctx.io.stdin?.isTTY === true && ctx.io.stderr.isTTY === true;
    if (!interactive) {
      throw new TunekitError("confirmation_required", "hosted training costs money and needs confirmation, but there is no terminal to ask on", {
        hint: "pass --yes to start the job without a prompt",
      });
    }
    if (!(await confirm(ctx, `Start the ${provider} fine-tuning job? [y/N] `))) {
      ctx.err("Not started; nothing was uploaded.");
      return EXIT.ok;
    }
  }

  // 4. Store, upload, create.
  const store = openStore({ env });
  try {
    const started = await startHostedJob(trainer, store, { trainingFile: data, ...(validationFile ? { validationFile } : {}) }, params, {
      onProgress: (stage, file) => {
        if (json) return;
        if (stage === "uploading") ctx.err(`uploading ${file}`);
        else if (stage === "reused") ctx.err(`${file} was uploaded before (same sha256): reusing it`);
      },
    });
    if (!started.ok) return reportTrainerError(ctx, started.error, json, started.job?.id);
    const job = started.job;
    if (json) printJson(ctx, { type: "started", job: job.id, remoteId: job.remoteId, provider, trainingFile: job.trainingFileId, reusedUpload: started.prepared.training.reused }, true);
    else ctx.err(`started job ${ctx.errColor.bold(job.id)} (${provider} ${job.remoteId}); Ctrl-C stops watching, \`tunekit jobs watch ${job.id}\` resumes`);
    return await watchUntilDone(ctx, store, trainer, job.id, json);
  } finally {
    store.close();
  }
}

/** Follows a stored job to its end with the CLI display; used by train and `jobs watch`. */
export async function watchUntilDone(
  ctx: CommandContext,
  store: ReturnType<typeof openStore>,
  trainer: Awaited<ReturnType<typeof createHostedTrainer>>,
  jobId: string,
  json: boolean,
): Promise<number> {
  const printer = followPrinter(ctx, json);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    const out = await followJob(trainer, store, jobId, { pollMs: pollIntervalMs(ctx.io.env), onUpdate: printer.onUpdate, signal: abort.signal });
    printer.finish();
    if (!out.ok) {
      if (out.error.code === "aborted") {
        ctx.err(`stopped watching; the job keeps running. Resume with \`tunekit jobs watch ${jobId}\``);
        return 130;
      }
      return reportTrainerError(ctx, out.error, json, jobId);
    }
    if (!json) printJobSummary(ctx, store, out.job);
    return jobExitCode(out.job);
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
}
