/** `tunekit leakage TRAIN TEST`: test examples that also appear (exactly or nearly) in training. */
import type { Command } from "../command.js";
import { bool, num, printJson } from "../command.js";
import { findLeakage } from "../../dataset/leakage.js";
import { describeSimilarity } from "../../dataset/analysis/near-duplicates.js";
import { readWithProgress, FORMAT_OPTIONS } from "./dataset-output.js";

const command: Command = {
  name: "leakage",
  summary: "find test examples that also appear in the training set (exact or near duplicates)",
  usage: "tunekit leakage TRAIN TEST [--threshold 0.8] [--json]",
  details: `Exit codes: 0 no leakage, 1 leakage found (or a file has invalid records), 2 usage or I/O problem.
--json prints {"pairs":[{"trainLine","testLine","similarity","kind":"exact"|"near","prompt","reply"}], ...} (docs/json.md).`,
  options: {
    threshold: { type: "string", valueName: "S", description: "similarity from which a pair counts as near (0-1)", default: "0.8" },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 2, max: 2, names: "TRAIN TEST" },
  async run(ctx) {
    const [train, test] = ctx.positionals;
    const threshold = num(ctx, command, "threshold", { min: 0.3, max: 1 }) ?? 0.8;
    const report = await readWithProgress(ctx, command, (read) =>
      findLeakage(train, test, {
        ...read,
        threshold,
      }),
    );
    const leaked = report.pairs.length > 0;
    if (bool(ctx, "json")) {
      printJson(ctx, report);
      return leaked ? 1 : 0;
    }
    const c = ctx.color;
    for (const p of report.pairs.slice(0, 50)) {
      ctx.out(`${test}:${p.testLine}: ${p.kind === "exact" ? c.red("exact copy") : c.yellow(`near duplicate (${describeSimilarity(p)})`)} of ${train}:${p.trainLine}`);
    }
    if (report.pairs.length > 50) ctx.out(c.dim(`... and ${report.pairs.length - 50} more pairs (use --json for all)`));
    const pct = (report.leakedShare * 100).toFixed(1);
    ctx.out(
      leaked
        ? c.red(`${report.leakedTestExamples} of ${report.test.examples} test examples (${pct}%) leak from the training set: scores on them measure memory, not skill`)
        : c.green(`no leakage: none of ${report.test.examples} test examples appears in the ${report.train.examples} training examples`),
    );
    return leaked ? 1 : 0;
  },
};

export default command;
