/**
 * `tunekit demo`: the whole workflow on the bundled examples, measured end to end, to show the rule
 * tunekit exists to teach: fine-tune for behaviour, retrieve for knowledge.
 *
 *   validate -> advise -> split -> train (behaviour) -> eval base (short / long prompt) vs tuned (short prompt)
 *            -> train (policy facts) -> eval trained / paraphrased / never-trained questions
 *            -> change the policy -> ask the tuned model again (stale) -> retrieval before and after
 *
 * Every number in the result was measured in this run; nothing is filled in from elsewhere. The stages
 * live in behaviour.ts and knowledge.ts; this module prepares the run and checks the data first.
 */
import { resolve, join } from "node:path";
import { adviseFile } from "../advise/advise.js";
import { validateFile } from "../dataset/validate/index.js";
import { createLocalRunner } from "../eval/runner/local.js";
import { resolveModelDir } from "../hub/resolve.js";
import { TunekitError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { behaviourStages } from "./behaviour.js";
import type { DemoContext, DemoOptions } from "./context.js";
import { findings } from "./findings.js";
import { knowledgeStages } from "./knowledge.js";
import { DEFAULT_DEMO_MODEL, REFERENCE_PRICE, demoSettings, exampleFiles } from "./settings.js";
import type { DemoResult } from "./types.js";
import { checkOutDir } from "./workspace.js";

export type { DemoOptions } from "./context.js";

const STAGES = ["validate", "advise", "split", "train behaviour", "evaluate behaviour", "train facts", "evaluate facts", "retrieval and policy change", "report"];

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const settings = demoSettings(options.quick === true);
  const files = exampleFiles();
  const outDir = resolve(options.outDir);
  const clearEarlierDemo = checkOutDir(outDir);
  const spec = options.model ?? DEFAULT_DEMO_MODEL;
  const modelDir = await resolveModelDir(spec, { offline: options.offline, env: options.env }).catch((e: unknown) => {
    if (e instanceof TunekitError && e.code === "network_unavailable") {
      throw new TunekitError(e.code, e.message, {
        hint: "connect once so the model is cached, or run offline on a local Llama-family model folder: tunekit demo --quick --model DIR",
        cause: e,
      });
    }
    throw e;
  });
  clearEarlierDemo();
  await ensureDir(outDir);
  await writeFileAtomic(join(outDir, ".tunekit-demo"), "tunekit demo output: safe to delete\n");
  let stageIndex = 0;
  const stage = (name: string) => options.onStage?.({ index: ++stageIndex, total: STAGES.length, name });

  const validation = await validateStage(files, stage);
  const advice = await adviseStage(files, stage);

  const runnerOptions = { threads: options.threads, offline: true as const, env: options.env };
  const base = createLocalRunner({ model: modelDir, label: "base", ...runnerOptions });
  const ctx: DemoContext = {
    options,
    settings,
    files,
    outDir,
    modelDir,
    runnerOptions,
    base,
    runners: [base],
    params: { temperature: 0, maxTokens: settings.maxTokens, seed: settings.seed },
    stage,
  };
  try {
    const behaviour = await behaviourStages(ctx);
    const { knowledge, retrieval } = await knowledgeStages(ctx);
    stage("report");
    const result: DemoResult = {
      tool: "tunekit-demo",
      createdAt: new Date().toISOString(),
      model: { spec, dir: modelDir },
      settings,
      price: REFERENCE_PRICE,
      seconds: 0,
      validation,
      advice,
      behaviour,
      knowledge,
      retrieval,
      findings: [],
    };
    result.findings = findings(result);
    result.seconds = (Date.now() - t0) / 1000;
    return result;
  } finally {
    for (const r of ctx.runners) await r.close?.();
  }
}

/** Both datasets validated: the behaviour set is clean, the policy set is flagged as fact injection. */
async function validateStage(files: DemoContext["files"], stage: DemoContext["stage"]): Promise<DemoResult["validation"]> {
  stage("validate");
  const validation: DemoResult["validation"] = [];
  for (const file of [files.support, files.policyFacts]) {
    const r = await validateFile(file);
    validation.push({
      file,
      examples: r.examples,
      errors: r.errorCount,
      warnings: r.warningCount,
      factInjection: r.counts.warnings.fact_injection ?? 0,
    });
    if (r.errorCount > 0) throw new TunekitError("demo_data_invalid", `the bundled dataset ${file} has ${r.errorCount} error(s)`, { file });
  }
  return validation;
}

/** What each dataset is good for, before anything is spent on training. */
async function adviseStage(files: DemoContext["files"], stage: DemoContext["stage"]): Promise<DemoResult["advice"]> {
  stage("advise");
  const advice: DemoResult["advice"] = [];
  for (const file of [files.support, files.policyFacts]) {
    const a = await adviseFile(file);
    advice.push({ file, recommendation: a.recommendation, summary: a.summary });
  }
  return advice;
}
