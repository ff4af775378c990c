/** `tunekit eval`: models against held-out data, with a report people want to read. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { bool, num, printJson, str, strList, usageError, type Command } from "../command.js";
import { createProgress, createStatusLine } from "../progress.js";
import { evaluate, type EvalModel } from "../../eval/evaluate.js";
import { checkGates, parseGate, type GateResult } from "../../eval/gates.js";
import { readEvalItems, questionOf, withContext } from "../../eval/items.js";
import { ALL_METRIC_NAMES, AGGREGATE_METRICS, PER_EXAMPLE_METRICS } from "../../eval/metrics.js";
import { readLossCurves, type LossCurves } from "../../eval/overfit.js";
import { createRunner } from "../../eval/runner/create.js";
import { parseModelSpec, parseModelSpecs } from "../../eval/runner/spec.js";
import type { ModelRunner } from "../../eval/runner/types.js";
import { readSchemaFile } from "../../shape/schema-file.js";
import { renderTerminal } from "../../report/terminal.js";
import { writeReport } from "../../report/write.js";
import { fsError } from "../../util/errors.js";
import { baseBitsField } from "../../engine/quant/base.js";

const metricList = [
  ...Object.entries(PER_EXAMPLE_METRICS).map(([k, v]) => `  ${k.padEnd(20)}${v.description}`),
  ...Object.entries(AGGREGATE_METRICS).map(([k, v]) => `  ${k.padEnd(20)}${v}`),
].join("\n");

const cmd: Command = {
  name: "eval",
  summary: "compare models on held-out data: format, similarity, facts, forgetting, cost; HTML + Markdown report",
  usage: "tunekit eval --data HELDOUT.jsonl --model A [--model B ...] -o REPORT_DIR [options]",
  details: `Every model answers every held-out example (the conversation up to the last assistant reply; that
reply is the reference). Later models are compared with the first (the baseline), and the last with each
model in between, by paired bootstrap (2,000 resamples, 95% intervals). Generations are cached in the tunekit
store ($TUNEKIT_HOME), so a rerun makes no calls. Writes report.html, report.md and results.json to -o.

--model takes comma-separated key=value pairs (or a shorthand: a hosted model id, or a local folder):
  name=base,endpoint=http://127.0.0.1:11434/v1,model=llama3        any OpenAI-compatible server
  name=base,model=gpt-4o-mini,system=@long-prompt.txt               OpenAI (key from OPENAI_API_KEY)
  name=tuned,model=ft:gpt-4o-mini-2024-07-18:acme::abc123           a hosted fine-tuned model
  name=tuned,local=HuggingFaceTB/SmolLM2-135M-Instruct,adapter=runs/r1/adapter
  name=tuned,run=runs/r1                                            a local training run folder
  name=tuned,job=ftjob-abc123                                       a job in the tunekit job store
  name=q8,gguf=model-q8_0.gguf                                      a GGUF file run by llama.cpp (node-llama-cpp)
 keys: name, endpoint, model, key_env (env variable with the API key; never pass keys themselves),
       system (text or @FILE: replaces the examples' system prompt for this model), price_in / price_out
       (USD per 1M tokens; known OpenAI models have list prices, local models cost 0), concurrency,
       local, adapter (a PEFT folder with local=, a GGUF adapter with gguf=), run, job, gguf,
       rag (document store for this model only).

--fail-if "METRIC OP NUMBER" (repeatable) exits 1 when the condition holds for the last model; name
another with MODEL.METRIC. Scores are 0..1 (or NN%). Metrics:
${metricList}

Exit codes: 0 done (all gates pass), 1 a gate failed or the data has errors, 2 usage or I/O problem.
--json prints results.json's content with "gates"; schema in docs/json.md.`,
  options: {
    data: { type: "string", valueName: "FILE", description: "held-out examples (chat JSONL or any format tunekit reads)" },
    model: { type: "string", multiple: true, valueName: "SPEC", description: "a model to evaluate (repeat; the first is the baseline)" },
    out: { type: "string", short: "o", valueName: "DIR", description: "report folder", default: "eval-report" },
    schema: { type: "string", valueName: "FILE", description: "JSON schema replies must match (default: inferred from the references)" },
    retention: { type: "boolean", description: "also score tunekit's general-skills retention set (forgetting)" },
    judge: { type: "string", valueName: "SPEC", description: "an LLM judge (same syntax as --model); needs --rubric" },
    rubric: { type: "string", valueName: "FILE", description: "grading rubric for the judge" },
    "fail-if": { type: "string", multiple: true, valueName: "EXPR", description: 'CI gate, e.g. "format_compliance < 0.95" (repeatable)' },
    concurrency: { type: "string", valueName: "N", description: "calls in flight per endpoint model", default: "4" },
    "max-tokens": { type: "string", valueName: "N", description: "reply length limit in tokens", default: "512" },
    temperature: { type: "string", valueName: "T", description: "sampling temperature", default: "0" },
    limit: { type: "string", valueName: "N", description: "evaluate only the first N examples" },
    "train-data": { type: "string", valueName: "FILE", description: "training examples, to measure the train vs held-out gap" },
    "train-limit": { type: "string", valueName: "N", description: "training examples to use for the gap", default: "50" },
    metrics: { type: "string", valueName: "FILE|DIR", description: "training metrics JSONL (or run folder) for loss curves" },
    "training-cost": { type: "string", valueName: "USD", description: "what training cost, for the break-even call volume (hosted jobs: from the store)" },
    rag: { type: "string", valueName: "FILE", description: "document store: add the top chunks to every model's prompt" },
    "rag-k": { type: "string", valueName: "K", description: "chunks to retrieve per question", default: "4" },
    "no-cache": { type: "boolean", description: "do not read or write the generation cache" },
    offline: { type: "boolean", description: "never download models (local models only)" },
    "base-bits": { type: "string", valueName: "4|8|32", description: "local models: keep the linear weights in 4 or 8 bits (faster, smaller; default 32 = float32)" },
    threads: { type: "string", valueName: "N", description: "CPU threads for local models and GGUF files (default: all cores)" },
    json: { type: "boolean", description: "print the results as JSON on stdout" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const cwd = ctx.io.cwd;
    const data = str(ctx, "data");
    if (!data) throw usageError(cmd, "--data is required");
    const specs = strList(ctx, "model");
    if (specs.length === 0) throw usageError(cmd, "give at least one --model");
    const models = parseModelSpecs(specs, cwd);
    const gates = strList(ctx, "fail-if").map((g) => parseGate(g, ALL_METRIC_NAMES));
    for (const g of gates) {
      if (g.model && !models.some((m) => m.name === g.model)) throw usageError(cmd, `--fail-if "${g.source}": no model named "${g.model}"`);
    }
    const concurrency = num(ctx, cmd, "concurrency", { integer: true, min: 1, max: 256 })!;
    const maxTokens = num(ctx, cmd, "max-tokens", { integer: true, min: 1, max: 100_000 })!;
    const temperature = num(ctx, cmd, "temperature", { min: 0, max: 2 })!;
    const limit = num(ctx, cmd, "limit", { integer: true, min: 1 });
    const trainLimit = num(ctx, cmd, "train-limit", { integer: true, min: 1 })!;
    let trainingCost = num(ctx, cmd, "training-cost", { min: 0 });
    const ragK = num(ctx, cmd, "rag-k", { integer: true, min: 1, max: 50 })!;
    if (str(ctx, "judge") && !str(ctx, "rubric")) throw usageError(cmd, "--judge needs --rubric FILE");
    if (str(ctx, "rubric") && !str(ctx, "judge")) throw usageError(cmd, "--rubric goes with --judge SPEC");

    const schemaFile = str(ctx, "schema") ? await readSchemaFile(resolve(cwd, str(ctx, "schema")!)) : undefined;
    const schema = schemaFile?.schema;
    if (schemaFile?.unchecked.length) ctx.err(ctx.errColor.yellow(`warning: the schema's ${schemaFile.unchecked.join(", ")} not checked (tunekit checks type, properties, required, items, enum, const, additionalProperties, anyOf and min/max)`));
    const rubric = str(ctx, "rubric") ? await readText(resolve(cwd, str(ctx, "rubric")!)) : undefined;
    const items = await readEvalItems(resolve(cwd, data), limit !== undefined ? { limit } : {});
    const trainItems = str(ctx, "train-data") ? await readEvalItems(resolve(cwd, str(ctx, "train-data")!), { limit: trainLimit }) : undefined;
    let lossCurves: LossCurves | undefined = str(ctx, "metrics") ? readLossCurves(resolve(cwd, str(ctx, "metrics")!)) : undefined;

    const useCache = !bool(ctx, "no-cache");
    const { openStore } = await import("../../store/store.js");
    const needStore = useCache || models.some((m) => m.source.kind === "job");
    const store = needStore ? openStore({ env: ctx.io.env }) : undefined;
    const ragStores: { close(): void }[] = [];
    const runners: ModelRunner[] = [];
    try {
      // A local model loads (and builds its ONNX Runtime session) on its first uncached call: seconds of
      // work before that model's first answer, said on a status line that the progress bar then overwrites.
      const status = createStatusLine(ctx.io);
      const threads = num(ctx, cmd, "threads", { integer: true, min: 1, max: 1024 });
      const opts = { env: ctx.io.env, cwd, store, cache: useCache, offline: bool(ctx, "offline"), ...baseBitsField(str(ctx, "base-bits")), ...(threads !== undefined ? { threads } : {}), onLoading: (name: string) => status.show(`evaluating: loading ${name} ...`) };
      const evalModels: EvalModel[] = [];
      for (const m of models) {
        const c = await createRunner(m, opts);
        runners.push(c.runner);
        if (c.lossCurves && !lossCurves) lossCurves = c.lossCurves;
        if (c.trainingCostUsd !== undefined && trainingCost === undefined) trainingCost = c.trainingCostUsd;
        const ragFile = m.rag ?? (str(ctx, "rag") ? resolve(cwd, str(ctx, "rag")!) : undefined);
        let augment: EvalModel["augment"];
        if (ragFile) {
          const rag = await import("../../rag/index.js");
          const rs = rag.openRagStore(ragFile, { create: false });
          ragStores.push(rs);
          augment = (prompt) => {
            const q = questionOf({ id: "", prompt, reference: "" });
            return withContext(prompt, rag.formatRagContext(rag.retrieve(rs, q, ragK)));
          };
        }
        evalModels.push({
          name: m.name,
          runner: c.runner,
          ...(m.system !== undefined ? { system: m.system } : {}),
          ...(c.price ? { price: c.price } : {}),
          concurrency: m.concurrency ?? c.concurrency ?? concurrency,
          ...(augment ? { augment } : {}),
        });
      }
      let judge: { runner: ModelRunner; rubric: string } | undefined;
      if (str(ctx, "judge")) {
        const j = await createRunner(parseModelSpec(str(ctx, "judge")!, 0, cwd), opts);
        runners.push(j.runner);
        judge = { runner: j.runner, rubric: rubric! };
      }

      const progress = createProgress(ctx.io, { label: "evaluating", unit: "calls" });
      let result;
      try {
        result = await evaluate({
          items,
          models: evalModels,
          ...(schema ? { schema } : {}),
          params: { temperature, maxTokens },
          retention: bool(ctx, "retention"),
          ...(judge ? { judge } : {}),
          ...(trainItems ? { trainItems } : {}),
          ...(lossCurves ? { lossCurves } : {}),
          ...(trainingCost !== undefined ? { trainingCostUsd: trainingCost } : {}),
          dataFile: data,
          onProgress: (done, total, what) => {
            progress.setTotal(total);
            progress.update(done, what);
          },
        });
      } finally {
        progress.finish();
        status.clear();
      }
      const metrics = Object.fromEntries(result.models.map((m) => [m.name, m.aggregate]));
      const gateResults: GateResult[] = checkGates(gates, metrics, result.models[result.models.length - 1].name);
      const outDir = resolve(cwd, str(ctx, "out")!);
      const paths = await writeReport(outDir, result, gateResults);
      if (bool(ctx, "json")) {
        printJson(ctx, { ...result, gates: gateResults, report: paths });
      } else {
        for (const line of renderTerminal(result, ctx.color, gateResults)) ctx.out(line);
        ctx.out("");
        ctx.out(`report: ${paths.html}`);
        const cached = result.models.reduce((n, m) => n + m.examples.filter((e) => e.cached).length, 0);
        if (cached) ctx.err(ctx.errColor.dim(`${cached} replies came from the generation cache (--no-cache to regenerate)`));
      }
      return gateResults.some((g) => g.failed) ? 1 : 0;
    } finally {
      for (const r of runners) await r.close?.();
      for (const r of ragStores) r.close();
      store?.close();
    }
  },
};

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw fsError(e, path);
  }
}

export default cmd;
