/** `tunekit distill`: a teacher model answers real prompts; the good answers become training data. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { bool, num, printJson, str, usageError, type Command, type CommandContext } from "../command.js";
import { createProgress, createStatusLine } from "../progress.js";
import { removeLiveTempFiles } from "../../util/fs.js";
import { fsError } from "../../util/errors.js";
import { DROP_REASONS, type DistillEstimate, type DistillReport } from "../../distill/distill.js";
import type { PromptFileFormat } from "../../distill/prompts.js";
import type { CallStats } from "../../distill/caller.js";
import { baseBitsField } from "../../engine/quant/base.js";

const cmd: Command = {
  name: "distill",
  summary: "training data from a teacher model: it answers your prompts, the answers with the right format are kept",
  usage: "tunekit distill PROMPTS --teacher SPEC -o OUT.jsonl [options]",
  details: `PROMPTS is a chat JSONL file ({"messages": [...]} per line; a last assistant reply is dropped from the
prompt and kept as the reference, which the judge sees), a JSONL of {"prompt": "..."}, a text file with one
prompt per line, or a CSV file with a prompt column (prompt, question, instruction, user or query, or
--prompt-column). The teacher answers every prompt; an answer is kept when it is not empty, was not cut off
at --max-tokens and has the --format. OUT is OpenAI chat JSONL (the prompt, then the kept answer), written
at the end in one go: never a partial file.

--teacher takes what \`tunekit eval --model\` takes:
  ft:gpt-4o-mini-2024-07-18:acme::abc123                          an OpenAI model (key in OPENAI_API_KEY)
  "endpoint=https://api.together.xyz/v1,model=Qwen/Qwen3-235B-A22B,key_env=TOGETHER_API_KEY"
  "endpoint=http://127.0.0.1:11434/v1,model=llama3.1"              Ollama, vLLM, llama.cpp's server
  "local=HuggingFaceTB/SmolLM2-135M-Instruct,adapter=runs/r1/adapter"   a local model (or run=DIR)
 system=@FILE in the spec gives the teacher its own system prompt (e.g. long instructions with
 examples), while the examples get --system (or the prompts' own): the student learns to answer without it.

--format:  json                       the answer parses as JSON (no code fence)
           json-schema=FILE           ... and matches the JSON Schema in FILE (--schema FILE is the same)
           "line-template=A: / B:"    the answer is these labelled lines, in this order
           line-template              the line template the reference replies follow

--n K asks for up to K answers per prompt (needs --temperature > 0; answer k is sampled with seed
--seed + k): without --judge the next answer is asked for only when the ones before were dropped; with
--judge SPEC all K are asked for and the judge picks the best that passes the format (--rubric FILE).

Every call goes through the generation cache in $TUNEKIT_HOME/tunekit.db: after Ctrl-C, a crash or
--max-cost, rerunning the same command asks nothing twice. --max-cost USD limits what this run spends on
new calls (cached answers are free): a call is sent only when its worst case (prompt + --max-tokens) still
fits; when the budget stops the run, OUT holds the prompts answered so far and the exit code is 1.
Prices come from the provider catalog (OpenAI, Together, Fireworks list prices) or price_in=/price_out= in
the spec; a local teacher costs nothing; an unknown price is reported as unknown.

Exit codes: 0 done, 1 stopped by --max-cost (OUT holds what was kept so far), no answer kept, or bad
prompt lines, 2 usage, I/O or teacher problems (bad key, unreachable), 130 Ctrl-C (answers so far cached).
--json prints the report as one JSON object; schema in docs/json.md.`,
  options: {
    teacher: { type: "string", valueName: "SPEC", description: "the model that answers (same syntax as eval's --model)" },
    out: { type: "string", short: "o", valueName: "FILE", description: "the training file to write (OpenAI chat JSONL)" },
    system: { type: "string", valueName: "TEXT|@FILE", description: 'system prompt of every example (replaces the prompts\' own; "" removes it)' },
    format: { type: "string", valueName: "SPEC", description: "keep answers in this format: json, json-schema=FILE, line-template[=LABELS]" },
    schema: { type: "string", valueName: "FILE", description: "same as --format json-schema=FILE" },
    n: { type: "string", valueName: "K", description: "answers per prompt, at most", default: "1" },
    temperature: { type: "string", valueName: "T", description: "sampling temperature", default: "0" },
    seed: { type: "string", valueName: "S", description: "seed of the first sampled answer (answer k: S + k)", default: "0" },
    "max-tokens": { type: "string", valueName: "N", description: "longest answer in tokens (answers cut off there are dropped)", default: "1024" },
    judge: { type: "string", valueName: "SPEC", description: "a model that picks the best of the answers that pass (needs --n > 1)" },
    rubric: { type: "string", valueName: "FILE", description: "the judge's grading rubric (default: correct, complete, follows the system prompt)" },
    concurrency: { type: "string", valueName: "N", description: "calls in flight (a local teacher batches instead)", default: "4" },
    "max-cost": { type: "string", valueName: "USD", description: "spend at most this much on new calls, then stop cleanly" },
    "input-format": { type: "string", valueName: "jsonl|text|csv", description: "how to read PROMPTS (default: by extension and content)" },
    "prompt-column": { type: "string", valueName: "NAME", description: "CSV: the column that holds the prompt" },
    offline: { type: "boolean", description: "never download models (local teacher or judge)" },
    "base-bits": { type: "string", valueName: "4|8|32", description: "local models: keep the linear weights in 4 or 8 bits (faster, smaller; default 32 = float32)" },
    json: { type: "boolean", description: "print the report as JSON on stdout" },
  },
  positionals: { min: 1, max: 1, names: "PROMPTS" },
  async run(ctx) {
    const cwd = ctx.io.cwd;
    const teacher = str(ctx, "teacher");
    if (!teacher) throw usageError(cmd, "--teacher is required (the model that answers the prompts)");
    const out = str(ctx, "out");
    if (!out) throw usageError(cmd, "-o OUT.jsonl is required");
    const n = num(ctx, cmd, "n", { integer: true, min: 1, max: 100 })!;
    const temperature = num(ctx, cmd, "temperature", { min: 0, max: 2 })!;
    const seed = num(ctx, cmd, "seed", { integer: true, min: 0, max: 2 ** 31 - 1 })!;
    const maxTokens = num(ctx, cmd, "max-tokens", { integer: true, min: 1, max: 1_000_000 })!;
    const concurrency = num(ctx, cmd, "concurrency", { integer: true, min: 1, max: 256 })!;
    const maxCost = num(ctx, cmd, "max-cost", { min: 0 });
    if (n > 1 && temperature === 0) throw usageError(cmd, `--n ${n} needs --temperature above 0: at 0 every answer is the same`);
    if (str(ctx, "judge") && n === 1) throw usageError(cmd, "--judge picks the best of several answers: add --n K (K > 1) and --temperature");
    if (str(ctx, "rubric") && !str(ctx, "judge")) throw usageError(cmd, "--rubric goes with --judge SPEC");
    if (str(ctx, "schema") && str(ctx, "format")) throw usageError(cmd, "give --format or --schema, not both (--schema FILE is --format json-schema=FILE)");
    const inputFormat = str(ctx, "input-format");
    if (inputFormat !== undefined && !["jsonl", "text", "csv"].includes(inputFormat)) throw usageError(cmd, `--input-format must be jsonl, text or csv, got "${inputFormat}"`);
    const format = str(ctx, "schema") ? `json-schema=${str(ctx, "schema")}` : str(ctx, "format");
    const system = await textOrFile(str(ctx, "system"), cwd);
    const rubric = str(ctx, "rubric") ? await textOrFile(`@${str(ctx, "rubric")}`, cwd) : undefined;
    const json = bool(ctx, "json");

    const status = createStatusLine(ctx.io);
    const progress = createProgress(ctx.io, { label: "distilling", unit: "prompts", showRate: false });
    // Ctrl-C: every finished answer is already in the cache; the calls in flight are dropped.
    const onSigint = () => {
      progress.finish();
      status.clear();
      removeLiveTempFiles();
      ctx.err("distill: interrupted; the answers so far are cached: rerun the same command to continue without asking again");
      process.exit(130);
    };
    process.on("SIGINT", onSigint);
    const started = Date.now();
    let report: DistillReport;
    try {
      const { distill } = await import("../../distill/distill.js");
      report = await distill({
        prompts: ctx.positionals[0],
        teacher,
        out,
        n,
        temperature,
        seed,
        maxTokens,
        concurrency,
        ...(format !== undefined ? { format } : {}),
        ...(system !== undefined ? { system } : {}),
        ...(str(ctx, "judge") ? { judge: str(ctx, "judge")! } : {}),
        ...(rubric !== undefined ? { rubric } : {}),
        ...(maxCost !== undefined ? { maxCostUsd: maxCost } : {}),
        ...(inputFormat ? { inputFormat: inputFormat as PromptFileFormat } : {}),
        ...(str(ctx, "prompt-column") ? { promptColumn: str(ctx, "prompt-column")! } : {}),
        offline: bool(ctx, "offline"),
        ...baseBitsField(str(ctx, "base-bits")),
        env: ctx.io.env,
        cwd,
        onLoading: (label) => status.show(`distilling: loading ${label} ...`),
        onEstimate: (e) => {
          if (!json) ctx.err(estimateLine(e, maxCost));
        },
        onProgress: (p) => {
          progress.setTotal(p.prompts);
          const secs = (Date.now() - started) / 1000;
          const rate = secs > 0 ? p.calls / secs : 0;
          const cost = p.costUsd === null ? "cost unknown" : `$${p.costUsd.toFixed(4)}`;
          progress.update(p.done, p.retrying ?? `${rate.toFixed(1)} calls/s ${cost}${p.cached ? ` ${p.cached} cached` : ""}`);
        },
      });
    } finally {
      progress.finish();
      status.clear();
      process.off("SIGINT", onSigint);
    }
    if (json) printJson(ctx, report);
    else for (const line of renderReport(report, ctx)) ctx.out(line);
    return report.complete ? 0 : 1;
  },
};

async function textOrFile(value: string | undefined, cwd: string): Promise<string | undefined> {
  if (value === undefined || !value.startsWith("@")) return value;
  const path = resolve(cwd, value.slice(1));
  try {
    return (await readFile(path, "utf8")).replace(/\s+$/, "");
  } catch (e) {
    throw fsError(e, path);
  }
}

const usd = (x: number) => (x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(4)}`);
const count = (x: number) => x.toLocaleString("en-US");

function estimateLine(e: DistillEstimate, maxCost: number | undefined): string {
  const cached = e.cachedAnswers ? `; ${count(e.cachedAnswers)} answers cached from an earlier run` : "";
  if (e.callsUpTo === 0) return `estimate: no call to make${cached}`;
  const cost =
    e.costUpToUsd === null
      ? "cost unknown (no price for the teacher)"
      : `${e.costExpectedUsd !== null ? `about ${usd(e.costExpectedUsd)}, ` : ""}at most ${usd(e.costUpToUsd)} if every answer ran to --max-tokens`;
  const budget = maxCost !== undefined && e.costUpToUsd !== null && e.costUpToUsd > maxCost ? `; --max-cost ${usd(maxCost)} may stop the run before the end` : "";
  return `estimate: up to ${count(e.callsUpTo)} calls, ${count(e.inputTokens)} input tokens, ${cost}${e.judgeNotIncluded ? " (judge calls not included)" : ""}${cached}${budget}`;
}

function costText(stats: CallStats, price: DistillReport["teacher"]["price"], source: string | null, who: string): string {
  if (stats.costUsd === null || price === null) return `unknown: no price is known for the ${who} (add price_in=USD,price_out=USD per 1M tokens to its spec)`;
  const cached = stats.cached > 0 && stats.cachedCostUsd ? ` (the cached answers were worth ${usd(stats.cachedCostUsd)})` : "";
  return `${usd(stats.costUsd)} this run${cached}, at $${price.inputPerM} in / $${price.outputPerM} out per 1M tokens: ${source ?? "given in the spec"}`;
}

function renderReport(r: DistillReport, ctx: CommandContext): string[] {
  const c = ctx.color;
  const lines: string[] = [];
  lines.push(`${r.output.file}: ${count(r.kept)} example${r.kept === 1 ? "" : "s"} from ${count(r.input.prompts)} prompts, answered by ${r.teacher.name} (${r.teacher.resolved})`);
  lines.push(`  format     ${r.params.format}`);
  const dropped = DROP_REASONS.filter((k) => r.dropped[k] > 0);
  if (dropped.length === 0) lines.push(`  dropped    none`);
  else {
    lines.push(`  dropped    ${dropped.map((k) => `${k} ${count(r.dropped[k])}`).join(", ")}`);
    for (const d of r.drops.filter((x) => x.reason !== "not_reached").slice(0, 5)) lines.push(c.dim(`    ${r.input.file}:${d.line}: ${d.reason}: ${d.detail}`));
    const listed = r.drops.filter((x) => x.reason !== "not_reached").length;
    if (listed > 5) lines.push(c.dim(`    ... (${listed - 5} more; --json lists them)`));
  }
  const t = r.calls.teacher;
  lines.push(`  answers    ${count(r.answers.total)} looked at, ${count(r.answers.passed)} passed`);
  lines.push(`  calls      ${count(t.made)} made, ${count(t.cached)} from the cache, ${count(t.failed)} failed, ${count(t.retries)} retries`);
  lines.push(`  tokens     ${count(t.tokensIn)} in + ${count(t.tokensOut)} out this run${t.cached ? `; cached answers: ${count(t.cachedTokensIn)} in + ${count(t.cachedTokensOut)} out` : ""}`);
  lines.push(`  cost       ${costText(t, r.teacher.price, r.teacher.priceSource, "teacher")}`);
  if (r.judge && r.calls.judge) {
    const j = r.calls.judge;
    lines.push(`  judge      ${r.judge.name}: ${count(j.made)} calls, ${count(j.cached)} cached, ${count(j.failed)} failed; ${count(j.tokensIn)} in + ${count(j.tokensOut)} out; ${costText(j, r.judge.price, r.judge.priceSource, "judge")}`);
  }
  for (const w of r.warnings) lines.push(`  ${c.yellow("warning")}    ${w}`);
  if (r.stopped) lines.push(`  ${c.yellow("stopped")}    ${r.stopped.message}; rerun with a higher --max-cost to go on (the answers so far cost nothing again)`);
  return lines;
}

export default cmd;
