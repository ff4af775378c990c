/**
 * Knowledge: a LoRA trained on the policy facts, asked trained, paraphrased and never-trained questions
 * next to the base model with retrieval; then the policy changes, and only retrieval follows it.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ChatMessage } from "../dataset/types.js";
import { evaluate, type EvalModel, type EvalResult } from "../eval/evaluate.js";
import { questionOf, readEvalItems, withContext } from "../eval/items.js";
import { createRunRunner } from "../eval/runner/local.js";
import type { ModelRunner } from "../eval/runner/types.js";
import { formatRagContext, indexDocuments, openRagStore, retrieve } from "../rag/index.js";
import { writeReport } from "../report/write.js";
import { TunekitError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import type { DemoContext } from "./context.js";
import { POLICY_CHANGE } from "./settings.js";
import { runTraining } from "./training.js";
import type { AccuracyRow, DemoResult, SampleAnswer } from "./types.js";
import { limit, readJsonl } from "./workspace.js";

/** Share of outputs that state `fact` (e.g. "30 days", also written "30-day" or "thirty days"). */
function shareStating(outputs: string[], fact: string): number {
  if (outputs.length === 0) return 0;
  const n = fact.match(/^\d+/)?.[0];
  const re = n ? new RegExp(`\\b${n}(?:\\s|-)?day`, "i") : new RegExp(fact, "i");
  return outputs.filter((o) => re.test(o)).length / outputs.length;
}

export async function knowledgeStages(ctx: DemoContext): Promise<{ knowledge: DemoResult["knowledge"]; retrieval: DemoResult["retrieval"] }> {
  const { files } = ctx;
  // Trained on all the policy facts: the point is to see what sticks.
  ctx.stage("train facts");
  const run = await runTraining(ctx, files.policyFacts, "facts", undefined, readJsonl(files.policyFacts).length);
  const tuned = await createRunRunner(run.result.runDir, ctx.runnerOptions);
  ctx.runners.push(tuned);

  ctx.stage("evaluate facts");
  const docsDir = join(ctx.outDir, "docs");
  await ensureDir(docsDir);
  const docPath = join(docsDir, "policy.md");
  copyFileSync(files.policyDoc, docPath);
  const store = openRagStore(join(ctx.outDir, "policy-store.db"), { create: true });
  try {
    const indexed = await indexDocuments(store, docsDir);
    const withRetrieval = (prompt: ChatMessage[]): ChatMessage[] => {
      const question = questionOf({ id: "", prompt, reference: "" });
      return withContext(prompt, formatRagContext(retrieve(store, question, ctx.settings.ragK)));
    };
    const { accuracy, reportDir } = await askPolicyQuestions(ctx, tuned, withRetrieval);

    ctx.stage("retrieval and policy change");
    const policy = readFileSync(files.policyDoc, "utf8");
    if (!policy.includes(POLICY_CHANGE.from)) {
      throw new TunekitError("demo_data_invalid", `the policy document no longer mentions "${POLICY_CHANGE.from}"`, { file: files.policyDoc });
    }
    await writeFileAtomic(docPath, policy.split(POLICY_CHANGE.from).join(POLICY_CHANGE.to));
    const reindex = await indexDocuments(store, docsDir);
    const afterChange = await askAfterChange(ctx, tuned, withRetrieval);
    return {
      knowledge: { train: run.summary, accuracy, afterChange, reportDir },
      retrieval: { documents: indexed.documents, chunks: reindex.chunks, reindexed: reindex.updated },
    };
  } finally {
    store.close();
  }
}

type Augment = (prompt: ChatMessage[]) => ChatMessage[];

/** Trained, paraphrased and never-trained questions to the base model, the tuned one and base + retrieval. */
async function askPolicyQuestions(ctx: DemoContext, tuned: ModelRunner, withRetrieval: Augment): Promise<{ accuracy: AccuracyRow[]; reportDir: string }> {
  const { files } = ctx;
  const sets: { set: AccuracyRow["set"]; file: string }[] = [
    { set: "trained", file: files.policyFacts },
    { set: "paraphrased", file: files.paraphrases },
    { set: "never trained", file: files.unseen },
  ];
  const models: EvalModel[] = [
    { name: "base", runner: ctx.base, concurrency: 1 },
    { name: "tuned on facts", runner: tuned, concurrency: 1 },
    { name: "base + retrieval", runner: ctx.base, concurrency: 1, augment: withRetrieval },
  ];
  const accuracy: AccuracyRow[] = [];
  let reported: EvalResult | undefined;
  for (const { set, file } of sets) {
    const items = limit(await readEvalItems(file), ctx.settings.questionLimit);
    const r = await evaluate({ items, models, params: ctx.params, onProgress: ctx.options.onProgress, dataFile: file });
    const acc = (name: string) => r.models.find((m) => m.name === name)?.aggregate.factual_accuracy ?? null;
    accuracy.push({ set, questions: items.length, base: acc("base"), tuned: acc("tuned on facts"), retrieval: acc("base + retrieval") });
    if (set === "paraphrased") reported = r;
  }
  const reportDir = join(ctx.outDir, "knowledge");
  if (reported) await writeReport(reportDir, reported);
  return { accuracy, reportDir };
}

/** The questions about the changed policy: the tuned model against base + retrieval over the updated document. */
async function askAfterChange(ctx: DemoContext, tuned: ModelRunner, withRetrieval: Augment): Promise<DemoResult["knowledge"]["afterChange"]> {
  const file = ctx.files.afterChange;
  const items = await readEvalItems(file);
  const changed = await evaluate({
    items,
    models: [
      { name: "tuned on facts", runner: tuned, concurrency: 1 },
      { name: "base + retrieval", runner: ctx.base, concurrency: 1, augment: withRetrieval },
    ],
    params: ctx.params,
    onProgress: ctx.options.onProgress,
    dataFile: file,
  });
  const outputsOf = (name: string) => changed.models.find((m) => m.name === name)!.examples.map((e) => e.output);
  const accOf = (name: string) => changed.models.find((m) => m.name === name)?.aggregate.factual_accuracy ?? null;
  const samples: SampleAnswer[] = items.map((item, i) => ({
    question: questionOf(item),
    reference: item.reference,
    answers: changed.models.map((m) => ({ who: m.name, text: m.examples[i].output })),
  }));
  return {
    change: POLICY_CHANGE.summary,
    questions: items.length,
    tunedAccuracy: accOf("tuned on facts"),
    tunedStale: shareStating(outputsOf("tuned on facts"), POLICY_CHANGE.from),
    retrievalAccuracy: accOf("base + retrieval"),
    retrievalStale: shareStating(outputsOf("base + retrieval"), POLICY_CHANGE.from),
    samples,
  };
}
