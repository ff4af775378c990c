/** `tunekit demo`: the whole workflow on the bundled examples, with a report of what it measured. */
import { resolve } from "node:path";
import { bool, num, printJson, str, type Command } from "../command.js";
import { createProgress, type Progress } from "../progress.js";
import { runDemo } from "../../demo/run.js";
import { renderDemoTerminal, writeDemoReport } from "../../demo/report.js";
import { DEFAULT_DEMO_MODEL } from "../../demo/settings.js";

const cmd: Command = {
  name: "demo",
  summary: "run the whole workflow on the bundled examples and show, measured, why facts belong in retrieval",
  usage: "tunekit demo [--model DIR|ID] [--quick] [-o DIR] [--json]",
  details: `Validates the bundled datasets, splits the support-ticket set without leakage, fine-tunes a LoRA
adapter on this machine, and compares on held-out tickets: the base model with a short prompt, the base
model with a long instruction prompt plus examples, and the tuned model with the short prompt (format
compliance, tokens and cost per call). Then it fine-tunes company-policy facts into a second adapter and
asks trained, paraphrased and never-trained questions; changes the policy (refund window 30 -> 14 days)
and asks again; and answers the same questions with the base model plus retrieval from the policy
document, before and after the change. Every number in the report is measured in the run.

The default model (${DEFAULT_DEMO_MODEL}) is downloaded once into the Hugging Face cache.
--quick shrinks everything (a few training steps, a few questions) for CI and offline runs, e.g. with
--model pointing at a small local model folder.

Writes demo-report.html, demo-report.md and demo.json (schema in docs/json.md) to -o, plus the runs and
the per-part evaluation reports. Exit codes: 0 done, 2 usage, I/O or model problem.`,
  options: {
    model: { type: "string", valueName: "DIR|ID", description: "model folder or Hugging Face hub id", default: DEFAULT_DEMO_MODEL },
    quick: { type: "boolean", description: "tiny settings for CI and offline runs" },
    out: { type: "string", short: "o", valueName: "DIR", description: "output folder", default: "tunekit-demo" },
    threads: { type: "string", valueName: "N", description: "CPU threads for the engine (default: all cores)" },
    offline: { type: "boolean", description: "never download (use the Hugging Face cache only)" },
    json: { type: "boolean", description: "print demo.json on stdout instead of the summary" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const json = bool(ctx, "json");
    const outDir = resolve(ctx.io.cwd, str(ctx, "out") ?? "tunekit-demo");
    let progress: Progress | undefined;
    const result = await runDemo({
      model: str(ctx, "model"),
      quick: bool(ctx, "quick"),
      outDir,
      threads: num(ctx, cmd, "threads", { integer: true, min: 1, max: 256 }),
      offline: bool(ctx, "offline") || ctx.io.env.HF_HUB_OFFLINE === "1",
      env: ctx.io.env,
      onStage(s) {
        progress?.finish();
        ctx.err(ctx.errColor.cyan(`[${s.index}/${s.total}] ${s.name}`));
        progress = createProgress(ctx.io, { label: s.name, delayMs: 500 });
      },
      onProgress(done, total, what) {
        progress?.setTotal(total);
        progress?.update(done, what);
      },
    });
    progress?.finish();
    const paths = await writeDemoReport(outDir, result);
    if (json) {
      printJson(ctx, result);
      return 0;
    }
    for (const line of renderDemoTerminal(result, ctx.color)) ctx.out(line);
    ctx.out("");
    ctx.out(`Report: ${paths.html}`);
    return 0;
  },
};

export default cmd;
