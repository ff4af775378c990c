/**
 * `tunekit advise`: prompting, retrieval, fine-tuning, or a mix (fine-tune the format, retrieve the
 * facts), decided from the dataset analysis and the economics, with the numbers behind every reason.
 *
 * The rules, in order (each one is a reason in the report):
 * 1. Fewer than 10 examples: hosted fine-tuning is impossible -> prompting.
 * 2. Half or more of the examples teach facts the prompt does not supply -> retrieval (fine-tuning is a
 *    poor and brittle way to add knowledge: Ovadia et al.; Gekhman et al.).
 * 3. 5% or more teach facts -> mix: fine-tune the behaviour on the clean examples, move the facts to
 *    retrieval (retrieval alone when fewer than 10 clean examples remain).
 * 4. Behaviour data: prompting when fine-tuning never pays back (a tuned model costs more per call
 *    than the prompt it replaces) or takes over a year at the given volume, or when there are fewer
 *    than 50 examples; otherwise fine-tuning.
 * Duplicates, conflicting answers, inconsistent formats and test-set leakage are reported as things
 * to fix first; they do not change the choice.
 */
import { computeStats, type StatsReport } from "../dataset/analysis/stats-file.js";
import { findLeakage, type LeakageReport } from "../dataset/leakage.js";
import { readDataset, type ReadOptions } from "../dataset/reader.js";
import { detectFactInjection } from "../dataset/analysis/facts.js";
import { breakEven } from "../eval/economics.js";
import { PROVIDER_CATALOG, fineTunedInferencePrice, inferencePrice, providerInfo, trainingPrice, type ProviderId } from "../providers/catalog.js";
import { defaultEpochs } from "../dataset/analysis/cost.js";
import { TunekitError } from "../util/errors.js";

export type Recommendation = "prompting" | "retrieval" | "fine-tuning" | "mix";

export interface AdviceReason {
  /** Stable id: too_few_examples, knowledge, mixed_knowledge, behaviour, size, format, economics, duplicates, conflicts, leakage. */
  code: string;
  message: string;
  /** The number(s) behind it. */
  values: Record<string, number | string | null>;
}

/** One way to serve the task, priced: prompting, retrieval, or a fine-tune at one provider. */
export interface EconomicsOption {
  provider: string;
  providerLabel: string;
  model: string;
  /** USD for the fine-tune (0 locally); null without a price. */
  trainingCost: number | null;
  /** USD per 1,000 calls of the base model with the long prompt (instructions + examples). */
  costPer1kCallsPrompted: number | null;
  /** USD per 1,000 calls of the base model with retrieved context instead of the examples. */
  costPer1kCallsRetrieval: number | null;
  /** USD per 1,000 calls of the fine-tuned model with the short prompt. */
  costPer1kCallsTuned: number | null;
  savingsPer1kCalls: number | null;
  breakEvenCalls: number | null;
  breakEvenDays: number | null;
  /** When the prices were read (YYYY-MM-DD), null without prices. */
  pricesAsOf: string | null;
  note: string;
}

export interface AdviceEconomics {
  /** The option the recommendation is computed with (--provider, default Together). */
  provider: string;
  model: string;
  /** Prompt tokens a prompted model needs per call that a fine-tuned one does not (instructions + examples). */
  promptTokensSaved: number;
  promptTokensSource: "given" | "estimated";
  /** Mean tokens of one call without those extras (system + user) and of the reply. */
  callInputTokens: number;
  callOutputTokens: number;
  trainingCost: number | null;
  costPer1kCallsPrompted: number | null;
  costPer1kCallsTuned: number | null;
  savingsPer1kCalls: number | null;
  breakEvenCalls: number | null;
  callsPerDay: number | null;
  breakEvenDays: number | null;
  /** Context tokens retrieval adds per call (the top chunks), estimated. */
  retrievalTokens: number;
  pricesAsOf: string | null;
  text: string;
  /** Today's options side by side: a small open model on Together and on Fireworks, and this machine. */
  options: EconomicsOption[];
}

export interface AdviceReport {
  file: string;
  examples: number;
  recommendation: Recommendation;
  summary: string;
  reasons: AdviceReason[];
  factInjection: { examples: number; share: number; verdict: string };
  format: { kind: string; conformance: number; template?: string[]; language: string };
  duplicates: { exact: number; near: number; conflicting: number };
  leakage?: { file: string; pairs: number; leakedTestExamples: number; leakedShare: number };
  economics: AdviceEconomics;
  /** Examples whose facts belong in retrieval, with the specifics they assert (first 100). */
  moveToRetrieval: { line: number; specifics: string[] }[];
}

export interface AdviseOptions extends ReadOptions {
  callsPerDay?: number;
  promptTokens?: number;
  /** Where the fine-tune would run: "together" (default), "fireworks", "local", "openai", "azure". */
  provider?: string;
  model?: string;
  /** A held-out file to check for leakage. */
  testFile?: string;
  /** Training price override, USD per 1M tokens. */
  pricePerMTok?: number;
  onProgress?: (p: { bytesRead: number; totalBytes: number; examples: number }) => void;
}

const DEFAULT_PROVIDER = "together";
/** Few-shot examples a prompt needs to show a format, when the user does not say (--prompt-tokens). */
const FEW_SHOT = 3;
/** What retrieval puts in a prompt: the top 4 chunks of up to 1,000 characters (tunekit rag's defaults), ~4 characters a token. */
const RETRIEVAL_TOKENS = 4 * 250;

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 && x > 0 ? 1 : 0)}%`;
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });
/** "1 day", "12 days" (after the same rounding fmt does). */
const days = (n: number) => `${fmt(n)} ${fmt(n) === "1" ? "day" : "days"}`;

export async function adviseFile(file: string, options: AdviseOptions = {}): Promise<AdviceReport> {
  const provider = options.provider ?? DEFAULT_PROVIDER;
  if (!providerInfo(provider)) throw new TunekitError("unknown_provider", `unknown provider "${provider}"`, { hint: `use one of: ${Object.keys(PROVIDER_CATALOG).join(", ")}` });
  const model = options.model ?? providerInfo(provider)!.defaultModel ?? "";
  // Tokens are counted with the named model when tunekit can tokenize it (an OpenAI name, a local folder), else with the documented default.
  const countWith = options.model && (provider === "openai" || provider === "azure" || provider === "local") ? options.model : undefined;
  const stats = await computeStats(file, { ...options, ...(countWith ? { model: countWith } : { model: undefined }) });
  if (stats.examples === 0) {
    // Advice on "0 examples" would hide that the file could not be read as a dataset at all.
    throw new TunekitError("no_valid_examples", `no valid example in the file (${stats.invalidRecords} invalid records)`, {
      file,
      hint: `run \`tunekit validate ${file}\` to see every problem`,
      exitCode: 1,
    });
  }
  const leak = options.testFile ? await findLeakage(file, options.testFile, options) : undefined;
  const moveToRetrieval = await factExamples(file, options, stats);
  return decide(file, stats, { ...options, provider, model }, leak, moveToRetrieval);
}

async function factExamples(file: string, options: ReadOptions, stats: StatsReport): Promise<AdviceReport["moveToRetrieval"]> {
  if (stats.stats.factInjection.examples === 0) return [];
  const out: AdviceReport["moveToRetrieval"] = [];
  for await (const batch of readDataset(file, options).batches()) {
    for (const r of batch) {
      if (!r.example || out.length >= 100) continue;
      const f = detectFactInjection(r.example.example);
      if (f.injects) out.push({ line: r.line, specifics: f.spans.slice(0, 6).map((s) => s.text) });
    }
  }
  return out;
}

function economicsOf(stats: StatsReport, o: AdviseOptions & { provider: string; model: string }): AdviceEconomics {
  const s = stats.stats;
  const tokens = s.tokens;
  const reply = s.assistantTokens;
  const callOutput = reply ? reply.mean : 0;
  const callInput = tokens && reply ? Math.max(0, tokens.mean - reply.mean) : 0;
  const given = o.promptTokens !== undefined;
  const saved = given ? o.promptTokens! : Math.round(FEW_SHOT * (tokens?.median ?? 0));
  const billed = defaultEpochs(stats.examples) * (s.tokens?.sum ?? 0);
  const perCall = (input: number, price: { inputPerM: number; outputPerM: number }) => round4((((input * price.inputPerM + callOutput * price.outputPerM) / 1e6) * 1000));

  const priced = (provider: ProviderId, model: string, trainingOverride?: number): EconomicsOption => {
    const info = PROVIDER_CATALOG[provider];
    const base: EconomicsOption = {
      provider,
      providerLabel: info.label,
      model,
      trainingCost: null,
      costPer1kCallsPrompted: null,
      costPer1kCallsRetrieval: null,
      costPer1kCallsTuned: null,
      savingsPer1kCalls: null,
      breakEvenCalls: null,
      breakEvenDays: null,
      pricesAsOf: null,
      note: "",
    };
    if (provider === "local") {
      // No bill: the cost is CPU time on a machine you already run; the tuned model's shorter prompt is faster, not cheaper.
      return { ...base, trainingCost: 0, costPer1kCallsPrompted: 0, costPer1kCallsRetrieval: 0, costPer1kCallsTuned: 0, savingsPer1kCalls: 0, breakEvenCalls: 0, breakEvenDays: 0, note: "trained and served on your own machine: no bill, CPU time only; the short prompt saves compute per call" };
    }
    const train = trainingOverride ?? trainingPrice(provider, model)?.perMTok;
    const basePrice = inferencePrice(model, provider);
    const tunedPrice = fineTunedInferencePrice(provider, model) ?? basePrice;
    if (train === undefined || !basePrice || !tunedPrice) return { ...base, note: `no price is known for ${info.label}/${model}` };
    const trainingCost = round4((billed / 1e6) * train);
    const prompted = perCall(callInput + saved, basePrice);
    const retrieval = perCall(callInput + RETRIEVAL_TOKENS, basePrice);
    const tuned = perCall(callInput, tunedPrice);
    const be = breakEven(trainingCost, prompted, tuned, { baseline: "the prompted base model", tuned: "the fine-tuned model" });
    const asOf = [trainingPrice(provider, model)?.asOf, basePrice.asOf].filter(Boolean).sort().pop() ?? null;
    return {
      ...base,
      trainingCost,
      costPer1kCallsPrompted: prompted,
      costPer1kCallsRetrieval: retrieval,
      costPer1kCallsTuned: tuned,
      savingsPer1kCalls: round4(be.savingsPer1kCalls),
      breakEvenCalls: be.calls,
      breakEvenDays: be.calls !== null && o.callsPerDay ? Math.ceil(be.calls / o.callsPerDay) : null,
      pricesAsOf: asOf,
      note: be.text,
    };
  };

  const main = priced(o.provider as ProviderId, o.model, o.pricePerMTok);
  const others: EconomicsOption[] = [];
  for (const [p, m] of [["together", PROVIDER_CATALOG.together.defaultModel!], ["fireworks", PROVIDER_CATALOG.fireworks.defaultModel!], ["local", PROVIDER_CATALOG.local.defaultModel!]] as [ProviderId, string][]) {
    if (p !== o.provider) others.push(priced(p, m));
  }
  const tokensNote = given ? `${fmt(saved)} prompt tokens per call` : `about ${fmt(saved)} prompt tokens per call (estimated: ${FEW_SHOT} few-shot examples of median size; pass --prompt-tokens for your real prompt)`;
  const eco: AdviceEconomics = {
    provider: o.provider,
    model: o.model,
    promptTokensSaved: saved,
    promptTokensSource: given ? "given" : "estimated",
    callInputTokens: Math.round(callInput),
    callOutputTokens: Math.round(callOutput),
    trainingCost: main.trainingCost,
    costPer1kCallsPrompted: main.costPer1kCallsPrompted,
    costPer1kCallsTuned: main.costPer1kCallsTuned,
    savingsPer1kCalls: main.savingsPer1kCalls,
    breakEvenCalls: main.breakEvenCalls,
    callsPerDay: o.callsPerDay ?? null,
    breakEvenDays: main.breakEvenDays,
    retrievalTokens: RETRIEVAL_TOKENS,
    pricesAsOf: main.pricesAsOf,
    text: "",
    options: [main, ...others],
  };
  const label = PROVIDER_CATALOG[o.provider as ProviderId].label;
  if (o.provider === "local") {
    eco.text = `a model fine-tuned on this machine saves ${tokensNote} at no bill (CPU time only)`;
  } else if (main.costPer1kCallsPrompted === null || main.trainingCost === null) {
    eco.text = `a fine-tuned model saves ${tokensNote}; no price is known for ${label}/${o.model}, so the break-even volume cannot be computed`;
  } else {
    eco.text =
      `a fine-tuned ${o.model} on ${label} saves ${tokensNote}: $${main.costPer1kCallsPrompted.toFixed(4)} prompted vs $${main.costPer1kCallsTuned!.toFixed(4)} tuned per 1,000 calls ` +
      `(retrieval instead of examples: $${main.costPer1kCallsRetrieval!.toFixed(4)}); ${main.note}` +
      (eco.breakEvenDays !== null ? `, i.e. ${days(eco.breakEvenDays)} at ${fmt(o.callsPerDay!)} calls per day` : "") +
      ` (list prices as of ${main.pricesAsOf})`;
  }
  return eco;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

function decide(
  file: string,
  stats: StatsReport,
  o: AdviseOptions & { provider: string; model: string },
  leak: LeakageReport | undefined,
  moveToRetrieval: AdviceReport["moveToRetrieval"],
): AdviceReport {
  const s = stats.stats;
  const n = stats.examples;
  const f = s.factInjection;
  const shape = stats.replyShape;
  const eco = economicsOf(stats, o);
  const reasons: AdviceReason[] = [];
  const factN = f.examples;
  const clean = n - factN;
  let rec: Recommendation;

  const formatWords =
    shape.kind === "line-template" && shape.template
      ? `${pct(shape.conformance)} of replies follow the line template "${shape.template.slots.join(" / ")}"`
      : shape.kind === "json"
        ? `${pct(shape.json.parseRate)} of replies are JSON and ${pct(shape.json.schemaConformance ?? 0)} of those fit one schema`
        : "replies are free text with no common format";
  const consistent = shape.kind !== "free-text" && shape.conformance >= 0.8;

  if (n < 10) {
    rec = "prompting";
    reasons.push({ code: "too_few_examples", message: `only ${n} examples: too few to fine-tune (10 at the least, 50-100 recommended); write a prompt with a few of them as examples`, values: { examples: n, minimum: 10 } });
  } else if (f.share >= 0.5) {
    rec = "retrieval";
    reasons.push({
      code: "knowledge",
      message: `${pct(f.share)} of the examples (${factN} of ${n}) teach facts the prompt does not supply (prices, dates, policies...): put those facts in a document store and retrieve them (tunekit rag); fine-tuned facts are learned slowly, make the model hallucinate more, and go stale when they change`,
      values: { factExamples: factN, share: round4(f.share) },
    });
  } else if (f.share >= 0.05) {
    rec = clean >= 10 ? "mix" : "retrieval";
    reasons.push({
      code: "mixed_knowledge",
      message:
        rec === "mix"
          ? `${pct(f.share)} of the examples (${factN}) teach facts: move those facts to retrieval and fine-tune the behaviour on the other ${clean} examples`
          : `${pct(f.share)} of the examples teach facts and only ${clean} clean examples remain: retrieve the facts and prompt for the format`,
      values: { factExamples: factN, share: round4(f.share), cleanExamples: clean },
    });
  } else {
    reasons.push({ code: "behaviour", message: `${pct(f.share)} of the examples teach facts: the dataset teaches behaviour, which is what fine-tuning is for`, values: { factExamples: factN, share: round4(f.share) } });
    const neverPays = eco.savingsPer1kCalls !== null && eco.savingsPer1kCalls <= 0;
    const tooSlow = eco.breakEvenDays !== null && eco.breakEvenDays > 365;
    if (neverPays || tooSlow) {
      rec = "prompting";
      reasons.push({ code: "economics", message: `${eco.text}: keep prompting`, values: economicsValues(eco) });
    } else if (n < 50) {
      rec = "prompting";
      reasons.push({ code: "size", message: `${n} examples is below the 50-100 recommended to start: prompt with a few of them as examples while you collect more`, values: { examples: n, recommended: "50-100" } });
    } else {
      rec = "fine-tuning";
      reasons.push({ code: "size", message: `${n} examples meets the 50-100 guideline to start`, values: { examples: n, recommended: "50-100" } });
    }
  }
  reasons.push({
    code: "format",
    message: consistent ? `${formatWords}: a consistent format a fine-tune can learn` : `${formatWords}${shape.kind === "free-text" ? "" : ": make the outliers consistent first"}`,
    values: { kind: shape.kind, conformance: round4(shape.conformance), language: shape.language.dominant },
  });
  if (!reasons.some((r) => r.code === "economics")) reasons.push({ code: "economics", message: eco.text, values: economicsValues(eco) });
  const d = s.duplicates;
  if (d.exact + d.near > 0) {
    reasons.push({ code: "duplicates", message: `${d.exact} exact and ${d.near} near duplicates (${pct((d.exact + d.near) / Math.max(1, n))}): remove them before training`, values: { exact: d.exact, near: d.near } });
  }
  if (d.conflicting > 0) reasons.push({ code: "conflicts", message: `${d.conflicting} examples give a different reply to the same prompt: decide which answer you want`, values: { conflicting: d.conflicting } });
  if (leak) {
    reasons.push({
      code: "leakage",
      message:
        leak.pairs.length > 0
          ? `${leak.leakedTestExamples} of ${leak.test.examples} test examples (${pct(leak.leakedShare)}) also appear in the training data: evaluation on them measures memory; use tunekit split`
          : `no test example appears in the training data`,
      values: { pairs: leak.pairs.length, leakedTestExamples: leak.leakedTestExamples, leakedShare: round4(leak.leakedShare) },
    });
  }
  const summary = summaryFor(rec, n, f.share, factN, formatWords, eco);
  const report: AdviceReport = {
    file,
    examples: n,
    recommendation: rec,
    summary,
    reasons,
    factInjection: { examples: factN, share: round4(f.share), verdict: f.verdict },
    format: { kind: shape.kind, conformance: round4(shape.conformance), language: shape.language.dominant, ...(shape.template ? { template: shape.template.slots } : {}) },
    duplicates: { exact: d.exact, near: d.near, conflicting: d.conflicting },
    economics: eco,
    moveToRetrieval,
  };
  if (leak) report.leakage = { file: leak.test.file, pairs: leak.pairs.length, leakedTestExamples: leak.leakedTestExamples, leakedShare: round4(leak.leakedShare) };
  return report;
}

function economicsValues(e: AdviceEconomics): Record<string, number | string | null> {
  return {
    promptTokensSaved: e.promptTokensSaved,
    trainingCost: e.trainingCost,
    costPer1kCallsPrompted: e.costPer1kCallsPrompted,
    costPer1kCallsTuned: e.costPer1kCallsTuned,
    breakEvenCalls: e.breakEvenCalls,
    breakEvenDays: e.breakEvenDays,
  };
}

function summaryFor(rec: Recommendation, n: number, share: number, factN: number, formatWords: string, eco: AdviceEconomics): string {
  switch (rec) {
    case "retrieval":
      return `Use retrieval: ${pct(share)} of the ${n} examples teach facts (${factN}). Put the facts in documents and retrieve them at question time; a fine-tune would bake in facts that go stale.`;
    case "mix":
      return `Fine-tune the format, retrieve the facts: ${factN} of ${n} examples (${pct(share)}) teach facts that belong in retrieval; the rest teach behaviour (${formatWords}).`;
    case "fine-tuning":
      return `Fine-tune: the ${n} examples teach behaviour (${formatWords}) and no facts${eco.breakEvenCalls !== null ? `; training pays for itself after ${fmt(eco.breakEvenCalls)} calls` : ""}.`;
    default:
      return `Prompt first: ${n < 10 ? `${n} examples are too few to fine-tune` : eco.savingsPer1kCalls !== null && eco.savingsPer1kCalls <= 0 ? "a fine-tuned model would cost more per call than the prompt it replaces" : eco.breakEvenDays !== null && eco.breakEvenDays > 365 ? `training would take ${days(eco.breakEvenDays)} to pay back` : `${n} examples are below the 50-100 guideline`}.`;
  }
}
