/**
 * `tunekit jobs watch ID`: follows a hosted job to its end, resuming from what the store already holds
 * (events after the stored cursor), so it picks a job up again after a crash or a reboot.
 */
import { bool, printJson, type Command } from "../command.js";
import { isTerminalStatus } from "../../store/store.js";
import { trainerForJob } from "../../providers/registry.js";
import { TunekitError } from "../../util/errors.js";
import { jobExitCode, printJobSummary } from "../hosted-output.js";
import { watchUntilDone } from "../train-hosted.js";
import { withJob } from "./jobs-shared.js";

const command: Command = {
  name: "jobs watch",
  summary: "follow a job (hosted, or a local run folder) to its end; resumes after restarts",
  usage: "tunekit jobs watch ID [--json]",
  details: `The API key comes from the environment (TOGETHER_API_KEY, FIREWORKS_API_KEY, AZURE_OPENAI_API_KEY, OPENAI_API_KEY); the endpoint is the one the
job was created on. Network failures are retried with backoff. Exit code: 0 succeeded, 1 failed or cancelled,
2 could not follow. --json prints one JSON object per line (schema in docs/json.md).`,
  options: { json: { type: "boolean", description: "print one JSON event per line" } },
  positionals: { min: 1, max: 1, names: "ID" },
  async run(ctx) {
    const json = bool(ctx, "json");
    return withJob(ctx, async (store, job) => {
      if (job.kind === "local" && !job.remoteId) {
        throw new TunekitError("not_watchable", `${job.id} is a local training run recorded without its run folder (${job.status})`, {
          hint: `\`tunekit jobs show ${job.id}\` shows what the store holds`,
        });
      }
      if (!job.remoteId && !job.trainingFileId) {
        throw new TunekitError("not_started", `${job.id} was never created at ${job.provider} (${job.status}${job.error ? `: ${job.error.message}` : ""})`, {
          hint: "start a new job with `tunekit train`",
        });
      }
      if (isTerminalStatus(job.status) && job.result) {
        if (json) printJson(ctx, { type: "done", job: job.id, remoteId: job.remoteId, status: job.status, ...(job.fineTunedModel ? { fineTunedModel: job.fineTunedModel } : {}), ...(job.trainedTokens !== undefined ? { trainedTokens: job.trainedTokens } : {}), ...(job.error ? { error: job.error } : {}) }, true);
        else printJobSummary(ctx, store, job);
        return jobExitCode(job);
      }
      const trainer = await trainerForJob(job, ctx.io.env);
      return await watchUntilDone(ctx, store, trainer, job.id, json);
    });
  },
};
export default command;
