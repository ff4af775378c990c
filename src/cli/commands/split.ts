/** `tunekit split FILE --test 0.2 -o DIR`: deterministic, leak-free train/test split. */
import type { Command } from "../command.js";
import { bool, num, printJson, str, usageError } from "../command.js";
import { splitFile } from "../../dataset/split.js";
import { readWithProgress, FORMAT_OPTIONS } from "./dataset-output.js";

const command: Command = {
  name: "split",
  summary: "split a dataset into train.jsonl and test.jsonl without leakage (near duplicates stay together)",
  usage: "tunekit split FILE -o DIR [--test 0.2] [--seed N] [--stratify shape] [--json]",
  details: `The same seed gives the same split. Exact duplicates, near duplicates and examples with the same prompt
stay on one side. JSONL lines are copied byte-for-byte; JSON array and CSV input is written as OpenAI chat JSONL.
Both files appear atomically. Exit codes: 0 done, 1 the file has invalid records, 2 usage or I/O problem.`,
  options: {
    out: { type: "string", short: "o", valueName: "DIR", description: "output folder (created if missing)" },
    test: { type: "string", valueName: "X", description: "share of examples in the test set (0-1)", default: "0.2" },
    seed: { type: "string", valueName: "N", description: "random seed", default: "42" },
    stratify: { type: "string", valueName: "shape", description: "keep each reply shape's share equal on both sides" },
    threshold: { type: "string", valueName: "S", description: "near-duplicate similarity that ties examples together", default: "0.8" },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "FILE" },
  async run(ctx) {
    const file = ctx.positionals[0];
    const outDir = str(ctx, "out");
    if (!outDir) throw usageError(command, "missing -o DIR (the folder for train.jsonl and test.jsonl)");
    const testFraction = num(ctx, command, "test", { min: 0.001, max: 0.999 }) ?? 0.2;
    const seed = num(ctx, command, "seed", { integer: true, min: 0, max: 4294967295 }) ?? 42;
    const threshold = num(ctx, command, "threshold", { min: 0.3, max: 1 }) ?? 0.8;
    const stratify = str(ctx, "stratify");
    if (stratify !== undefined && stratify !== "shape") throw usageError(command, `--stratify supports "shape", got "${stratify}"`);
    const report = await readWithProgress(ctx, command, (read) =>
      splitFile(file, {
        ...read,
        outDir,
        testFraction,
        seed,
        threshold,
        stratify: stratify === "shape" ? "shape" : undefined,
      }),
    );
    if (bool(ctx, "json")) {
      printJson(ctx, report);
      return 0;
    }
    ctx.out(`${report.train.path}: ${report.train.examples} examples`);
    ctx.out(`${report.test.path}: ${report.test.examples} examples`);
    if (report.groups.count > 0) ctx.out(`${report.groups.count} groups of duplicates / near duplicates / same prompts (${report.groups.examples} examples) kept on one side each`);
    ctx.out(ctx.color.dim(`seed ${report.seed}${report.stratify ? `, stratified by ${report.stratify}` : ""}${report.preservedLines ? ", lines copied byte-for-byte" : ", written as OpenAI chat JSONL"}`));
    return 0;
  },
};

export default command;
