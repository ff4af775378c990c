/** `tunekit validate FILE`: checks a dataset and prints every problem with its line. */
import type { Command } from "../command.js";
import { bool, num, printJson, str } from "../command.js";
import { validateFile } from "../../dataset/validate/index.js";
import { readWithProgress, FORMAT_OPTIONS, printIssueList, printNotes } from "./dataset-output.js";

const command: Command = {
  name: "validate",
  summary: "check a dataset file: every error and warning with its line",
  usage: "tunekit validate FILE [--model M] [--json] [--quick] [--max-line-bytes N]",
  details: `Reads JSONL, JSON arrays and CSV in OpenAI chat, prompt/completion, Alpaca, ShareGPT or {"text"} format.
Exit codes: 0 no errors (warnings allowed), 1 the dataset has errors, 2 usage or I/O problem.
--json prints {"file","format","examples","errors":[{"line","code","message"}],"warnings":[...],"stats":{...}}
(schema in docs/json.md).`,
  options: {
    model: { type: "string", valueName: "M", description: "count tokens with this model's tokenizer (OpenAI model, local Hugging Face folder or hub id) and check its per-example limit" },
    json: { type: "boolean", description: "print the report as JSON" },
    quick: { type: "boolean", description: "structural checks and token counts only (skips duplicates, consistency, fact injection)" },
    workers: { type: "string", valueName: "N", description: "threads checking a big JSONL file in parallel (default: CPU count, at most 4; 0 or 1: one thread)" },
    ...FORMAT_OPTIONS,
    limit: { type: "string", valueName: "N", description: "most errors and most warnings printed (human output)", default: "50" },
  },
  positionals: { min: 1, max: 1, names: "FILE" },
  async run(ctx) {
    const file = ctx.positionals[0];
    const limit = num(ctx, command, "limit", { integer: true, min: 0 }) ?? 50;
    const workers = num(ctx, command, "workers", { integer: true, min: 0, max: 64 });
    const report = await readWithProgress(ctx, command, (read) =>
      validateFile(file, {
        ...read,
        model: str(ctx, "model"),
        quick: bool(ctx, "quick"),
        ...(workers !== undefined ? { workers } : {}),
      }),
    );
    if (bool(ctx, "json")) {
      printJson(ctx, report);
      return report.errorCount > 0 ? 1 : 0;
    }
    const c = ctx.color;
    printIssueList(ctx, file, report.errors, report.errorCount, "error", limit);
    printIssueList(ctx, file, report.warnings, report.warningCount, "warning", limit);
    printNotes(ctx, report.conversion, "converting to OpenAI chat");
    const byCode = (counts: Record<string, number>) =>
      Object.entries(counts)
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${code} ${n.toLocaleString("en-US")}`)
        .join(", ");
    const errs = report.errorCount > 0 ? c.red(`${report.errorCount.toLocaleString("en-US")} errors`) : c.green("0 errors");
    const warns = report.warningCount > 0 ? c.yellow(`${report.warningCount.toLocaleString("en-US")} warnings`) : "0 warnings";
    ctx.out(
      `${c.bold(file)}: ${report.format}, ${report.examples.toLocaleString("en-US")} valid examples of ${report.records.toLocaleString("en-US")} records, ${errs}, ${warns}`,
    );
    if (report.errorCount > 0) ctx.out(c.dim(`  errors: ${byCode(report.counts.errors)}`));
    if (report.warningCount > 0) ctx.out(c.dim(`  warnings: ${byCode(report.counts.warnings)}`));
    for (const line of statsSummary(report.stats)) ctx.out(`  ${line}`);
    return report.errorCount > 0 ? 1 : 0;
  },
};

type Dist = { mean: number; median: number; max: number };

/** A few lines from the analysis stats (the full set is in --json and `tunekit stats`). */
function statsSummary(stats: Record<string, unknown>): string[] {
  const out: string[] = [];
  const tokens = stats.tokens as Dist | undefined;
  if (tokens) {
    out.push(`tokens per example (${String(stats.tokenizerModel ?? "model")}): median ${Math.round(tokens.median)}, mean ${Math.round(tokens.mean)}, max ${tokens.max}`);
  }
  const shape = stats.shape as { dominantSignature?: string; dominantShare?: number } | undefined;
  if (shape?.dominantSignature && typeof shape.dominantShare === "number") {
    out.push(`reply shape: ${shape.dominantSignature.replace(/\u241e/g, " / ")} in ${(shape.dominantShare * 100).toFixed(0)}% of replies`);
  }
  const facts = stats.factInjection as { message?: string } | undefined;
  if (facts?.message) out.push(`fact injection: ${facts.message}`);
  return out;
}

export default command;
