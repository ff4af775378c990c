/**
 * Dataset-level analysis over per-example features: duplicates, near duplicates, conflicting answers,
 * system-prompt variants, format and length outliers, fact injection, size and per-example token
 * limits, and the statistics. Keeps only compact columns per example (numbers, hashes, a MinHash
 * signature), never texts, so memory stays bounded for big files.
 */
import type { DatasetIssue } from "../types.js";
import type { ExampleFeatures } from "./features.js";
import type { FactSpan } from "./facts.js";
import { describeNumbers, histogram, NumberColumn, type Distribution, type HistogramBin } from "../../util/distribution.js";
import { describeSimilarity, findBoilerplate, findSimilarPairs, groupPairs, SignatureStore, type SimilarPair } from "./near-duplicates.js";

export interface AggregatorOptions {
  /** Per-example token limit (too_many_tokens errors); usually from the model. */
  tokenLimit?: number;
  /** The model name, for messages. */
  model?: string;
  /** Similarity at which two examples are near duplicates (default 0.8). */
  nearDuplicateThreshold?: number;
  /** At most this many issues per code are listed (the stats count all). Default 10,000. */
  maxIssuesPerCode?: number;
}

export interface FactInjectionVerdict {
  /** Examples whose replies assert specifics the conversation does not supply. */
  examples: number;
  share: number;
  /** "behaviour" (< 5%), "mixed" (5-30%), "knowledge" (>= 30%). */
  verdict: "behaviour" | "mixed" | "knowledge";
  /** How often each kind of specific was unsupported. */
  kinds: Record<string, number>;
  /** Lines of the flagged examples (first 1,000). */
  lines: number[];
  message: string;
}

export interface ShapeConsistency {
  /** "json", "line-template", "free-text" (from per-example signatures). */
  dominantKind: string;
  /** The most common signature, e.g. "lines:TL;DR:␞Next step:", and its share. */
  dominantSignature: string;
  dominantShare: number;
  jsonRate: number;
  /** Top-level keys present in >= 90% of JSON object replies. */
  jsonRequiredKeys?: string[];
  languages: Record<string, number>;
  outliers: number;
  signatures: { signature: string; count: number; firstLine: number }[];
}

export interface SystemPromptVariant {
  preview: string;
  count: number;
  firstLine: number;
}

export interface DatasetStats {
  examples: number;
  messages: Distribution;
  /** Per-example tokens with the model's tokenizer (absent without a model). */
  tokens?: Distribution;
  assistantTokens?: Distribution;
  tokenizerModel?: string;
  /** Characters per example and of the final reply (always present). */
  chars: Distribution;
  replyChars: Distribution;
  /** Histogram of tokens per example (characters without a model). */
  histogram: { of: "tokens" | "chars"; bins: HistogramBin[] };
  duplicates: { exact: number; near: number; nearGroups: number; conflicting: number };
  systemPrompts: { withSystem: number; variants: number; top: SystemPromptVariant[] };
  shape: ShapeConsistency;
  lengthOutliers: number;
  factInjection: FactInjectionVerdict;
  /** Examples over the per-example token limit. */
  overTokenLimit: number;
  tokenLimit?: number;
  /** Number of issues per code (including any beyond the listing cap). */
  issueCounts: Record<string, number>;
}

export interface AnalysisResult {
  issues: DatasetIssue[];
  stats: DatasetStats;
}

const INTERN_LIMIT = 10_000;

/** Interns strings to small ids (bounded: rare values beyond the limit share one id). */
class Interner {
  readonly values: string[] = [];
  readonly counts: number[] = [];
  readonly first: number[] = [];
  private ids = new Map<string, number>();
  id(s: string, line: number): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      if (this.values.length >= INTERN_LIMIT) s = "(other)";
      id = this.ids.get(s);
      if (id === undefined) {
        id = this.values.length;
        this.ids.set(s, id);
        this.values.push(s);
        this.counts.push(0);
        this.first.push(line);
      }
    }
    this.counts[id]++;
    return id;
  }
}

function jsonKeys(sig: string): { type: string; keys?: string[]; fenced: boolean } | undefined {
  const m = /^json(~?):(\w+)(?:\{(.*)\})?$/.exec(sig);
  if (!m) return undefined;
  return { fenced: m[1] === "~", type: m[2], keys: m[3] === undefined ? undefined : m[3] === "" ? [] : m[3].split(",") };
}

function kindOf(sig: string): string {
  if (sig.startsWith("json")) return "json";
  if (sig.startsWith("lines:")) return "line-template";
  return "free-text";
}

export class DatasetAggregator {
  private readonly opts: AggregatorOptions;
  private n = 0;
  private readonly lines = new NumberColumn(1024, "i32");
  private readonly messages = new NumberColumn(1024, "i32");
  private readonly tokens = new NumberColumn(1024, "i32");
  private readonly assistantTokens = new NumberColumn(1024, "i32");
  private hasTokens = true;
  private readonly chars = new NumberColumn(1024, "i32");
  private readonly replyChars = new NumberColumn(1024, "i32");
  private readonly exact = new NumberColumn();
  private readonly prompt = new NumberColumn();
  private readonly reply = new NumberColumn();
  private readonly system = new NumberColumn();
  private readonly shapeIds = new NumberColumn(1024, "i32");
  private readonly langIds = new NumberColumn(1024, "i32");
  private readonly shapes = new Interner();
  private readonly langs = new Interner();
  private readonly systemVariants = new Map<number, SystemPromptVariant>();
  private readonly signatures = new SignatureStore();
  private readonly issues: DatasetIssue[] = [];
  private readonly issueCounts: Record<string, number> = {};
  private factExamples = 0;
  private readonly factKinds: Record<string, number> = {};
  private readonly factLines: number[] = [];
  private overLimit = 0;

  constructor(options: AggregatorOptions = {}) {
    this.opts = options;
  }

  private issue(i: DatasetIssue): void {
    const c = (this.issueCounts[i.code] = (this.issueCounts[i.code] ?? 0) + 1);
    if (c <= (this.opts.maxIssuesPerCode ?? 10_000)) this.issues.push(i);
  }

  add(f: ExampleFeatures): void {
    this.n++;
    this.lines.push(f.line);
    this.messages.push(f.messages);
    if (f.tokens === undefined) this.hasTokens = false;
    this.tokens.push(f.tokens ?? 0);
    this.assistantTokens.push(f.assistantTokens ?? 0);
    this.chars.push(f.chars);
    this.replyChars.push(f.replyChars);
    this.exact.push(f.exactHash);
    this.prompt.push(f.promptHash);
    this.reply.push(f.replyHash);
    this.system.push(f.systemHash);
    this.shapeIds.push(this.shapes.id(f.shape, f.line));
    this.langIds.push(this.langs.id(f.language, f.line));
    this.signatures.push(f.minhash, f.promptShingles, f.replyShingles);
    if (f.systemHash !== 0) {
      const v = this.systemVariants.get(f.systemHash);
      if (v) v.count++;
      else if (this.systemVariants.size < INTERN_LIMIT) this.systemVariants.set(f.systemHash, { preview: f.systemPreview ?? "", count: 1, firstLine: f.line });
    }
    if (f.factSpans && f.factSpans.length > 0) {
      this.factExamples++;
      if (this.factLines.length < 1000) this.factLines.push(f.line);
      for (const s of f.factSpans) this.factKinds[s.kind] = (this.factKinds[s.kind] ?? 0) + 1;
      this.issue({
        line: f.line,
        code: "fact_injection",
        severity: "warning",
        message: `reply asserts specifics the conversation does not supply: ${describeSpans(f.factSpans)} (teaches a fact, not a behaviour; put such facts in retrieval)`,
        details: { spans: f.factSpans, score: f.factScore },
      });
    }
    const limit = this.opts.tokenLimit;
    if (limit !== undefined && f.tokens !== undefined && f.tokens > limit) {
      this.overLimit++;
      this.issue({
        line: f.line,
        code: "too_many_tokens",
        severity: "error",
        message: `example has ${f.tokens} tokens, over the ${limit}-token limit${this.opts.model ? ` of ${this.opts.model}` : ""} (it would be truncated)`,
        details: { tokens: f.tokens, limit },
      });
    }
  }

  finish(): AnalysisResult {
    const n = this.n;
    const exactDup = this.exactDuplicates();
    const conflicting = this.conflictingAnswers();
    const near = this.nearDuplicates(exactDup);
    this.systemPromptIssues();
    const shape = this.shapeConsistency();
    const lengthOutliers = this.lengthOutliers();
    if (n < 50) {
      this.issue({
        line: 0,
        code: "too_few_examples",
        severity: "warning",
        message:
          n < 10
            ? `only ${n} example${n === 1 ? "" : "s"}: OpenAI requires at least 10, and 50-100 is the recommended start`
            : `only ${n} examples: 50-100 is the recommended start for a fine-tune`,
        details: { examples: n, required: 10, recommended: [50, 100] },
      });
    }
    const share = n === 0 ? 0 : this.factExamples / n;
    const verdict: FactInjectionVerdict["verdict"] = share >= 0.3 ? "knowledge" : share >= 0.05 ? "mixed" : "behaviour";
    const pct = (share * 100).toFixed(1);
    const factInjection: FactInjectionVerdict = {
      examples: this.factExamples,
      share,
      verdict,
      kinds: this.factKinds,
      lines: this.factLines,
      message:
        verdict === "knowledge"
          ? `${pct}% of examples teach facts the prompt does not supply: this dataset teaches knowledge; put the facts in retrieval and fine-tune only the behaviour`
          : verdict === "mixed"
            ? `${pct}% of examples teach facts the prompt does not supply: move those facts to retrieval`
            : `${pct}% of examples teach facts: the dataset teaches behaviour`,
    };
    const stats: DatasetStats = {
      examples: n,
      messages: describeNumbers(this.messages.values()),
      chars: describeNumbers(this.chars.values()),
      replyChars: describeNumbers(this.replyChars.values()),
      histogram: this.hasTokens && n > 0 ? { of: "tokens", bins: histogram(this.tokens.values(), 10) } : { of: "chars", bins: histogram(this.chars.values(), 10) },
      duplicates: { exact: exactDup.count, near: near.pairs, nearGroups: near.groups, conflicting },
      systemPrompts: {
        withSystem: countNonZero(this.system.values()),
        variants: this.systemVariants.size,
        top: [...this.systemVariants.values()].sort((a, b) => b.count - a.count).slice(0, 10),
      },
      shape,
      lengthOutliers,
      factInjection,
      overTokenLimit: this.overLimit,
      issueCounts: this.issueCounts,
    };
    if (this.opts.tokenLimit !== undefined) stats.tokenLimit = this.opts.tokenLimit;
    if (this.hasTokens && n > 0) {
      stats.tokens = describeNumbers(this.tokens.values());
      stats.assistantTokens = describeNumbers(this.assistantTokens.values());
      if (this.opts.model) stats.tokenizerModel = this.opts.model;
    }
    const issues = this.issues.sort((a, b) => a.line - b.line);
    return { issues, stats };
  }

  /** Indices sorted by a hash column (ties by position), for grouping without hash tables. */
  private sortedBy(col: NumberColumn): Uint32Array {
    const v = col.values();
    const idx = new Uint32Array(this.n);
    for (let i = 0; i < this.n; i++) idx[i] = i;
    return idx.sort((a, b) => v[a] - v[b] || a - b);
  }

  private exactDuplicates(): { count: number; isDup: Uint8Array } {
    const isDup = new Uint8Array(this.n);
    const v = this.exact.values();
    const idx = this.sortedBy(this.exact);
    let count = 0;
    let first = 0;
    for (let k = 1; k < idx.length; k++) {
      if (v[idx[k]] !== v[idx[k - 1]]) {
        first = k;
        continue;
      }
      // The first member of the run (lowest position) is the original.
      const orig = idx[first];
      isDup[idx[k]] = 1;
      count++;
      this.issue({
        line: this.lines.get(idx[k]),
        code: "duplicate",
        severity: "warning",
        message: `exact duplicate of line ${this.lines.get(orig)} (it counts twice in training)`,
        details: { of: this.lines.get(orig) },
      });
    }
    return { count, isDup };
  }

  private conflictingAnswers(): number {
    const p = this.prompt.values();
    const r = this.reply.values();
    const idx = this.sortedBy(this.prompt);
    let count = 0;
    let start = 0;
    while (start < idx.length) {
      let end = start + 1;
      while (end < idx.length && p[idx[end]] === p[idx[start]]) end++;
      if (end - start > 1) {
        const first = idx[start];
        for (let k = start + 1; k < end; k++) {
          const i = idx[k];
          if (r[i] === r[first]) continue;
          count++;
          this.issue({
            line: this.lines.get(i),
            code: "conflicting_answers",
            severity: "warning",
            message: `same prompt as line ${this.lines.get(first)} but a different reply (the model is taught two answers)`,
            details: { of: this.lines.get(first) },
          });
        }
      }
      start = end;
    }
    return count;
  }

  private nearDuplicates(exact: { isDup: Uint8Array }): { pairs: number; groups: number } {
    const boilerplate = findBoilerplate(this.signatures);
    const ex = this.exact.values();
    const pairs = findSimilarPairs(this.signatures, {
      threshold: this.opts.nearDuplicateThreshold ?? 0.8,
      boilerplate,
      accept: (a, b) => ex[a] !== ex[b] && !exact.isDup[a] && !exact.isDup[b],
    });
    const best = new Map<number, SimilarPair>();
    for (const p of pairs) {
      const cur = best.get(p.b);
      if (!cur || p.similarity > cur.similarity) best.set(p.b, p);
    }
    for (const [b, p] of best) {
      const of = this.lines.get(p.a);
      this.issue({
        line: this.lines.get(b),
        code: "near_duplicate",
        severity: "warning",
        message: `near duplicate of line ${of} (${describeSimilarity(p)})`,
        details: { of, similarity: p.similarity, prompt: p.prompt, reply: p.reply },
      });
    }
    const groups = groupPairs(this.n, pairs);
    const roots = new Set<number>();
    for (const p of pairs) roots.add(groups[p.a]);
    return { pairs: best.size, groups: roots.size };
  }

  private systemPromptIssues(): void {
    const withSystem = [...this.systemVariants.values()].reduce((s, v) => s + v.count, 0);
    if (this.systemVariants.size < 2 || withSystem < 4) return;
    let domHash = 0;
    let dom: SystemPromptVariant | undefined;
    for (const [h, v] of this.systemVariants) if (!dom || v.count > dom.count) [domHash, dom] = [h, v];
    if (!dom || dom.count / withSystem < 0.5) return;
    const sys = this.system.values();
    for (let i = 0; i < this.n; i++) {
      if (sys[i] === 0 || sys[i] === domHash) continue;
      this.issue({
        line: this.lines.get(i),
        code: "inconsistent_system_prompt",
        severity: "warning",
        message: `system prompt differs from the one ${dom.count} of ${withSystem} examples use (first at line ${dom.firstLine}); train with the prompt you will deploy`,
        details: { dominantLine: dom.firstLine, variants: this.systemVariants.size },
      });
    }
  }

  private shapeConsistency(): ShapeConsistency {
    const n = this.n;
    const ids = this.shapeIds.values();
    const sigs = this.shapes.values;
    const counts = this.shapes.counts;
    const kindCount = new Map<string, number>();
    sigs.forEach((s, i) => kindCount.set(kindOf(s), (kindCount.get(kindOf(s)) ?? 0) + counts[i]));
    let domSig = 0;
    for (let i = 1; i < sigs.length; i++) if (counts[i] > counts[domSig]) domSig = i;
    const jsonN = kindCount.get("json") ?? 0;
    const jsonRate = n === 0 ? 0 : jsonN / n;
    let dominantKind = "free-text";
    let conforms: (sigId: number) => string | undefined = () => undefined;
    let requiredKeys: string[] | undefined;
    if (n > 0 && jsonRate >= 0.5) {
      dominantKind = "json";
      // Required keys and dominant top-level type over the JSON object replies.
      const keyCount = new Map<string, number>();
      const typeCount = new Map<string, number>();
      let fenced = 0;
      let objects = 0;
      sigs.forEach((s, i) => {
        const j = jsonKeys(s);
        if (!j) return;
        typeCount.set(j.type, (typeCount.get(j.type) ?? 0) + counts[i]);
        if (j.fenced) fenced += counts[i];
        if (j.keys) {
          objects += counts[i];
          for (const k of j.keys) keyCount.set(k, (keyCount.get(k) ?? 0) + counts[i]);
        }
      });
      const domType = [...typeCount].sort((a, b) => b[1] - a[1])[0][0];
      requiredKeys = [...keyCount].filter(([, c]) => c >= 0.9 * objects).map(([k]) => k).sort();
      const fencedMostly = fenced / jsonN >= 0.5;
      conforms = (id) => {
        const j = jsonKeys(sigs[id]);
        if (!j) return `reply is not JSON while ${(jsonRate * 100).toFixed(0)}% of replies are`;
        if (j.type !== domType) return `reply is a JSON ${j.type}, most replies are a JSON ${domType}`;
        if (j.fenced !== fencedMostly) return j.fenced ? "reply is wrapped in a code fence, most are not" : "reply lacks the code fence most replies have";
        const missing = (requiredKeys ?? []).filter((k) => !(j.keys ?? []).includes(k));
        if (missing.length > 0) return `JSON reply lacks key${missing.length > 1 ? "s" : ""} ${missing.map((k) => `"${k}"`).join(", ")} that other replies have`;
        return undefined;
      };
    } else if (n > 0 && sigs[domSig].startsWith("lines:") && counts[domSig] / n >= 0.5) {
      dominantKind = "line-template";
      const want = sigs[domSig].slice(6).split("\u241E");
      conforms = (id) => {
        if (id === domSig) return undefined;
        const got = sigs[id].startsWith("lines:") ? sigs[id].slice(6).split("\u241E") : [];
        return `reply does not follow the line template "${want.join(" / ")}" of ${((counts[domSig] / n) * 100).toFixed(0)}% of replies${got.length ? ` (has "${got.join(" / ")}")` : ""}`;
      };
    }
    // Language: flagged when 80% of the replies with a recognisable language agree.
    const langIds = this.langIds.values();
    const langs: Record<string, number> = {};
    let known = 0;
    let domLang = -1;
    this.langs.values.forEach((l, i) => {
      langs[l] = this.langs.counts[i];
      if (l === "und") return;
      known += this.langs.counts[i];
      if (domLang < 0 || this.langs.counts[i] > this.langs.counts[domLang]) domLang = i;
    });
    const langOk = domLang >= 0 && known >= 5 && this.langs.counts[domLang] / known >= 0.8;
    let outliers = 0;
    if (n >= 5) {
      for (let i = 0; i < n; i++) {
        let why = conforms(ids[i]);
        if (!why && langOk && langIds[i] !== domLang && this.langs.values[langIds[i]] !== "und") {
          why = `reply is in "${this.langs.values[langIds[i]]}" while ${((this.langs.counts[domLang] / known) * 100).toFixed(0)}% are in "${this.langs.values[domLang]}"`;
        }
        if (!why) continue;
        outliers++;
        this.issue({ line: this.lines.get(i), code: "format_outlier", severity: "warning", message: why, details: { shape: sigs[ids[i]] } });
      }
    }
    const signatures = sigs
      .map((s, i) => ({ signature: s, count: counts[i], firstLine: this.shapes.first[i] }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 10);
    const out: ShapeConsistency = {
      dominantKind,
      dominantSignature: sigs[domSig] ?? "none",
      dominantShare: n === 0 ? 0 : (counts[domSig] ?? 0) / n,
      jsonRate,
      languages: langs,
      outliers,
      signatures,
    };
    if (requiredKeys) out.jsonRequiredKeys = requiredKeys;
    return out;
  }

  /**
   * Final replies far longer or shorter than the rest (robust z-score of log length, and at least 4x
   * off). Characters of the final reply, so a multi-turn example is not an outlier for having turns.
   */
  private lengthOutliers(): number {
    const n = this.n;
    if (n < 8) return 0;
    const col = this.replyChars.values();
    const logs = Float64Array.from(col, (x) => Math.log(1 + x)).sort();
    const med = logs[Math.floor(n / 2)];
    const dev = Float64Array.from(logs, (x) => Math.abs(x - med)).sort();
    const mad = Math.max(dev[Math.floor(n / 2)], 0.1);
    const medRaw = Math.exp(med) - 1;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const x = col[i];
      const z = (0.6745 * (Math.log(1 + x) - med)) / mad;
      const ratio = (x + 1) / (medRaw + 1);
      if (Math.abs(z) <= 3.5 || (ratio < 4 && ratio > 0.25)) continue;
      count++;
      const unit = "characters";
      this.issue({
        line: this.lines.get(i),
        code: "length_outlier",
        severity: "warning",
        message: `reply has ${x} ${unit}, ${ratio >= 1 ? `${ratio.toFixed(1)}x longer` : `${(1 / ratio).toFixed(1)}x shorter`} than the median (${Math.round(medRaw)})`,
        details: { length: x, unit, median: Math.round(medRaw) },
      });
    }
    return count;
  }
}

function describeSpans(spans: FactSpan[]): string {
  const shown = spans.slice(0, 4).map((s) => `"${s.text.length > 40 ? s.text.slice(0, 37) + "..." : s.text}" (${s.kind})`);
  return shown.join(", ") + (spans.length > 4 ? ` and ${spans.length - 4} more` : "");
}

function countNonZero(v: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) n++;
  return n;
}
