/** `tunekit jobs cancel ID`: cancels a hosted job at its provider and records it in the store. */
import { bool, printJson, type Command } from "../command.js";
import { isTerminalStatus } from "../../store/store.js";
import { trainerForJob } from "../../providers/registry.js";
import { TunekitError } from "../../util/errors.js";
import { reportTrainerError } from "../train-hosted.js";
import { withJob } from "./jobs-shared.js";

const command: Command = {
  name: "jobs cancel",
  summary: "cancel a hosted fine-tuning job",
  usage: "tunekit jobs cancel ID [--json]",
  details: `--json prints {"job","remoteId","status"} (schema in docs/json.md).`,
  options: { json: { type: "boolean", description: "print JSON" } },
  positionals: { min: 1, max: 1, names: "ID" },
  async run(ctx) {
    const json = bool(ctx, "json");
    return withJob(ctx, async (store, job) => {
      if (job.kind === "local" || !job.remoteId) {
        throw new TunekitError("not_cancellable", `${job.id} is ${job.kind === "local" ? "a local run; stop its process instead" : "not running at a provider"}`);
      }
      if (isTerminalStatus(job.status)) {
        throw new TunekitError("already_finished", `${job.id} has already finished (${job.status})`, { hint: `\`tunekit jobs show ${job.id}\`` });
      }
      const trainer = await trainerForJob(job, ctx.io.env);
      const r = await trainer.cancel(job.remoteId);
      if (!r.ok) return reportTrainerError(ctx, r.error, json, job.id);
      const updated = store.updateJob(job.id, { status: r.value.status, statusMessage: "cancelled by tunekit jobs cancel" });
      if (json) printJson(ctx, { job: updated.id, remoteId: updated.remoteId, status: updated.status });
      else ctx.out(`${updated.id} (${updated.provider} ${updated.remoteId}): ${updated.status}`);
      return 0;
    });
  },
};
export default command;
