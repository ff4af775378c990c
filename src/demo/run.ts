/**
 * `tunekit demo`: the whole workflow on the bundled examples, measured end to end, to show the rule
 * tunekit exists to teach: fine-tune for behaviour, retrieve for knowledge.
 *
 *   validate -> advise -> split -> train (behaviour) -> eval base (short / long prompt) vs tuned (short prompt)
 *            -> train (policy facts) -> eval trained / paraphrased / never-trained questions
 *            -> change the policy -> ask the tuned model again (stale) -> retrieval before and after
 *
 * Every number in the result was measured in this run; nothing is filled in from elsewhere.
 */
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { adviseFile } from "../advise/advise.js";
import { validateFile } from "../dataset/validate/index.js";
import { splitFile } from "../dataset/split.js";
import type { ChatExample, ChatMessage } from "../dataset/types.js";
import { DEFAULT_TRAIN_OPTIONS } from "../engine/train/defaults.js";
import { train, type TrainRunEvent } from "../engine/train/train-run.js";
import { evaluate, type EvalModel, type EvalResult } from "../eval/evaluate.js";
import { questionOf, readEvalItems, withContext, type EvalItem } from "../eval/items.js";
import { createLocalRunner, createRunRunner } from "../eval/runner/local.js";
import type { ModelRunner } from "../eval/runner/types.js";
import { resolveModelDir } from "../hub/resolve.js";
import { formatRagContext, indexDocuments, openRagStore, retrieve } from "../rag/index.js";
import { writeReport } from "../report/write.js";
import { TunekitError } from "../util/errors.js";
import { ensureDir, writeFileAtomic } from "../util/fs.js";
import { DEFAULT_DEMO_MODEL, POLICY_CHANGE, REFERENCE_PRICE, SHORT_SUPPORT_PROMPT, demoSettings, exampleFiles, type DemoSettings } from "./settings.js";

export interface DemoOptions {
  /** Model folder or hub id (default: SmolLM2-135M-Instruct from the hub). */
  model?: string;
  quick?: boolean;
  outDir: string;
  threads?: number;
  offline?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Called when a stage starts (for the terminal). */
  onStage?(stage: DemoStage): void;
  /** Progress within a stage: done/total units (steps or generations). */
  onProgress?(done: number, total: number, what: string): void;
}

export interface DemoStage {
  index: number;
  total: number;
  name: string;
}

export interface TrainSummary {
  runDir: string;
  steps: number;
  examples: number;
  firstLoss: number | null;
  lastLoss: number | null;
  heldOutLoss: number | null;
  seconds: number;
}

export interface PromptConfigResult {
  name: string;
  description: string;
  formatCompliance: number | null;
  meanTokensIn: number;
  meanTokensOut: number;
  costPer1kCalls: number | null;
  failedCalls: number;
}

export interface AccuracyRow {
  set: "trained" | "paraphrased" | "never trained";
  questions: number;
  base: number | null;
  tuned: number | null;
  retrieval: number | null;
}

export interface SampleAnswer {
  question: string;
  reference: string;
  answers: { who: string; text: string }[];
}

export interface DemoResult {
  tool: "tunekit-demo";
  createdAt: string;
  model: { spec: string; dir: string };
  settings: DemoSettings;
  price: typeof REFERENCE_PRICE;
  seconds: number;
  validation: { file: string; examples: number; errors: number; warnings: number; factInjection: number }[];
  /** `tunekit advise` on each bundled dataset: what it recommends and why, before any training. */
  advice: { file: string; recommendation: string; summary: string }[];
  behaviour: {
    trainExamples: number;
    heldOutExamples: number;
    train: TrainSummary;
    configs: PromptConfigResult[];
    /** Bootstrap verdicts from the evaluation (tuned vs each baseline). */
    verdicts: string[];
    reportDir: string;
  };
  knowledge: {
    train: TrainSummary;
    accuracy: AccuracyRow[];
    afterChange: {
      change: string;
      questions: number;
      tunedAccuracy: number | null;
      /** Share of the tuned model's answers that still state the old fact. */
      tunedStale: number;
      retrievalAccuracy: number | null;
      retrievalStale: number;
      samples: SampleAnswer[];
    };
    reportDir: string;
  };
  retrieval: { documents: number; chunks: number; reindexed: string[] };
  /** The lesson in plain words, each sentence built from the numbers above. */
  findings: string[];
}

const STAGES = ["validate", "advise", "split", "train behaviour", "evaluate behaviour", "train facts", "evaluate facts", "retrieval and policy change", "report"];

function fewShotMessages(examples: ChatExample[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const ex of examples) {
    for (const m of ex.messages) if (m.role === "user" || m.role === "assistant") out.push({ role: m.role, content: m.content });
  }
  return out;
}

function readJsonl(file: string): ChatExample[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as ChatExample);
}

async function writeJsonl(file: string, examples: ChatExample[]): Promise<void> {
  await writeFileAtomic(file, examples.map((e) => JSON.stringify(e)).join("\n") + "\n");
}

/** The same examples with their system prompt replaced (the tuned model learns to need less prompt). */
function withSystem(examples: ChatExample[], system: string): ChatExample[] {
  return examples.map((e) => ({ ...e, messages: [{ role: "system", content: system }, ...e.messages.filter((m) => m.role !== "system")] }));
}

function summarizeTraining(runDir: string, examples: number, events: TrainRunEvent[], seconds: number): TrainSummary {
  const steps = events.filter((e): e is Extract<TrainRunEvent, { type: "step" }> => e.type === "step");
  const evals = events.filter((e): e is Extract<TrainRunEvent, { type: "eval" }> => e.type === "eval");
  return {
    runDir,
    steps: steps.length,
    examples,
    firstLoss: steps[0]?.loss ?? null,
    lastLoss: steps.at(-1)?.loss ?? null,
    heldOutLoss: evals.at(-1)?.heldOutLoss ?? null,
    seconds,
  };
}

/** Share of outputs that state `fact` (e.g. "30 days", also written "30-day" or "thirty days"). */
function shareStating(outputs: string[], fact: string): number {
  if (outputs.length === 0) return 0;
  const n = fact.match(/^\d+/)?.[0];
  const re = n ? new RegExp(`\\b${n}(?:\\s|-)?day`, "i") : new RegExp(fact, "i");
  return outputs.filter((o) => re.test(o)).length / outputs.length;
}

function limit<T>(xs: T[], n: number | undefined): T[] {
  return n === undefined ? xs : xs.slice(0, n);
}

/**
 * Refuses a path that is a file, or a folder holding something other than an earlier demo. Returns
 * what clears an earlier demo's output, to run once the model is known to load.
 */
function checkOutDir(outDir: string): () => void {
  if (!existsSync(outDir)) return () => {};
  if (!statSync(outDir).isDirectory()) {
    throw new TunekitError("output_not_a_directory", `${outDir} exists and is not a folder`, { file: outDir, hint: "pick a folder path with -o" });
  }
  const entries = readdirSync(outDir);
  if (entries.length > 0 && !entries.includes("demo.json") && !entries.includes(".tunekit-demo")) {
    throw new TunekitError("output_not_empty", `${outDir} exists and is not an earlier demo output`, {
      file: outDir,
      hint: "pick a new folder with -o, or remove it",
    });
  }
  return () => {
    for (const e of entries) rmSync(join(outDir, e), { recursive: true, force: true });
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = Date.now();
  const s = demoSettings(options.quick === true);
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

  const runnerOptions = { threads: options.threads, offline: true, env: options.env };

  // 1. Validate both datasets: the behaviour set is clean, the policy set is flagged as fact injection.
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

  // 2. Advise: what each dataset is good for, before spending anything on training.
  stage("advise");
  const advice: DemoResult["advice"] = [];
  for (const file of [files.support, files.policyFacts]) {
    const a = await adviseFile(file);
    advice.push({ file, recommendation: a.recommendation, summary: a.summary });
  }

  // 3. Leak-free split of the behaviour set; the tuned model is trained with the short prompt.
  stage("split");
  const dataDir = join(outDir, "data");
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

  const trainOptions = {
    ...DEFAULT_TRAIN_OPTIONS,
    epochs: s.epochs,
    ...(s.maxSteps !== undefined ? { maxSteps: s.maxSteps } : {}),
    batchSize: s.batchSize,
    lr: s.lr,
    maxSeqLen: s.maxSeqLen,
    warmup: 0.1,
    seed: s.seed,
    lora: { ...DEFAULT_TRAIN_OPTIONS.lora, r: s.loraR, alpha: 2 * s.loraR },
  };
  const runTraining = async (data: string, outName: string, validationFile: string | undefined, examples: number) => {
    const events: TrainRunEvent[] = [];
    const started = Date.now();
    const runDir = join(outDir, "runs", outName);
    const r = await train(
      { data, model: modelDir, outDir: runDir, ...(validationFile ? { validation: validationFile } : {}), options: trainOptions },
      {
        onEvent: (e) => {
          events.push(e);
          if (e.type === "step") options.onProgress?.(e.step, e.totalSteps, `loss ${e.loss.toFixed(3)}`);
        },
      },
    );
    return { result: r, summary: summarizeTraining(runDir, examples, events, (Date.now() - started) / 1000) };
  };

  // 4. Train the behaviour model.
  stage("train behaviour");
  const behaviourRun = await runTraining(trainShort, "behaviour", testShort, trainExamples.length);

  const runners: ModelRunner[] = [];
  const base = createLocalRunner({ model: modelDir, label: "base", ...runnerOptions });
  runners.push(base);
  try {
    // 5. Evaluate: base with the short prompt, base with the long prompt + examples, tuned with the short prompt.
    stage("evaluate behaviour");
    const tunedBehaviour = await createRunRunner(behaviourRun.result.runDir, runnerOptions);
    runners.push(tunedBehaviour);
    const heldOut = limit(await readEvalItems(split.test.path), s.heldOutLimit);
    const price = { inputPerM: REFERENCE_PRICE.inputPerM, outputPerM: REFERENCE_PRICE.outputPerM };
    const behaviourModels: EvalModel[] = [
      { name: "base, short prompt", runner: base, system: SHORT_SUPPORT_PROMPT, price, concurrency: 1 },
      {
        name: "base, long prompt + examples",
        runner: base,
        system: longPrompt,
        price,
        concurrency: 1,
        augment: (prompt) => [prompt[0], ...shots, ...prompt.slice(1)],
      },
      { name: "tuned, short prompt", runner: tunedBehaviour, system: SHORT_SUPPORT_PROMPT, price, concurrency: 1 },
    ];
    const params = { temperature: 0, maxTokens: s.maxTokens, seed: s.seed };
    const behaviour = await evaluate({ items: heldOut, models: behaviourModels, params, onProgress: options.onProgress, dataFile: split.test.path });
    const behaviourReport = join(outDir, "behaviour");
    await writeReport(behaviourReport, behaviour);

    // 6. Train the knowledge model on the policy facts (all of them: the point is to see what sticks).
    stage("train facts");
    const factsRun = await runTraining(files.policyFacts, "facts", undefined, readJsonl(files.policyFacts).length);
    const tunedFacts = await createRunRunner(factsRun.result.runDir, runnerOptions);
    runners.push(tunedFacts);

    // 7. Ask trained, paraphrased and never-trained policy questions, without and with retrieval.
    stage("evaluate facts");
    const docsDir = join(outDir, "docs");
    await ensureDir(docsDir);
    const docPath = join(docsDir, "policy.md");
    copyFileSync(files.policyDoc, docPath);
    const store = openRagStore(join(outDir, "policy-store.db"), { create: true });
    let rag: { documents: number; chunks: number; reindexed: string[] };
    try {
      const indexed = await indexDocuments(store, docsDir);
      const withRetrieval = (prompt: ChatMessage[]): ChatMessage[] => {
        const question = questionOf({ id: "", prompt, reference: "" });
        return withContext(prompt, formatRagContext(retrieve(store, question, s.ragK)));
      };
      const sets: { set: AccuracyRow["set"]; file: string }[] = [
        { set: "trained", file: files.policyFacts },
        { set: "paraphrased", file: files.paraphrases },
        { set: "never trained", file: files.unseen },
      ];
      const knowledgeModels: EvalModel[] = [
        { name: "base", runner: base, concurrency: 1 },
        { name: "tuned on facts", runner: tunedFacts, concurrency: 1 },
        { name: "base + retrieval", runner: base, concurrency: 1, augment: withRetrieval },
      ];
      const accuracy: AccuracyRow[] = [];
      let knowledgeResult: EvalResult | undefined;
      for (const { set, file } of sets) {
        const items = limit(await readEvalItems(file), s.questionLimit);
        const r = await evaluate({ items, models: knowledgeModels, params, onProgress: options.onProgress, dataFile: file });
        const acc = (name: string) => r.models.find((m) => m.name === name)?.aggregate.factual_accuracy ?? null;
        accuracy.push({ set, questions: items.length, base: acc("base"), tuned: acc("tuned on facts"), retrieval: acc("base + retrieval") });
        if (set === "paraphrased") knowledgeResult = r;
      }
      const knowledgeReport = join(outDir, "knowledge");
      if (knowledgeResult) await writeReport(knowledgeReport, knowledgeResult);

      // 8. The policy changes. Retrieval picks it up after re-indexing; the tuned model cannot.
      stage("retrieval and policy change");
      const policy = readFileSync(files.policyDoc, "utf8");
      if (!policy.includes(POLICY_CHANGE.from)) {
        throw new TunekitError("demo_data_invalid", `the policy document no longer mentions "${POLICY_CHANGE.from}"`, { file: files.policyDoc });
      }
      await writeFileAtomic(docPath, policy.split(POLICY_CHANGE.from).join(POLICY_CHANGE.to));
      const reindex = await indexDocuments(store, docsDir);
      rag = { documents: indexed.documents, chunks: reindex.chunks, reindexed: reindex.updated };
      const changeItems = await readEvalItems(files.afterChange);
      const changed = await evaluate({
        items: changeItems,
        models: [
          { name: "tuned on facts", runner: tunedFacts, concurrency: 1 },
          { name: "base + retrieval", runner: base, concurrency: 1, augment: withRetrieval },
        ],
        params,
        onProgress: options.onProgress,
        dataFile: files.afterChange,
      });
      const outputsOf = (name: string) => changed.models.find((m) => m.name === name)!.examples.map((e) => e.output);
      const accOf = (name: string) => changed.models.find((m) => m.name === name)?.aggregate.factual_accuracy ?? null;
      const samples: SampleAnswer[] = changeItems.map((item, i) => ({
        question: questionOf(item),
        reference: item.reference,
        answers: changed.models.map((m) => ({ who: m.name, text: m.examples[i].output })),
      }));
      const afterChange = {
        change: POLICY_CHANGE.summary,
        questions: changeItems.length,
        tunedAccuracy: accOf("tuned on facts"),
        tunedStale: shareStating(outputsOf("tuned on facts"), POLICY_CHANGE.from),
        retrievalAccuracy: accOf("base + retrieval"),
        retrievalStale: shareStating(outputsOf("base + retrieval"), POLICY_CHANGE.from),
        samples,
      };

      stage("report");
      const configs: PromptConfigResult[] = behaviour.models.map((m, i) => ({
        name: m.name,
        description: [
          `the base model with only "${SHORT_SUPPORT_PROMPT}"`,
          `the base model with the dataset's full instruction prompt and ${s.fewShot} worked example(s)`,
          `the LoRA-tuned model with only "${SHORT_SUPPORT_PROMPT}"`,
        ][i],
        formatCompliance: m.aggregate.format_compliance ?? null,
        meanTokensIn: m.economics.meanTokensIn,
        meanTokensOut: m.economics.meanTokensOut,
        costPer1kCalls: m.economics.costPer1kCalls,
        failedCalls: m.economics.failedCalls,
      }));
      const result: DemoResult = {
        tool: "tunekit-demo",
        createdAt: new Date().toISOString(),
        model: { spec, dir: modelDir },
        settings: s,
        price: REFERENCE_PRICE,
        seconds: 0,
        validation,
        advice,
        behaviour: {
          trainExamples: trainExamples.length,
          heldOutExamples: heldOut.length,
          train: behaviourRun.summary,
          configs,
          verdicts: behaviour.headline,
          reportDir: behaviourReport,
        },
        knowledge: { train: factsRun.summary, accuracy, afterChange, reportDir: knowledgeReport },
        retrieval: rag,
        findings: [],
      };
      result.findings = findings(result);
      result.seconds = (Date.now() - t0) / 1000;
      return result;
    } finally {
      store.close();
    }
  } finally {
    for (const r of runners) await r.close?.();
  }
}

const pct = (v: number | null) => (v === null ? "n/a" : `${Math.round(v * 100)}%`);

/** Plain-words conclusions, each sentence carrying the measured numbers it rests on. */
export function findings(r: DemoResult): string[] {
  const out: string[] = [];
  const [baseShort, baseLong, tuned] = r.behaviour.configs;
  if (baseShort && baseLong && tuned) {
    out.push(
      `Behaviour: held-out format compliance was ${pct(baseShort.formatCompliance)} for the base model with a short prompt, ` +
        `${pct(baseLong.formatCompliance)} with the long prompt and examples, and ${pct(tuned.formatCompliance)} for the tuned model with the short prompt.`,
    );
    if (baseLong.meanTokensIn > 0) {
      const saved = 1 - tuned.meanTokensIn / baseLong.meanTokensIn;
      out.push(
        `The tuned model's prompt averaged ${Math.round(tuned.meanTokensIn)} tokens against ${Math.round(baseLong.meanTokensIn)} for the prompting baseline ` +
          `(${Math.round(saved * 100)}% fewer input tokens per call).`,
      );
    }
  }
  const row = (set: AccuracyRow["set"]) => r.knowledge.accuracy.find((a) => a.set === set);
  const trained = row("trained");
  const para = row("paraphrased");
  const unseen = row("never trained");
  if (trained && para && unseen) {
    out.push(
      `Knowledge: the model fine-tuned on policy facts answered ${pct(trained.tuned)} of the trained questions, ${pct(para.tuned)} of paraphrases ` +
        `and ${pct(unseen.tuned)} of never-trained policy questions correctly; the base model with retrieval answered ${pct(trained.retrieval)}, ${pct(para.retrieval)} and ${pct(unseen.retrieval)}.`,
    );
  }
  const a = r.knowledge.afterChange;
  out.push(
    `After the policy changed (${a.change}), ${pct(a.tunedStale)} of the tuned model's answers still stated the old fact ` +
      `(accuracy on the new policy ${pct(a.tunedAccuracy)}); with retrieval over the updated document, accuracy was ${pct(a.retrievalAccuracy)} ` +
      `with ${pct(a.retrievalStale)} stale answers, and no training was needed.`,
  );
  if (r.settings.quick) {
    out.push(`These figures come from --quick settings on ${r.model.spec}: a very small model and a few training steps, so they show the pipeline, not the size of the effect.`);
  }
  return out;
}
