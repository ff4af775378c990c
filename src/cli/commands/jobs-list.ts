/** `tunekit jobs list`: every training job in the store, local and hosted, newest first. */
import { bool, num, printJson, str, usageError, type Command } from "../command.js";
import { HOSTED_PROVIDERS } from "../../providers/registry.js";
import { openStore } from "../../store/store.js";
import { refreshJobs } from "./jobs-shared.js";

const command: Command = {
  name: "jobs list",
  summary: "list training jobs (local and hosted) from the job store",
  usage: "tunekit jobs list [--provider P] [--limit N] [--refresh] [--json]",
  details: `The store is $TUNEKIT_HOME/tunekit.db (default ~/.tunekit).
--json prints an array of job records (schema in docs/json.md).`,
  options: {
    provider: { type: "string", valueName: "P", description: "only jobs of this provider (local, together, fireworks, azure, openai)" },
    refresh: { type: "boolean", description: "ask the providers for the current state of unfinished hosted jobs first" },
    limit: { type: "string", valueName: "N", description: "most jobs listed", default: "50" },
    json: { type: "boolean", description: "print JSON" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const limit = num(ctx, command, "limit", { integer: true, min: 1 }) ?? 50;
    const known = ["local", ...HOSTED_PROVIDERS];
    const provider = str(ctx, "provider");
    // A misspelt provider would list nothing and look like "no jobs".
    if (provider !== undefined && !known.includes(provider)) throw usageError(command, `unknown --provider "${provider}" (one of ${known.join(", ")})`);
    const store = openStore({ env: ctx.io.env });
    try {
      if (bool(ctx, "refresh")) await refreshJobs(ctx, store, store.listJobs({ limit, ...(provider ? { provider } : {}) }));
      const jobs = store.listJobs({ limit, ...(provider ? { provider } : {}) });
      if (bool(ctx, "json")) {
        printJson(ctx, jobs);
        return 0;
      }
      if (jobs.length === 0) {
        ctx.out("No jobs yet. Start one with `tunekit train DATA ...`.");
        return 0;
      }
      const rows = jobs.map((j) => [
        j.id,
        j.provider,
        j.remoteId ?? "-",
        j.status,
        new Date(j.createdAt).toISOString().slice(0, 16).replace("T", " "),
        j.model ?? "-",
        j.fineTunedModel ?? j.outputDir ?? (j.error ? `${j.error.code}: ${j.error.message}`.slice(0, 60) : ""),
      ]);
      const head = ["ID", "PROVIDER", "REMOTE ID", "STATUS", "CREATED (UTC)", "MODEL", "RESULT"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const fmt = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd();
      ctx.out(ctx.color.bold(fmt(head)));
      for (const r of rows) ctx.out(fmt(r));
      return 0;
    } finally {
      store.close();
    }
  },
};
export default command;
