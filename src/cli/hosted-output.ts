/**
 * How a followed hosted job is shown: one JSON object per line on stdout with --json, otherwise a
 * progress bar (steps, loss) on a terminal plus one line per status change and event on stderr.
 * Shared by `tunekit train --provider ...` and `tunekit jobs watch`.
 */
import type { CommandContext } from "./command.js";
import { createProgress, formatDuration, type Progress } from "./progress.js";
import type { FollowUpdate } from "../providers/follow.js";
import { trainingPrice } from "../providers/catalog.js";
import type { JobRecord, Store } from "../store/store.js";

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function metricsText(values: Record<string, number>): string {
  const parts: string[] = [];
  if (values.train_loss !== undefined) parts.push(`loss ${values.train_loss.toFixed(3)}`);
  if (values.valid_loss !== undefined) parts.push(`valid ${values.valid_loss.toFixed(3)}`);
  const acc = values.train_mean_token_accuracy;
  if (acc !== undefined) parts.push(`acc ${(acc * 100).toFixed(1)}%`);
  return parts.join(" ");
}

export interface FollowPrinter {
  onUpdate(u: FollowUpdate): void;
  finish(): void;
}

/** Prints FollowUpdates as JSON lines or human lines/progress. */
export function followPrinter(ctx: CommandContext, json: boolean): FollowPrinter {
  if (json) {
    return {
      onUpdate: (u) => ctx.out(JSON.stringify(u)),
      finish: () => {},
    };
  }
  const c = ctx.errColor;
  let bar: Progress | undefined;
  const line = (text: string) => {
    bar?.finish();
    ctx.err(text);
  };
  return {
    onUpdate(u) {
      switch (u.type) {
        case "status": {
          const eta = u.estimatedFinish ? c.dim(` (estimated finish in ${formatDuration((u.estimatedFinish - Date.now()) / 1000)})`) : "";
          line(`${c.dim(formatTime(u.at))} status ${c.bold(u.providerStatus)}${eta}`);
          break;
        }
        case "event":
          if (/^Step \d+\/\d+/.test(u.message)) break; // shown by the bar / metrics
          line(`${c.dim(formatTime(u.at))} ${u.level === "error" ? c.red(u.message) : u.level === "warn" ? c.yellow(u.message) : u.message}`);
          break;
        case "metrics":
          bar ??= createProgress(ctx.io, { label: "training", unit: "steps", delayMs: 0, ...(u.totalSteps ? { total: u.totalSteps } : {}) });
          if (u.totalSteps) bar.setTotal(u.totalSteps);
          bar.update(u.step, metricsText(u.values));
          if (ctx.io.stderr.isTTY !== true && (u.totalSteps === undefined || u.step === u.totalSteps || u.step % 10 === 0 || u.step === 1)) {
            ctx.err(`${c.dim(formatTime(u.at))} step ${u.step}${u.totalSteps ? `/${u.totalSteps}` : ""} ${metricsText(u.values)}`);
          }
          break;
        case "retry":
          line(c.yellow(`  ${u.message}; retrying in ${formatDuration(u.delayMs / 1000)} (attempt ${u.attempt})`));
          break;
        case "checkpoint":
          break; // listed in the summary
        case "done":
          bar?.finish();
          break;
      }
    },
    finish: () => bar?.finish(),
  };
}

/** The final human summary of a job, on stdout. */
export function printJobSummary(ctx: CommandContext, store: Store, job: JobRecord): void {
  const c = ctx.color;
  const colour = job.status === "succeeded" ? c.green : job.status === "failed" ? c.red : job.status === "cancelled" ? c.yellow : (s: string) => s;
  ctx.out(`${c.bold(job.id)} ${job.remoteId ? c.dim(`(${job.provider} ${job.remoteId})`) : c.dim(`(${job.provider})`)}: ${colour(job.status)}`);
  if (job.model) ctx.out(`  base model      ${job.model}`);
  if (job.fineTunedModel) ctx.out(`  fine-tuned      ${c.bold(job.fineTunedModel)}`);
  if (job.outputDir) ctx.out(`  ${job.kind === "hosted" ? "pulled to     " : "run folder    "}  ${job.outputDir}`);
  if (job.trainedTokens !== undefined) {
    const price = job.kind === "hosted" && job.model ? trainingPrice(job.provider, job.model) : undefined;
    const cost = price !== undefined ? c.dim(` (about $${((job.trainedTokens / 1e6) * price.perMTok).toFixed(2)} at $${price.perMTok}/1M training tokens, prices as of ${price.asOf})`) : "";
    ctx.out(`  trained tokens  ${job.trainedTokens.toLocaleString("en-US")}${cost}`);
  }
  if (job.error) ctx.out(`  ${c.red("error")}           ${job.error.code}: ${job.error.message}${job.error.param ? ` (parameter ${job.error.param})` : ""}`);
  const metrics = store.getMetrics(job.id);
  if (metrics.length > 0) {
    const last = metrics[metrics.length - 1];
    ctx.out(`  last metrics    step ${last.step}: ${metricsText(last.values)}`);
  }
  const cks = store.listCheckpoints(job.id);
  if (cks.length > 0) {
    ctx.out("  checkpoints");
    for (const ck of cks) ctx.out(`    step ${String(ck.step).padStart(5)}  ${ck.modelId ?? ck.remoteId}  ${metricsText(ck.metrics ?? {})}`);
  }
}

/** Exit code for a finished job: 0 succeeded, 1 failed or cancelled. */
export function jobExitCode(job: JobRecord): number {
  return job.status === "succeeded" ? 0 : 1;
}

/** Poll interval for following jobs: TUNEKIT_POLL_MS (tests shorten it), default 5 s. */
export function pollIntervalMs(env: NodeJS.ProcessEnv): number {
  const v = Number(env.TUNEKIT_POLL_MS);
  return Number.isFinite(v) && v > 0 ? v : 5000;
}
