/** `tunekit stats FILE`: distributions, histogram, hosted cost, reply-shape consistency, fact verdict. */
import { readFile } from "node:fs/promises";
import type { Command, CommandContext } from "../command.js";
import { bool, num, printJson, str, usageError } from "../command.js";
import { computeStats, DEFAULT_STATS_MODEL, type StatsReport } from "../../dataset/analysis/stats-file.js";
import type { Distribution } from "../../util/distribution.js";
import { TunekitError, fsError } from "../../util/errors.js";
import { HOSTED_PROVIDERS, trainingOptions, type TrainingOption } from "../../providers/catalog.js";
import { readWithProgress, FORMAT_OPTIONS } from "./dataset-output.js";

const command: Command = {
  name: "stats",
  summary: "token and message distributions, hosted training cost, reply-format consistency, fact injection",
  usage: "tunekit stats FILE [--model M] [--provider P] [--json] [--price-per-mtok X | --prices FILE]",
  details: `Counts tokens with the tokenizer of --model (an OpenAI model, a local Hugging Face folder or a hub id);
without one with ${DEFAULT_STATS_MODEL}, and every example is checked against a per-example limit (the model's, or
32,768 tokens without a model). Estimates fine-tuning with OpenAI's default epochs (3; raised when 3n < 100, lowered
when 3n > 25,000) at the providers' list prices (src/providers/catalog.ts, with their dates): --provider's price,
or today's options (a small open model on Together and on Fireworks, and this machine). Override with
--price-per-mtok or --prices FILE (a JSON object {"model": USD per 1M tokens}).
Exit codes: 0 done, 1 the file has no valid example, 2 usage or I/O problem. --json schema: docs/json.md.`,
  options: {
    model: { type: "string", valueName: "M", description: `tokenizer model (default ${DEFAULT_STATS_MODEL}, limit 32,768 tokens per example)` },
    provider: { type: "string", valueName: "P", description: `price the estimate at this provider (${["local", ...HOSTED_PROVIDERS].join(", ")})` },
    "price-per-mtok": { type: "string", valueName: "X", description: "training price in USD per 1M tokens (overrides the table)" },
    prices: { type: "string", valueName: "FILE", description: 'JSON price table {"model": USD per 1M training tokens}' },
    json: { type: "boolean", description: "print the report as JSON" },
    ...FORMAT_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: "FILE" },
  async run(ctx) {
    const file = ctx.positionals[0];
    const pricePerMTok = num(ctx, command, "price-per-mtok", { min: 0 });
    const pricesFile = str(ctx, "prices");
    if (pricePerMTok !== undefined && pricesFile !== undefined) throw usageError(command, "use either --price-per-mtok or --prices, not both");
    const priceOverrides = pricesFile ? await readPriceFile(pricesFile) : undefined;
    const provider = str(ctx, "provider");
    if (provider !== undefined && !["local", ...HOSTED_PROVIDERS].includes(provider)) throw usageError(command, `unknown --provider "${provider}" (one of local, ${HOSTED_PROVIDERS.join(", ")})`);
    const model = str(ctx, "model");
    const override = pricePerMTok ?? (model && priceOverrides ? priceOverrides[model] : undefined);
    const report: StatsReport = await readWithProgress(ctx, command, (read) => computeStats(file, { ...read, ...(model !== undefined ? { model } : {}) }));
    const options = trainingOptions(report.hosted.billedTokens, { ...(provider ? { provider } : {}), ...(model ? { model } : {}), ...(override !== undefined ? { pricePerMTok: override } : {}) });
    for (const o of options) if (priceOverrides?.[o.model] !== undefined && o.pricePerMTok !== priceOverrides[o.model]) Object.assign(o, { pricePerMTok: priceOverrides[o.model], cost: Math.round((o.billedTokens / 1e6) * priceOverrides[o.model] * 10000) / 10000, covers: "the price you gave" });
    const first = options[0];
    report.hosted = {
      ...report.hosted,
      model: first.model,
      ...(first.pricePerMTok !== undefined ? { pricePerMTok: first.pricePerMTok, cost: first.cost! } : {}),
      ...(first.pricesAsOf ? { pricesAsOf: first.pricesAsOf } : {}),
    };
    if (bool(ctx, "json")) printJson(ctx, { ...report, hostedOptions: options });
    else printReport(ctx, report, options);
    return report.examples === 0 ? 1 : 0;
  },
};

async function readPriceFile(path: string): Promise<Record<string, number>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw fsError(e, path);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TunekitError("invalid_price_file", `the price file is not valid JSON: ${(e as Error).message}`, { file: path, hint: 'write {"Qwen/Qwen3-8B": 1.0}' });
  }
  if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.values(v).every((x) => typeof x === "number" && x >= 0)) {
    throw new TunekitError("invalid_price_file", "the price file must be a JSON object of model name -> USD per 1M training tokens", {
      file: path,
      hint: 'write {"Qwen/Qwen3-8B": 1.0}',
    });
  }
  return v as Record<string, number>;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });

function row(label: string, d: Distribution | undefined): string {
  if (!d) return `  ${label.padEnd(22)}(not counted)`;
  const cells = [d.min, d.p5, d.median, d.mean, d.p95, d.max].map((x) => fmt(x, 1).padStart(9));
  return `  ${label.padEnd(22)}${cells.join("")}`;
}

function printReport(ctx: CommandContext, r: StatsReport, options: TrainingOption[]): void {
  const c = ctx.color;
  const s = r.stats;
  ctx.out(`${c.bold(r.file)}: ${fmt(r.examples)} examples (${r.format})${r.invalidRecords ? c.yellow(`, ${fmt(r.invalidRecords)} invalid records skipped (see tunekit validate)`) : ""}`);
  ctx.out(`tokens counted with ${r.model}'s tokenizer`);
  ctx.out("");
  ctx.out(`  ${"per example".padEnd(22)}${["min", "p5", "median", "mean", "p95", "max"].map((h) => h.padStart(9)).join("")}`);
  ctx.out(row("messages", s.messages));
  ctx.out(row("tokens", s.tokens));
  ctx.out(row("assistant tokens", s.assistantTokens));
  ctx.out("");
  const bins = s.histogram.bins;
  if (bins.length > 0) {
    ctx.out(`${s.histogram.of} per example:`);
    const maxCount = Math.max(...bins.map((b) => b.count));
    for (const b of bins) {
      const bar = "█".repeat(Math.round((b.count / maxCount) * 40));
      const range = `${fmt(b.from)}-${fmt(b.to)}`;
      ctx.out(`  ${range.padStart(17)} ${c.cyan(bar)} ${b.count}`);
    }
    ctx.out("");
  }
  const h = r.hosted;
  const asOf = [...new Set(options.map((o) => o.pricesAsOf).filter(Boolean))].join(", ");
  ctx.out(`fine-tuning estimate: ${h.epochs} epoch${h.epochs === 1 ? "" : "s"} x ${fmt(h.datasetTokens)} tokens = ${fmt(h.billedTokens)} billed tokens${asOf ? ` (list prices as of ${asOf}; override with --price-per-mtok)` : ""}`);
  const width = Math.max(...options.map((o) => `${o.providerLabel} ${o.model}`.length));
  for (const o of options) {
    const what = `${o.providerLabel} ${o.model}`.padEnd(width);
    const cost = o.provider === "local" ? "$0 (CPU time only)" : o.cost !== undefined ? `~ $${o.cost.toFixed(2)} at $${o.pricePerMTok}/1M tokens (${o.covers})` : "no price known (--price-per-mtok sets one)";
    ctx.out(`  ${what}  ${cost}`);
  }
  if (s.overTokenLimit > 0) ctx.out(c.red(`  ${s.overTokenLimit} example(s) exceed the ${fmt(s.tokenLimit ?? 0)}-token limit and would be truncated`));
  ctx.out("");
  ctx.out(c.bold("consistency"));
  const shape = r.replyShape;
  if (shape.kind === "json") {
    ctx.out(`  replies are JSON: ${(shape.json.parseRate * 100).toFixed(0)}% parse, ${((shape.json.schemaConformance ?? 0) * 100).toFixed(0)}% of those fit the inferred schema`);
    ctx.out(`  schema: ${JSON.stringify(shape.json.schema)}`);
  } else if (shape.kind === "line-template" && shape.template) {
    ctx.out(`  replies follow the line template "${shape.template.slots.join(" / ")}": ${(shape.conformance * 100).toFixed(0)}%`);
  } else {
    ctx.out(`  replies are free text (no JSON, no dominant line template)`);
  }
  ctx.out(`  language: ${shape.language.dominant} (${(shape.language.share * 100).toFixed(0)}% of replies with a recognisable language)`);
  ctx.out(`  reply length: median ${fmt(shape.length.median)} characters (p5 ${fmt(shape.length.p5)}, p95 ${fmt(shape.length.p95)})`);
  if (r.outliers.length > 0) {
    ctx.out(c.yellow(`  outliers (${fmt(s.shape.outliers + s.lengthOutliers)}):`));
    for (const o of r.outliers.slice(0, 10)) ctx.out(`    ${r.file}:${o.line}: ${o.message}`);
    if (r.outliers.length > 10) ctx.out(c.dim(`    ... use --json for all`));
  }
  const sp = s.systemPrompts;
  ctx.out(`  system prompts: ${sp.variants} variant${sp.variants === 1 ? "" : "s"} in ${fmt(sp.withSystem)} examples`);
  for (const v of sp.top.slice(0, 3)) ctx.out(c.dim(`    ${fmt(v.count).padStart(6)} x "${v.preview}${v.preview.length >= 100 ? "..." : ""}" (first at line ${v.firstLine})`));
  const d = s.duplicates;
  ctx.out(`  duplicates: ${d.exact} exact, ${d.near} near (${d.nearGroups} groups), ${d.conflicting} conflicting answers`);
  ctx.out("");
  const f = s.factInjection;
  const verdict = f.verdict === "behaviour" ? c.green(f.message) : c.yellow(f.message);
  ctx.out(`${c.bold("fact injection")}: ${verdict}`);
  if (f.lines.length > 0) ctx.out(c.dim(`  lines: ${f.lines.slice(0, 20).join(", ")}${f.lines.length > 20 ? ", ..." : ""}`));
}

export default command;
