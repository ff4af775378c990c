/** Helpers shared by the dataset commands (validate, convert, stats, split, leakage, advise): read options, progress, issue lists, notes. */
import type { CommandContext, OptionSpec, Command } from "../command.js";
import { num, str, usageError } from "../command.js";
import { createProgress, datasetReadProgress } from "../progress.js";
import type { ReportIssue } from "../../dataset/validate/index.js";
import type { NoteSummary } from "../../dataset/notes.js";
import type { ReadOptions } from "../../dataset/reader.js";
import type { DatasetFormat } from "../../dataset/types.js";

const FORMATS: DatasetFormat[] = ["openai-chat", "prompt-completion", "alpaca", "sharegpt", "text", "csv"];

export const FORMAT_OPTIONS: Record<string, OptionSpec> = {
  format: { type: "string", valueName: "F", description: `read as this format instead of detecting it (${FORMATS.join(", ")})` },
  columns: {
    type: "string",
    valueName: "MAP",
    description: "CSV column mapping, e.g. user=question,assistant=answer (targets: system, user, assistant, input)",
  },
  delimiter: { type: "string", valueName: "C", description: "CSV separator (default , and tab for .tsv)" },
  "max-line-bytes": { type: "string", valueName: "N", description: "longest line accepted, in bytes (default 8388608)" },
};

export function datasetReadOptions(ctx: CommandContext, cmd: Command): ReadOptions {
  const format = str(ctx, "format");
  if (format !== undefined && !FORMATS.includes(format as DatasetFormat)) {
    throw usageError(cmd, `unknown --format "${format}" (one of ${FORMATS.join(", ")})`);
  }
  const delimiter = str(ctx, "delimiter");
  if (delimiter !== undefined && [...delimiter].length !== 1 && delimiter !== "\\t") {
    throw usageError(cmd, `--delimiter must be one character, got "${delimiter}"`);
  }
  const opts: ReadOptions = {};
  if (format) opts.format = format as DatasetFormat;
  const columns = str(ctx, "columns");
  if (columns) opts.columns = columns;
  if (delimiter) opts.delimiter = delimiter === "\\t" ? "\t" : delimiter;
  const max = num(ctx, cmd, "max-line-bytes", { integer: true, min: 1 });
  if (max !== undefined) opts.maxLineBytes = max;
  return opts;
}

/** What a dataset command's work receives: the --format/--columns/... read options and a progress callback. */
export type DatasetReadWork = ReadOptions & { onProgress: ReturnType<typeof datasetReadProgress> };

/** Runs a dataset command's work with a progress bar (labelled with the command) over the bytes read. */
export async function readWithProgress<T>(ctx: CommandContext, cmd: Command, work: (read: DatasetReadWork) => Promise<T>): Promise<T> {
  const read = datasetReadOptions(ctx, cmd);
  const progress = createProgress(ctx.io, { label: cmd.name, unit: "bytes" });
  try {
    return await work({ ...read, onProgress: datasetReadProgress(progress) });
  } finally {
    progress.finish();
  }
}

/** Prints `file:line: error[code] message` lines, at most `limit`, then how many more there are. */
export function printIssueList(ctx: CommandContext, file: string, list: ReportIssue[], total: number, kind: "error" | "warning", limit: number): void {
  const c = ctx.color;
  const label = kind === "error" ? c.red("error") : c.yellow("warning");
  // Dataset-wide findings (line 0) print without a line number.
  for (const i of list.slice(0, limit)) ctx.out(`${file}${i.line > 0 ? `:${i.line}` : ""}: ${label}${c.dim(`[${i.code}]`)} ${i.message}`);
  const more = total - Math.min(limit, list.length);
  if (more > 0) ctx.out(c.dim(`... and ${more.toLocaleString("en-US")} more ${kind}s (use --json for all)`));
}

export function printNotes(ctx: CommandContext, notes: NoteSummary[], what: string): void {
  if (notes.length === 0) return;
  ctx.out(`${what}:`);
  for (const n of notes) {
    ctx.out(`  ${n.message}: ${n.count.toLocaleString("en-US")} time${n.count === 1 ? "" : "s"} (first at line ${n.firstLine})`);
  }
}
