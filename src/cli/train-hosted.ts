/**
 * `tunekit train DATA --provider openai|azure|together|fireworks --model M ...`: parses the options
 * into TrainParams, shows the library's quote and asks for confirmation, then shows the job being
 * followed. The order of work and every check live in the library (providers/submit.ts).
 */
import { createInterface } from "node:readline";
import { bool, printJson, str, usageError, type CommandContext } from "./command.js";
import { followPrinter, jobExitCode, pollIntervalMs, printJobSummary } from "./hosted-output.js";
import { TunekitError, EXIT } from "../util/errors.js";
import { openStore } from "../store/store.js";
import { providerInfo } from "../providers/catalog.js";
import { createHostedTrainer, HOSTED_PROVIDERS } from "../providers/registry.js";
import { quoteTraining, submitTraining, type Quote, type SubmitProgress } from "../providers/submit.js";
import { followJob } from "../providers/follow.js";
import type { HyperparameterValue, Trainer, TrainerError, TrainParams } from "../providers/types.js";

/** Options of `tunekit train` that only the local engine understands. */
const LOCAL_ONLY_OPTIONS = ["output", "resume", "test-split", "max-steps", "grad-accum", "max-seq-len", "warmup", "schedule", "weight-decay", "max-grad-norm", "rslora", "packing", "eval-every", "save-every", "patience"];

const FLAGS: Record<string, string> = {
  n_epochs: "--epochs",
  batch_size: "--batch-size",
  learning_rate_multiplier: "--lr-multiplier",
  learning_rate: "--lr",
  lora: "--lora-*",
  "lora.r": "--lora-r",
  "lora.alpha": "--lora-alpha",
  "lora.dropout": "--lora-dropout",
  maxContextLength: "--max-context-length",
  suffix: "--suffix",
  seed: "--seed",
};

function hyper(ctx: CommandContext, option: string, integer: boolean): HyperparameterValue | undefined {
  const raw = str(ctx, option);
  if (raw === undefined) return undefined;
  if (raw.trim().toLowerCase() === "auto") return "auto";
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new TunekitError("usage", `--${option} must be ${integer ? "a positive integer" : "a positive number"} or "auto", got "${raw}"`, { hint: "run `tunekit train --help` for usage" });
  }
  return v;
}

function number(ctx: CommandContext, option: string): number | undefined {
  const raw = str(ctx, option);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v)) throw new TunekitError("usage", `--${option} must be a number, got "${raw}"`);
  return v;
}

/** The command line as TrainParams (ranges are checked by the provider's capabilities). */
function paramsFrom(ctx: CommandContext, model: string): TrainParams {
  const hyperparameters: NonNullable<TrainParams["hyperparameters"]> = {};
  const epochs = hyper(ctx, "epochs", true);
  const batch = hyper(ctx, "batch-size", true);
  const lrm = hyper(ctx, "lr-multiplier", false);
  if (epochs !== undefined) hyperparameters.n_epochs = epochs;
  if (batch !== undefined) hyperparameters.batch_size = batch;
  if (lrm !== undefined) hyperparameters.learning_rate_multiplier = lrm;
  const lr = number(ctx, "lr");
  if (lr !== undefined) {
    if (!(lr > 0)) throw new TunekitError("usage", `--lr must be a positive number, got "${str(ctx, "lr")}"`);
    hyperparameters.learning_rate = lr;
  }
  const seed = number(ctx, "seed");
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0)) throw new TunekitError("usage", `--seed must be a non-negative integer, got "${str(ctx, "seed")}"`);
  const lora: NonNullable<TrainParams["lora"]> = {};
  const r = number(ctx, "lora-r");
  const alpha = number(ctx, "lora-alpha");
  const dropout = number(ctx, "lora-dropout");
  const targets = str(ctx, "lora-targets");
  if (r !== undefined) lora.r = r;
  if (alpha !== undefined) lora.alpha = alpha;
  if (dropout !== undefined) lora.dropout = dropout;
  if (targets !== undefined) lora.modules = targets === "all-linear" ? targets : targets.split(",").map((t) => t.trim()).filter(Boolean).join(",");
  const suffix = str(ctx, "suffix");
  const maxContext = number(ctx, "max-context-length");
  return {
    model,
    hyperparameters,
    ...(suffix !== undefined ? { suffix } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(Object.keys(lora).length > 0 ? { lora } : {}),
    ...(maxContext !== undefined ? { maxContextLength: maxContext } : {}),
  };
}

/** Prints a provider error the way users need it; returns the exit code. */
export function reportTrainerError(ctx: CommandContext, error: TrainerError, json: boolean, jobId?: string): number {
  if (json) printJson(ctx, { type: "error", ...(jobId ? { job: jobId } : {}), error }, true);
  const c = ctx.errColor;
  ctx.err(`${c.red("error")}${c.dim(`[${error.code}]`)} ${error.message}`);
  if (error.code === "auth") ctx.err(`  ${c.dim("hint:")} the key is read only from the environment; it is never stored`);
  if (error.code === "rate_limit" || error.code === "server" || error.code === "connection") {
    ctx.err(`  ${c.dim("hint:")} this is temporary; try again later${jobId ? ` (\`tunekit jobs watch ${jobId}\` resumes following)` : ""}`);
  }
  // A job the provider refused is the data's or the account's problem, not a usage error.
  return error.code === "fine_tuning_closed" || error.code === "unsupported_model" || error.code === "preference_data" ? EXIT.inputErrors : EXIT.usage;
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** The quote on stderr: checks, tokens, price (catalog and provider), notices. */
function printQuote(ctx: CommandContext, q: Quote): void {
  const c = ctx.errColor;
  for (const n of q.notices) ctx.err(`${c.yellow("notice")}${c.dim(`[${n.code}]`)} ${n.message}`);
  const pre = q.preflight;
  if (!pre) return;
  const t = pre.training;
  ctx.err(`${c.bold(t.file)}: ${fmt(t.examples)} examples, ${fmt(t.tokens)} tokens${t.exactTokens ? "" : " (approximate: o200k_base)"}`);
  if (t.overLimit > 0) ctx.err(c.yellow(`  ${t.overLimit} example(s) exceed the ${t.tokenLimit !== undefined ? fmt(t.tokenLimit) : "per-example"}-token limit and will be truncated`));
  if (pre.validation) ctx.err(`${c.bold(pre.validation.file)}: ${fmt(pre.validation.examples)} validation examples`);
  for (const w of t.report.warnings.slice(0, 5)) ctx.err(c.yellow(`  warning ${t.file}${w.line > 0 ? `:${w.line}` : ""}: ${w.message}`));
  if (t.report.warningCount > 5) ctx.err(c.yellow(`  ... ${t.report.warningCount - 5} more warnings (run \`tunekit validate ${t.file}\`)`));
  const e = pre.estimate;
  const cost = e.cost !== undefined ? `about $${e.cost.toFixed(2)} at $${e.pricePerMTok}/1M tokens (${pre.priceSource}; prices as of ${e.pricesAsOf})` : `no list price known for ${q.model} at ${q.providerLabel}`;
  ctx.err(`estimate: ${e.epochs} epoch(s) x ${fmt(e.datasetTokens)} tokens = ${c.bold(fmt(e.billedTokens))} billed tokens, ${cost}`);
  const p = q.providerEstimate;
  if (p && p.cost !== undefined) {
    ctx.err(`${q.providerLabel}'s own estimate: ${c.bold(`$${p.cost.toFixed(2)}`)}${p.trainTokens !== undefined ? ` for ${fmt(p.trainTokens)} training tokens` : ""}${p.evalTokens ? ` + ${fmt(p.evalTokens)} evaluation tokens` : ""}`);
  }
}

async function ask(ctx: CommandContext, question: string): Promise<boolean> {
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

function progressPrinter(ctx: CommandContext, json: boolean): (p: SubmitProgress) => void {
  return (p) => {
    if (json) return;
    if (p.stage === "uploading") ctx.err(`uploading ${p.file}`);
    else if (p.stage === "reused") ctx.err(`${p.file} was uploaded before (same sha256): reusing it`);
    else if (p.stage === "estimating") ctx.err("asking the provider for its price estimate");
  };
}

export async function runHostedTrain(ctx: CommandContext): Promise<number> {
  const provider = str(ctx, "provider")!;
  const json = bool(ctx, "json");
  const data = ctx.positionals[0];
  if (!(HOSTED_PROVIDERS as readonly string[]).includes(provider)) {
    throw new TunekitError("unknown_provider", `unknown provider "${provider}"`, { hint: `use one of: local, ${HOSTED_PROVIDERS.join(", ")}` });
  }
  if (!data) throw usageError(undefined, "missing argument: DATA");
  const info = providerInfo(provider)!;
  const model = str(ctx, "model");
  if (!model) {
    throw new TunekitError("usage", `--model is required with --provider ${provider}`, {
      hint: info.defaultModel ? `e.g. --model ${info.defaultModel}` : provider === "azure" ? "the base model as Azure names it, e.g. --model gpt-4.1-mini-2025-04-14" : "name the base model to fine-tune",
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
  const params = paramsFrom(ctx, model);
  const validationFile = str(ctx, "validation");
  const request = { trainingFile: data, ...(validationFile ? { validationFile } : {}), params };
  const progress = progressPrinter(ctx, json);

  // Without --yes and without a terminal nothing may be spent: quote, then refuse (no side effects).
  const interactive = ctx.io.stdin?.isTTY === true && ctx.io.stderr.isTTY === true;
  const yes = bool(ctx, "yes");
  if (!yes && !interactive) {
    const q = await quoteTraining(trainer, request, { onProgress: progress });
    if (!q.ok) return refused(ctx, trainer, q.stage, q.error, q.quote, json);
    if (json) printJson(ctx, estimateLine(q.quote), true);
    else printQuote(ctx, q.quote);
    throw new TunekitError("confirmation_required", "hosted training costs money and needs confirmation, but there is no terminal to ask on", { hint: "pass --yes to start the job without a prompt" });
  }

  const store = openStore({ env });
  try {
    let printed = false;
    const out = await submitTraining(trainer, request, {
      store,
      onProgress: progress,
      confirm: async (q) => {
        printed = true;
        if (json) printJson(ctx, estimateLine(q), true);
        else printQuote(ctx, q);
        return yes || (await ask(ctx, `Start the ${provider} fine-tuning job? [y/N] `));
      },
    });
    if (!out.ok) {
      if (out.stage === "confirm") {
        ctx.err(out.error.message.replace(/^not started/, "Not started"));
        return EXIT.ok;
      }
      if (!printed && out.quote && out.stage !== "data") {
        if (json) printJson(ctx, estimateLine(out.quote), true);
        else printQuote(ctx, out.quote);
      }
      if (out.cleanup && !json) {
        if (out.cleanup.deleted.length) ctx.err(`deleted the files uploaded for this job: ${out.cleanup.deleted.join(", ")}`);
        if (out.cleanup.kept.length) ctx.err(ctx.errColor.yellow(`could not delete ${out.cleanup.kept.join(", ")} at ${info.label}; their ids are on job ${out.job?.id}`));
      }
      return refused(ctx, trainer, out.stage, out.error, out.quote, json, out.job?.id);
    }
    const job = out.job;
    if (json) printJson(ctx, { type: "started", job: job.id, remoteId: job.remoteId, provider, trainingFile: job.trainingFileId, reusedUpload: out.prepared.training.reused }, true);
    else ctx.err(`started job ${ctx.errColor.bold(job.id)} (${provider} ${job.remoteId}); Ctrl-C stops watching, \`tunekit jobs watch ${job.id}\` resumes`);
    return await watchUntilDone(ctx, store, trainer, job.id, json);
  } finally {
    store.close();
  }
}

function estimateLine(q: Quote): Record<string, unknown> {
  const pre = q.preflight;
  return {
    type: "estimate",
    provider: q.provider,
    model: q.model,
    ...(pre ? { ...pre.estimate, model: q.model, tokens: pre.training.tokens, exactTokens: pre.training.exactTokens, ...(pre.priceSource ? { priceSource: pre.priceSource } : {}) } : {}),
    ...(q.providerEstimate ? { providerEstimate: q.providerEstimate } : {}),
    notices: q.notices,
  };
}

/** A stop before or at creation: what was refused and why, with the exit code that fits. */
function refused(ctx: CommandContext, trainer: Trainer, stage: string, error: TrainerError, quote: Quote | undefined, json: boolean, jobId?: string): number {
  if (stage === "params") {
    const param = error.param ?? "";
    const flag = FLAGS[param] ?? `--${param}`;
    const caps = trainer.capabilities.hyperparameters;
    const hint =
      param === "learning_rate" && caps.learning_rate_multiplier
        ? `${trainer.id} takes a learning-rate multiplier: use --lr-multiplier X`
        : param === "learning_rate_multiplier" && caps.learning_rate
          ? `${trainer.id} takes an absolute learning rate: use --lr X`
          : "run `tunekit train --help` for the accepted ranges";
    throw new TunekitError("invalid_params", `${flag}: ${error.message}`, { hint });
  }
  if (stage === "data") {
    const pre = quote?.preflight;
    if (pre && !pre.preference) {
      for (const check of [pre.training, pre.validation]) {
        if (!check) continue;
        for (const e of check.report.errors.slice(0, 10)) ctx.err(`${ctx.errColor.red("error")} ${check.file}:${e.line}: ${e.message}`);
      }
    }
    const reasons = pre?.blocking ?? [error.message];
    if (json) printJson(ctx, { type: "refused", reasons }, true);
    for (const b of reasons) ctx.err(`${ctx.errColor.red("refused")}: ${b}`);
    ctx.err("Nothing was uploaded. Fix the file (see `tunekit validate`) and run again.");
    return EXIT.inputErrors;
  }
  return reportTrainerError(ctx, error, json, jobId);
}

/** Follows a stored job to its end with the CLI display; used by train and `jobs watch`. */
export async function watchUntilDone(ctx: CommandContext, store: ReturnType<typeof openStore>, trainer: Trainer, jobId: string, json: boolean): Promise<number> {
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
