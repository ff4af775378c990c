/**
 * `tunekit jobs pull ID -o DIR`: brings a finished hosted job's weights home as a run folder that
 * `generate`, `eval` and `export` use like a local run's (the library's pullJob does the work).
 */
import { bool, printJson, str, usageError, type Command } from "../command.js";
import { openStore } from "../../store/store.js";
import { trainerForJob } from "../../providers/registry.js";
import { pullJob } from "../../providers/pull.js";
import { createProgress } from "../progress.js";
import { reportTrainerError } from "../train-hosted.js";
import { requireJob } from "./jobs-shared.js";

const command: Command = {
  name: "jobs pull",
  summary: "download a finished hosted job's adapter (or merged weights) as a local run folder",
  usage: "tunekit jobs pull ID -o DIR [--base DIR|HUB_ID] [--merged] [--json]",
  details: `Downloads the LoRA adapter of a succeeded Together or Fireworks job (merged weights when that is all the
provider offers, or with --merged), checks that it loads against the base model (tunekit's PEFT reader and model
loader), and writes DIR as a run folder (run.json + adapter/): \`tunekit generate --model BASE --adapter DIR/adapter\`,
\`tunekit eval --model name=tuned,run=DIR\` and \`tunekit export DIR ...\` then work as on a local run. The base model is
--base, else the adapter's base_model_name_or_path or the job's model when it is a Hugging Face id.
Exit codes: 0 pulled, 1 the job has no weights to pull, 2 usage, network or I/O problem.
--json prints {"job","runDir","weights","files","bytes","base"?} (docs/json.md).`,
  options: {
    output: { type: "string", short: "o", valueName: "DIR", description: "run folder to create (new or empty)" },
    base: { type: "string", valueName: "DIR|HUB_ID", description: "the base model the job fine-tuned, to check the adapter against" },
    merged: { type: "boolean", description: "download the merged weights instead of the adapter" },
    json: { type: "boolean", description: "print the result as JSON" },
  },
  positionals: { min: 1, max: 1, names: "ID" },
  async run(ctx) {
    const json = bool(ctx, "json");
    const out = str(ctx, "output");
    if (!out) throw usageError(command, "-o DIR is required (the run folder to create)");
    const store = openStore({ env: ctx.io.env });
    const progress = createProgress(ctx.io, { label: "pull", unit: "bytes" });
    try {
      const job = requireJob(store, ctx.positionals[0]);
      const trainer = await trainerForJob(job, ctx.io.env);
      const base = str(ctx, "base");
      const r = await pullJob(trainer, store, job, out, {
        ...(base ? { base } : {}),
        ...(bool(ctx, "merged") ? { prefer: "merged" as const } : {}),
        offline: ctx.io.env.HF_HUB_OFFLINE === "1",
        onProgress: (p) => {
          if (p.stage === "downloading") {
            if (p.total) progress.setTotal(p.total);
            progress.update(p.bytes);
          }
        },
      });
      progress.finish();
      if (!r.ok) {
        const code = reportTrainerError(ctx, r.error, json, job.id);
        return ["not_finished", "not_hosted", "not_downloadable", "not_started", "no_weights"].includes(r.error.code) ? 1 : code;
      }
      if (json) {
        printJson(ctx, { job: r.job.id, runDir: r.runDir, weights: r.kind, files: r.files, bytes: r.bytes, ...(r.base ? { base: r.base } : {}) });
        return 0;
      }
      ctx.out(`${r.kind === "adapter" ? "adapter" : "merged weights"} of ${r.job.id} (${r.job.provider} ${r.job.remoteId}) written to ${r.runDir} (${r.files.join(", ")}; ${r.bytes.toLocaleString("en-US")} bytes)`);
      if (r.base) ctx.out(`checked against the base model ${r.base}: every LoRA tensor fits`);
      ctx.out(`use it: tunekit eval --model name=tuned,run=${out} ...  |  tunekit export ${out} --merged OUT`);
      return 0;
    } finally {
      progress.finish();
      store.close();
    }
  },
};
export default command;
