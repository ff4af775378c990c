/**
 * The evaluation itself: every model answers every held-out item (through the cache), replies are
 * scored, models are compared pairwise with bootstrap intervals, and the retention set, overfitting
 * curves and economics are added when asked for. The result is plain data: reports render it and
 * results.json stores it.
 */
import type { JsonSchema } from "../shape/json-schema.js";
import { pairedBootstrap, verdictText, type PairedInterval, type Verdict } from "./bootstrap.js";
import { breakEven, summarizeUsage, type BreakEven, type ModelEconomics } from "./economics.js";
import { factualAccuracy } from "./factual.js";
import { describeFormatPlan, inferFormatPlan, scoreFormat, type FormatPlan } from "./format.js";
import { judgeReply } from "./judge.js";
import { HEADLINE_ORDER, PER_EXAMPLE_METRICS, type PerExampleMetric } from "./metrics.js";
import { promptFor, questionOf, type EvalItem } from "./items.js";
import { analyzeOverfitting, type LossCurves, type OverfitAnalysis } from "./overfit.js";
import { checkRetention } from "./retention-checks.js";
import { RETENTION_SET, type RetentionItem } from "./retention-set.js";
import { mapLimit } from "./runner/pool.js";
import type { Generation, GenerationParams, ModelRunner, Price } from "./runner/types.js";
import type { ChatMessage } from "../dataset/types.js";
import { chrF, exactMatch, lengthRatio, tokenF1 } from "./similarity.js";

export interface EvalModel {
  /** Display name, unique: "base", "tuned". */
  name: string;
  runner: ModelRunner;
  /** Replaces the examples' system prompt for this model. */
  system?: string;
  price?: Price;
  /** Calls in flight for this model (endpoints: the --concurrency; local: 1). */
  concurrency?: number;
  /** Rewrites each prompt before it is sent, e.g. to add retrieved documents (--rag). */
  augment?: (prompt: ChatMessage[]) => ChatMessage[];
}

export type Scores = Record<PerExampleMetric, number | null>;

export interface ExampleResult {
  itemId: string;
  line?: number;
  output: string;
  error?: string;
  tokensIn: number;
  tokensOut: number;
  latencyMs: number;
  costUsd?: number;
  cached: boolean;
  scores: Scores;
  formatProblem?: string;
  factual?: { missing: string[]; contradicting: string[] };
  judge?: { raw: number | null; reasoning: string; error?: string };
}

export interface RetentionResult {
  score: number;
  byCategory: Record<string, number>;
  items: { id: string; category: string; prompt: string; output: string; pass: boolean; error?: string }[];
}

export interface ModelResult {
  name: string;
  runnerId: string;
  label: string;
  system?: string;
  examples: ExampleResult[];
  /** Mean over examples where the metric applies; null when it applies to none. */
  aggregate: Record<string, number | null>;
  economics: ModelEconomics;
  retention?: RetentionResult;
  /** Same metrics on training examples, when those were evaluated. */
  trainAggregate?: Record<string, number | null>;
}

export interface Comparison {
  a: string;
  b: string;
  metric: string;
  interval: PairedInterval;
  verdict: Verdict;
}

export interface EvalOptions {
  items: EvalItem[];
  models: EvalModel[];
  schema?: JsonSchema;
  params?: GenerationParams;
  retention?: boolean;
  retentionItems?: RetentionItem[];
  judge?: { runner: ModelRunner; rubric: string };
  /** Training examples to measure the train/held-out gap on (a sample of the training set). */
  trainItems?: EvalItem[];
  lossCurves?: LossCurves;
  /** USD spent on training, for the break-even volume (baseline = first model, tuned = last). */
  trainingCostUsd?: number;
  bootstrap?: { resamples?: number; seed?: number };
  onProgress?: (done: number, total: number, what: string) => void;
  dataFile?: string;
}

export interface EvalResult {
  tool: "tunekit";
  createdAt: string;
  dataFile?: string;
  examples: number;
  params: GenerationParams;
  format: { kind: FormatPlan["kind"]; description: string; plan: FormatPlan };
  models: ModelResult[];
  /** Every later model against the first (the baseline). */
  comparisons: Comparison[];
  retentionComparisons: Comparison[];
  overfitting?: { curves: LossCurves; analysis: OverfitAnalysis };
  trainGap?: { model: string; metric: string; train: number; heldOut: number; gap: number }[];
  /** The candidate (last model) against each other priced model: when training pays for itself. */
  breakEven: (BreakEven & { against: string })[];
  /** The plain-words summary, most important first. */
  headline: string[];
  items: { id: string; line?: number; question: string; reference: string }[];
}

function scoreExample(plan: FormatPlan, output: string, reference: string, failed: boolean): Omit<ExampleResult, "itemId" | "output" | "tokensIn" | "tokensOut" | "latencyMs" | "cached"> {
  const f = scoreFormat(plan, output);
  const fact = factualAccuracy(output, reference);
  const scores: Scores = {
    format_compliance: f.formatCompliance,
    valid_json: f.validJson,
    schema_conformance: f.schemaConformance,
    template_match: f.templateMatch,
    exact_match: exactMatch(output, reference),
    token_f1: tokenF1(output, reference),
    chrf: chrF(output, reference),
    factual_accuracy: fact.score,
    judge_score: null,
    length_ratio: failed ? null : lengthRatio(output, reference),
  };
  return {
    scores,
    ...(f.formatProblem ? { formatProblem: f.formatProblem } : {}),
    ...(fact.score !== null
      ? { factual: { missing: fact.missing.map((s) => s.text), contradicting: fact.contradicting.map((s) => s.text) } }
      : {}),
  };
}

function aggregate(examples: ExampleResult[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const m of Object.keys(PER_EXAMPLE_METRICS) as PerExampleMetric[]) {
    const xs = examples.map((e) => e.scores[m]).filter((x): x is number => x !== null && Number.isFinite(x));
    out[m] = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  }
  return out;
}

/** All prompts through a model: batched when the runner batches, else with bounded concurrency. */
async function generateAll(model: EvalModel, prompts: ChatMessage[][], params: GenerationParams, tick: () => void): Promise<Generation[]> {
  const runner = model.runner;
  if (runner.generateBatch) {
    const out: Generation[] = [];
    const size = 8;
    for (let i = 0; i < prompts.length; i += size) {
      const chunk = await runner.generateBatch(prompts.slice(i, i + size), params);
      out.push(...chunk);
      chunk.forEach(() => tick());
    }
    return out;
  }
  return mapLimit(prompts, model.concurrency ?? 4, async (p) => {
    const g = await runner.generate(p, params);
    tick();
    return g;
  });
}

async function runItems(
  model: EvalModel,
  items: EvalItem[],
  plan: FormatPlan,
  params: GenerationParams,
  tick: (what: string) => void,
): Promise<ExampleResult[]> {
  const prompts = items.map((item) => promptFor(item, model.system)).map((p) => (model.augment ? model.augment(p) : p));
  const gens = await generateAll(model, prompts, params, () => tick(model.name));
  return items.map((item, i) => {
    const g = gens[i];
    const failed = g.error !== undefined;
    return {
      itemId: item.id,
      ...(item.line !== undefined ? { line: item.line } : {}),
      output: g.text,
      ...(failed ? { error: g.error } : {}),
      tokensIn: g.tokensIn,
      tokensOut: g.tokensOut,
      latencyMs: g.latencyMs,
      ...(g.costUsd !== undefined ? { costUsd: g.costUsd } : {}),
      cached: g.cached === true,
      ...scoreExample(plan, g.text, item.reference, failed),
    };
  });
}

async function runRetention(model: EvalModel, items: RetentionItem[], params: GenerationParams, tick: (w: string) => void): Promise<RetentionResult> {
  const prompts = items.map((it) => promptFor({ id: it.id, prompt: [{ role: "user", content: it.prompt }], reference: "" }, model.system));
  const gens = await generateAll(model, prompts, params, () => tick(`${model.name} retention`));
  const rows = items.map((it, i) => {
    const g = gens[i];
    return {
      id: it.id,
      category: it.category,
      prompt: it.prompt,
      output: g.text,
      pass: !g.error && checkRetention(it.check, g.text),
      ...(g.error ? { error: g.error } : {}),
    };
  });
  const byCategory: Record<string, number> = {};
  for (const cat of new Set(rows.map((r) => r.category))) {
    const xs = rows.filter((r) => r.category === cat);
    byCategory[cat] = xs.filter((r) => r.pass).length / xs.length;
  }
  return { score: rows.filter((r) => r.pass).length / rows.length, byCategory, items: rows };
}

function compare(a: ModelResult, b: ModelResult, metric: PerExampleMetric, boot: EvalOptions["bootstrap"]): Comparison | undefined {
  const xs = a.examples.map((e) => e.scores[metric]);
  const ys = b.examples.map((e) => e.scores[metric]);
  const ci = pairedBootstrap(xs, ys, boot);
  if (!ci) return undefined;
  return { a: a.name, b: b.name, metric, interval: ci, verdict: verdictText(a.name, b.name, ci, { metric: PER_EXAMPLE_METRICS[metric].label }) };
}

export async function evaluate(options: EvalOptions): Promise<EvalResult> {
  const params: GenerationParams = { temperature: 0, maxTokens: 512, ...options.params };
  const plan = inferFormatPlan(options.items.map((i) => i.reference), options.schema);
  const retentionItems = options.retention ? (options.retentionItems ?? RETENTION_SET) : [];
  const perModel = options.items.length * (options.judge ? 2 : 1) + retentionItems.length + (options.trainItems?.length ?? 0);
  const total = perModel * options.models.length;
  let done = 0;
  const tick = (what: string) => options.onProgress?.(++done, total, what);

  const models: ModelResult[] = [];
  for (const m of options.models) {
    const examples = await runItems(m, options.items, plan, params, tick);
    if (options.judge) {
      const { runner, rubric } = options.judge;
      await mapLimit(examples, m.concurrency ?? 4, async (ex, i) => {
        const item = options.items[i];
        if (!ex.error) {
          const v = await judgeReply(runner, rubric, questionOf(item), item.reference, ex.output);
          ex.scores.judge_score = v.score;
          ex.judge = { raw: v.raw, reasoning: v.reasoning, ...(v.error ? { error: v.error } : {}) };
        }
        tick(`judging ${m.name}`);
      });
    }
    const result: ModelResult = {
      name: m.name,
      runnerId: m.runner.id,
      label: m.runner.label,
      ...(m.system !== undefined ? { system: m.system } : {}),
      examples,
      aggregate: aggregate(examples),
      economics: summarizeUsage(examples, m.price),
    };
    if (retentionItems.length) result.retention = await runRetention(m, retentionItems, params, tick);
    if (options.trainItems?.length) {
      const trainPlan = inferFormatPlan(options.trainItems.map((i) => i.reference), options.schema);
      result.trainAggregate = aggregate(await runItems(m, options.trainItems, trainPlan, params, tick));
    }
    const e = result.economics;
    Object.assign(result.aggregate, {
      retention: result.retention?.score ?? null,
      error_rate: e.calls ? e.failedCalls / e.calls : null,
      tokens_in: e.meanTokensIn,
      tokens_out: e.meanTokensOut,
      cost_per_1k_calls: e.costPer1kCalls,
      latency_ms_p50: e.latencyMsP50,
      latency_ms_p95: e.latencyMsP95,
    });
    models.push(result);
  }

  const comparisons: Comparison[] = [];
  const retentionComparisons: Comparison[] = [];
  const base = models[0];
  // Every later model against the first (the baseline); the last (the candidate) also against each
  // model in between, e.g. tuned vs "base with a long prompt" (is fine-tuning better than prompting?).
  const pairs: [ModelResult, ModelResult][] = models.slice(1).map((m) => [m, base]);
  for (const mid of models.slice(1, -1)) pairs.push([models[models.length - 1], mid]);
  for (const [m, ref] of pairs) {
    for (const metric of HEADLINE_ORDER) {
      const c = compare(m, ref, metric, options.bootstrap);
      if (c) comparisons.push(c);
    }
    if (m.retention && ref.retention && ref === base) {
      const ci = pairedBootstrap(
        m.retention.items.map((r) => (r.pass ? 1 : 0)),
        ref.retention.items.map((r) => (r.pass ? 1 : 0)),
        options.bootstrap,
      )!;
      retentionComparisons.push({ a: m.name, b: base.name, metric: "retention", interval: ci, verdict: verdictText(m.name, base.name, ci, { metric: "general skills (retention set)" }) });
    }
  }

  const result: EvalResult = {
    tool: "tunekit",
    createdAt: new Date().toISOString(),
    ...(options.dataFile ? { dataFile: options.dataFile } : {}),
    examples: options.items.length,
    params,
    format: { kind: plan.kind, description: describeFormatPlan(plan), plan },
    models,
    comparisons,
    retentionComparisons,
    breakEven: [],
    headline: [],
    items: options.items.map((i) => ({ id: i.id, ...(i.line !== undefined ? { line: i.line } : {}), question: questionOf(i), reference: i.reference })),
  };
  if (options.lossCurves) result.overfitting = { curves: options.lossCurves, analysis: analyzeOverfitting(options.lossCurves) };
  if (options.trainItems?.length) {
    result.trainGap = [];
    for (const m of models) {
      for (const metric of HEADLINE_ORDER) {
        const t = m.trainAggregate?.[metric];
        const h = m.aggregate[metric];
        if (typeof t === "number" && typeof h === "number") result.trainGap.push({ model: m.name, metric, train: t, heldOut: h, gap: t - h });
      }
    }
  }
  const last = models[models.length - 1];
  if (options.trainingCostUsd !== undefined && last.economics.costPer1kCalls !== null) {
    for (const m of models.slice(0, -1)) {
      if (m.economics.costPer1kCalls === null) continue;
      const be = breakEven(options.trainingCostUsd, m.economics.costPer1kCalls, last.economics.costPer1kCalls, { baseline: m.name, tuned: last.name });
      result.breakEven.push({ ...be, against: m.name });
    }
  }
  result.headline = headline(result);
  return result;
}

/** Comparisons worth a headline: format, facts and the judge when they apply, plus chrF for similarity. */
export function headlineComparisons(r: Pick<EvalResult, "comparisons">): Comparison[] {
  const lead = ["format_compliance", "factual_accuracy", "judge_score"];
  const hasLead = r.comparisons.some((c) => lead.includes(c.metric));
  const keep = hasLead ? [...lead, "chrf"] : ["exact_match", "token_f1", "chrf"];
  return r.comparisons.filter((c) => keep.includes(c.metric));
}

/** Break-even lines worth a headline: those where training pays off, else the one against the first model. */
export function headlineBreakEven(r: Pick<EvalResult, "breakEven">): string[] {
  const paying = r.breakEven.filter((b) => b.calls !== null);
  return (paying.length ? paying : r.breakEven.slice(0, 1)).map((b) => b.text);
}

/** The verdicts that matter, in order: format first, then facts, then similarity; then forgetting, overfitting, cost. */
function headline(r: EvalResult): string[] {
  const lines: string[] = headlineComparisons(r).map((c) => c.verdict.text);
  for (const c of r.retentionComparisons) lines.push(c.verdict.text);
  for (const m of r.models) {
    if (m.economics.failedCalls > 0) lines.push(`${m.name}: ${m.economics.failedCalls} of ${m.economics.calls} calls failed after retries`);
  }
  if (r.overfitting?.analysis.warning) lines.push(`overfitting: ${r.overfitting.analysis.warning}`);
  lines.push(...headlineBreakEven(r));
  return lines;
}
