/** `tunekit advise DATA`: prompting, retrieval, fine-tuning or a mix, with the numbers behind it. */
import type { Command } from "../command.js";
import { bool, num, printJson, str, usageError } from "../command.js";
import { adviseFile } from "../../advise/advise.js";
import { readWithProgress, FORMAT_OPTIONS } from "./dataset-output.js";

const PROVIDERS = ["together", "fireworks", "local", "openai", "azure"];

const command: Command = {
  name: "advise",
  summary: "recommend prompting, retrieval, fine-tuning or a mix for a dataset, with the numbers behind it",
  usage: "tunekit advise DATA [--calls-per-day N] [--prompt-tokens N] [--provider P] [--model M] [--test FILE] [--json]",
  details: `Reads the dataset analysis (fact injection, format consistency, size, duplicates, leakage with --test) and the
economics on today's options (a small open model fine-tuned on Together or Fireworks, or locally: prompt tokens a
fine-tune saves per call, training cost, cost per 1,000 calls prompted / with retrieval / tuned, break-even volume, at
list prices with their dates from src/providers/catalog.ts) and recommends one of
prompting, retrieval, fine-tuning, or mix (fine-tune the format, retrieve the facts). Names the examples whose facts
should move to retrieval. Exit codes: 0 advice given, 1 the file has no valid example, 2 usage or I/O problem. --json schema: docs/json.md.`,
  options: {
    "calls-per-day": { type: "string", valueName: "N", description: "expected calls per day (for the break-even time)" },
    "prompt-tokens": { type: "string", valueName: "N", description: "prompt tokens (instructions + examples) a prompted model needs per call that a fine-tune would not" },
    provider: { type: "string", valueName: "P", description: `where you would fine-tune: ${PROVIDERS.join(", ")}`, default: "together" },
    model: { type: "string", valueName: "M", description: "base model to price (default: the provider's small open model, e.g. Qwen/Qwen3-8B on Together)" },
    test: { type: "string", valueName: "FILE", description: "held-out file to check for leakage from DATA" },
    "price-per-mtok": { type: "string", valueName: "X", description: "training price in USD per 1M tokens (overrides the table)" },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "DATA" },
  async run(ctx) {
    const file = ctx.positionals[0];
    const provider = str(ctx, "provider") ?? "together";
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
    const opts = r.economics.options;
    if (opts.length > 0) {
      ctx.out("");
      const asOf = [...new Set(opts.map((o) => o.pricesAsOf).filter(Boolean))].join(", ");
      ctx.out(c.bold(`cost per 1,000 calls: prompted / with retrieval / fine-tuned, and training${asOf ? ` (list prices as of ${asOf})` : ""}:`));
      const money = (x: number | null) => (x === null ? "-" : `$${x.toFixed(4)}`);
      const w = Math.max(...opts.map((o) => `${o.providerLabel} ${o.model}`.length));
      for (const o of opts) {
        const head = `${o.providerLabel} ${o.model}`.padEnd(w);
        if (o.provider === "local") ctx.out(`  ${head}  no bill: CPU time only`);
        else if (o.trainingCost === null) ctx.out(`  ${head}  ${o.note}`);
        else ctx.out(`  ${head}  ${money(o.costPer1kCallsPrompted)} / ${money(o.costPer1kCallsRetrieval)} / ${money(o.costPer1kCallsTuned)}, training ${money(o.trainingCost)}${o.breakEvenCalls !== null ? `, pays back after ${o.breakEvenCalls.toLocaleString("en-US")} calls` : ""}`);
      }
    }
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
