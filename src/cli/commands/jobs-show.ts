/** `tunekit jobs show ID`: one job from the store: parameters, status history, metrics, checkpoints, events. */
import { bool, printJson, type Command } from "../command.js";
import { formatTime, printJobSummary } from "../hosted-output.js";
import { jobDetails, refreshJobs, withJob } from "./jobs-shared.js";

const command: Command = {
  name: "jobs show",
  summary: "show one job: parameters, status history, metrics, checkpoints, recent events",
  usage: "tunekit jobs show ID [--refresh] [--json]",
  details: `ID is tunekit's id (tk_...), the provider's id (ftjob-...) or a unique prefix. Reads the store only
(no network) unless --refresh; \`tunekit jobs watch ID\` follows a running hosted job to its end.
--json prints {"job","history","metrics","checkpoints","events"} (schema in docs/json.md).`,
  options: {
    refresh: { type: "boolean", description: "ask the provider for the job's current state first" },
    json: { type: "boolean", description: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
  async run(ctx) {
    return withJob(ctx, async (store, found) => {
      let job = found;
      if (bool(ctx, "refresh")) {
        await refreshJobs(ctx, store, [job]);
        job = store.getJob(job.id)!;
      }
      if (bool(ctx, "json")) {
        printJson(ctx, jobDetails(store, job));
        return 0;
      }
      printJobSummary(ctx, store, job);
      const c = ctx.color;
      if (job.datasetPath) ctx.out(`  data            ${job.datasetPath}${job.datasetSha256 ? c.dim(` (sha256 ${job.datasetSha256.slice(0, 12)})`) : ""}`);
      if (job.validationPath) ctx.out(`  validation      ${job.validationPath}`);
      if (Object.keys(job.params).length > 0) ctx.out(`  parameters      ${JSON.stringify(job.params)}`);
      ctx.out("  history");
      for (const h of store.statusHistory(job.id)) ctx.out(`    ${new Date(h.at).toISOString().replace("T", " ").slice(0, 19)}  ${h.status}${h.message ? c.dim(`  ${h.message}`) : ""}`);
      const events = store.listEvents(job.id).filter((e) => e.type !== "metrics");
      if (events.length > 0) {
        ctx.out("  recent events");
        for (const e of events.slice(-10)) ctx.out(`    ${formatTime(e.createdAt)}  ${e.message}`);
      }
      return 0;
    });
  },
};
export default command;
