/**
 * Behaviour: a leak-free split of the support tickets, a LoRA trained with a short prompt, and the
 * held-out comparison against the base model with the short prompt and with the long prompt + examples.
 */
import { join } from "node:path";
import { splitFile } from "../dataset/split.js";
import { evaluate, type EvalModel } from "../eval/evaluate.js";
import { readEvalItems } from "../eval/items.js";
import { createRunRunner } from "../eval/runner/local.js";
import { writeReport } from "../report/write.js";
import { TunekitError } from "../util/errors.js";
import type { DemoContext } from "./context.js";
import { REFERENCE_PRICE, SHORT_SUPPORT_PROMPT } from "./settings.js";
import { runTraining } from "./training.js";
import type { DemoResult, PromptConfigResult } from "./types.js";
import { fewShotMessages, limit, readJsonl, withSystem, writeJsonl } from "./workspace.js";

export async function behaviourStages(ctx: DemoContext): Promise<DemoResult["behaviour"]> {
  const { settings: s, files } = ctx;
  // The tuned model is trained and evaluated with the short prompt.
  ctx.stage("split");
  const dataDir = join(ctx.outDir, "data");
  const split = await splitFile(files.support, { testFraction: 0.2, seed: s.seed, outDir: join(dataDir, "support") });
  const trainExamples = readJsonl(split.train.path);
  const testExamples = readJsonl(split.test.path);
  const trainShort = join(dataDir, "support-train-short.jsonl");
  const testShort = join(dataDir, "support-test-short.jsonl");
  await writeJsonl(trainShort, withSystem(trainExamples, SHORT_SUPPORT_PROMPT));
  await writeJsonl(testShort, withSystem(testExamples, SHORT_SUPPORT_PROMPT));
  const longPrompt = trainExamples[0].messages.find((m) => m.role === "system")?.content;
  if (typeof longPrompt !== "string") throw new TunekitError("demo_data_invalid", "the support dataset has no system prompt", { file: files.support });
  const shots = fewShotMessages(trainExamples.slice(0, s.fewShot));

  ctx.stage("train behaviour");
  const run = await runTraining(ctx, trainShort, "behaviour", testShort, trainExamples.length);

  ctx.stage("evaluate behaviour");
  const tuned = await createRunRunner(run.result.runDir, ctx.runnerOptions);
  ctx.runners.push(tuned);
  const heldOut = limit(await readEvalItems(split.test.path), s.heldOutLimit);
  const price = { inputPerM: REFERENCE_PRICE.inputPerM, outputPerM: REFERENCE_PRICE.outputPerM };
  const models: EvalModel[] = [
    { name: "base, short prompt", runner: ctx.base, system: SHORT_SUPPORT_PROMPT, price, concurrency: 1 },
    {
      name: "base, long prompt + examples",
      runner: ctx.base,
      system: longPrompt,
      price,
      concurrency: 1,
      augment: (prompt) => [prompt[0], ...shots, ...prompt.slice(1)],
    },
    { name: "tuned, short prompt", runner: tuned, system: SHORT_SUPPORT_PROMPT, price, concurrency: 1 },
  ];
  const result = await evaluate({ items: heldOut, models, params: ctx.params, onProgress: ctx.options.onProgress, dataFile: split.test.path });
  const reportDir = join(ctx.outDir, "behaviour");
  await writeReport(reportDir, result);

  const descriptions = [
    `the base model with only "${SHORT_SUPPORT_PROMPT}"`,
    `the base model with the dataset's full instruction prompt and ${s.fewShot} worked example(s)`,
    `the LoRA-tuned model with only "${SHORT_SUPPORT_PROMPT}"`,
  ];
  const configs: PromptConfigResult[] = result.models.map((m, i) => ({
    name: m.name,
    description: descriptions[i],
    formatCompliance: m.aggregate.format_compliance ?? null,
    meanTokensIn: m.economics.meanTokensIn,
    meanTokensOut: m.economics.meanTokensOut,
    costPer1kCalls: m.economics.costPer1kCalls,
    failedCalls: m.economics.failedCalls,
  }));
  return {
    trainExamples: trainExamples.length,
    heldOutExamples: heldOut.length,
    train: run.summary,
    configs,
    verdicts: result.headline,
    reportDir,
  };
}
