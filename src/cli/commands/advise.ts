/** `tunekit advise DATA`: prompting, retrieval, fine-tuning or a mix, with the numbers behind it. */
import type { Command } from "../command.js";
import { bool, num, printJson, str, usageError } from "../command.js";
import { adviseFile } from "../../advise/advise.js";
import { readWithProgress, FORMAT_OPTIONS } from "./dataset-output.js";

const PROVIDERS = ["openai", "together", "local"];

const command: Command = {
  name: "advise",
  summary: "recommend prompting, retrieval, fine-tuning or a mix for a dataset, with the numbers behind it",
  usage: "tunekit advise DATA [--calls-per-day N] [--prompt-tokens N] [--provider P] [--model M] [--test FILE] [--json]",
  details: `Reads the dataset analysis (fact injection, format consistency, size, duplicates, leakage with --test) and the
economics (prompt tokens a fine-tune saves per call, training cost, break-even volume) and recommends one of
prompting, retrieval, fine-tuning, or mix (fine-tune the format, retrieve the facts). Names the examples whose facts
should move to retrieval. Exit codes: 0 advice given, 1 the file has no valid example, 2 usage or I/O problem. --json schema: docs/json.md.`,
  options: {
    "calls-per-day": { type: "string", valueName: "N", description: "expected calls per day (for the break-even time)" },
    "prompt-tokens": { type: "string", valueName: "N", description: "prompt tokens (instructions + examples) a prompted model needs per call that a fine-tune would not" },
    provider: { type: "string", valueName: "P", description: `where you would fine-tune: ${PROVIDERS.join(", ")}`, default: "openai" },
    model: { type: "string", valueName: "M", description: "model to price and count tokens for (default gpt-4o-mini-2024-07-18)" },
    test: { type: "string", valueName: "FILE", description: "held-out file to check for leakage from DATA" },
    "price-per-mtok": { type: "string", valueName: "X", description: "training price in USD per 1M tokens (overrides the table)" },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "DATA" },
  async run(ctx) {
    const file = ctx.positionals[0];
    const provider = str(ctx, "provider") ?? "openai";
    if (!PROVIDERS.includes(provider)) throw usageError(command, `unknown --provider "${provider}" (one of ${PROVIDERS.join(", ")})`);
    const r = await readWithProgress(ctx, command, (read) =>
      adviseFile(file, {
        ...read,
        provider,
        model: str(ctx, "model"),
        callsPerDay: num(ctx, command, "calls-per-day", { min: 0 }),
        promptTokens: num(ctx, command, "prompt-tokens", { integer: true, min: 0 }),
        pricePerMTok: num(ctx, command, "price-per-mtok", { min: 0 }),
        testFile: str(ctx, "test"),
      }),
    );
    if (bool(ctx, "json")) {
      printJson(ctx, r);
      return 0;
    }
    const c = ctx.color;
    ctx.out(`${c.bold("recommendation:")} ${c.bold(c.cyan(r.recommendation))}`);
    ctx.out(r.summary);
    ctx.out("");
    ctx.out(c.bold("why:"));
    for (const reason of r.reasons) ctx.out(`  - ${reason.message}`);
    if (r.moveToRetrieval.length > 0) {
      ctx.out("");
      ctx.out(c.bold(`move to retrieval (${r.factInjection.examples} examples):`));
      for (const m of r.moveToRetrieval.slice(0, 15)) ctx.out(`  ${file}:${m.line}: ${m.specifics.map((s) => `"${s}"`).join(", ")}`);
      if (r.moveToRetrieval.length > 15) ctx.out(c.dim(`  ... use --json for all`));
    }
    return 0;
  },
};

export default command;
