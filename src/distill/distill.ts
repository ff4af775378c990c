/**
 * Distillation: a teacher model answers real prompts, the answers that have the wanted format are kept
 * (the first, or the best by a judge), and they become an OpenAI chat JSONL training file.
 *
 * Every call goes through the generation cache (caller.ts) keyed by the teacher, the prompt and the
 * sampling parameters (the seed of answer k when --n > 1), so an interrupted or killed run loses only the
 * calls in flight and a rerun asks nothing twice. Prompts are answered in file order by `concurrency`
 * workers; answer k+1 of a prompt is asked for only when answers 1..k were all dropped, unless a judge
 * picks among all of them. The output is written once, atomically, at the end.
 */
import type { BaseBits } from "../engine/quant/base.js";
import { access, constants } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { contentText, type ChatMessage } from "../chat/types.js";
import { parseJudgeReply, judgePrompt } from "../eval/judge.js";
import { canonicalJson, GenerationCache } from "../eval/runner/cache.js";
import { createRunner, type CreatedRunner } from "../eval/runner/create.js";
import { apiKeyEnvName, parseModelSpec, type ModelSpec } from "../eval/runner/spec.js";
import type { GenerationParams, Price } from "../eval/runner/types.js";
import type { Store } from "../store/store.js";
import { TunekitError } from "../util/errors.js";
import { ensureDir, withAtomicWriter } from "../util/fs.js";
import { Budget, callUpToUsd, estimateInputTokens, estimateTextTokens, worstCaseUsd } from "./budget.js";
import { CachedCaller, type CallStats } from "./caller.js";
import { checkAnswer, resolveAnswerFormat, type AnswerFormat } from "./format.js";
import { readPrompts, withSystem, type DistillPrompt, type PromptFileFormat } from "./prompts.js";

export type DropReason = "format" | "empty" | "truncated" | "failed" | "duplicate" | "not_reached";
export const DROP_REASONS: readonly DropReason[] = ["format", "empty", "truncated", "failed", "duplicate", "not_reached"];

export const DEFAULT_JUDGE_RUBRIC =
  "Grade how well the reply answers the user's request: correct, complete, and following every instruction of the system prompt " +
  "(format, tone, length). A reference reply, when given, shows what a good answer looks like; it need not be matched word for word.";

export interface DistillOptions {
  /** The prompt file (chat JSONL, text, or CSV). */
  prompts: string;
  /** The teacher: a model spec as `tunekit eval --model` takes it, or a parsed one. */
  teacher: string | ModelSpec;
  /** The training file to write. */
  out: string;
  /** The system prompt of every example (replaces the prompts' own; "" removes them). */
  system?: string;
  /** Answers per prompt (default 1); more than 1 needs temperature > 0. */
  n?: number;
  /** Sampling temperature (default 0). */
  temperature?: number;
  /** Longest answer in tokens (default 1024); answers cut off there are dropped. */
  maxTokens?: number;
  /** Seed of the first answer when temperature > 0 (answer k gets seed + k). Default 0. */
  seed?: number;
  /** Calls in flight (default 4; a local teacher batches instead). */
  concurrency?: number;
  /** `--format` (see format.ts); absent: any non-empty answer. */
  format?: string;
  /** A judge picks the best of the answers that pass the format. */
  judge?: string | ModelSpec;
  /** The judge's rubric (default DEFAULT_JUDGE_RUBRIC). */
  rubric?: string;
  /** USD this run may spend on new calls. */
  maxCostUsd?: number;
  /** How to read the prompt file (default: by extension and content). */
  inputFormat?: PromptFileFormat;
  /** CSV: the prompt column. */
  promptColumn?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The store holding the generation cache (default: $TUNEKIT_HOME/tunekit.db, opened and closed here). */
  store?: Store;
  offline?: boolean;
  /** Local teacher or judge: the linear weights in 4 or 8 bits (quant/base.ts). */
  baseBits?: BaseBits;
  /** Endpoint retries (default: 5 retries from 500 ms, doubling). */
  retry?: { maxRetries?: number; backoffMs?: number; maxWaitMs?: number; timeoutMs?: number };
  /** Stop after the calls in flight; throws `interrupted` (everything answered so far is cached). */
  signal?: AbortSignal;
  /** The estimate, once the prompts are read and the cache consulted, before the first call. */
  onEstimate?(e: DistillEstimate): void;
  onProgress?(p: DistillProgress): void;
  /** A local teacher or judge starts loading. */
  onLoading?(label: string): void;
}

export interface DistillEstimate {
  /** Calls still to make: at most prompts x n (fewer when the first answer passes), minus cached ones. */
  callsUpTo: number;
  /** Answers already in the cache from earlier runs. */
  cachedAnswers: number;
  inputTokens: number;
  /** If every answer ran to --max-tokens. */
  outputTokensUpTo: number;
  /** From the reference replies' length, when the prompt file has them. */
  outputTokensExpected: number | null;
  /** null when the teacher's price is unknown. */
  costUpToUsd: number | null;
  costExpectedUsd: number | null;
  /** Judge calls are not in the estimate (how many depends on how many answers pass). */
  judgeNotIncluded: boolean;
}

export interface DistillProgress {
  prompts: number;
  /** Prompts decided (kept or dropped). */
  done: number;
  kept: number;
  calls: number;
  cached: number;
  failed: number;
  /** USD spent by this run; null without a price. */
  costUsd: number | null;
  /** Set while a call waits to retry. */
  retrying?: string;
}

export interface ModelInfo {
  name: string;
  resolved: string;
  price: Price | null;
  priceSource: string | null;
}

export interface DroppedPrompt {
  line: number;
  reason: DropReason;
  detail: string;
}

export interface DistillReport {
  input: { file: string; format: PromptFileFormat; prompts: number; unique: number };
  output: { file: string; examples: number; written: boolean };
  teacher: ModelInfo;
  judge: ModelInfo | null;
  params: { n: number; temperature: number; maxTokens: number; seed: number; concurrency: number; format: string; system: string | null; maxCostUsd: number | null };
  /** Prompts with a kept answer (= examples written). */
  kept: number;
  /** Prompts without one, by reason. */
  dropped: Record<DropReason, number>;
  /** Which prompts were dropped and why (the first 1,000). */
  drops: DroppedPrompt[];
  /** Every answer looked at, by verdict. */
  answers: { total: number; passed: number; format: number; empty: number; truncated: number; failed: number };
  calls: { teacher: CallStats; judge: CallStats | null };
  /** USD this run spent (teacher + judge); null when a price is unknown. */
  costUsd: number | null;
  estimate: DistillEstimate;
  /** Set when the run stopped before every prompt was decided. */
  stopped: { reason: "max_cost"; message: string; promptsDecided: number } | null;
  complete: boolean;
  warnings: string[];
  seconds: number;
}

type Verdict = "ok" | "format" | "empty" | "truncated" | "failed";

interface Answer {
  sample: number;
  text: string;
  verdict: Verdict;
  problem?: string;
}

interface PromptState {
  prompt: DistillPrompt;
  /** What the example holds before the answer (the prompt with --system). */
  exampleMessages: ChatMessage[];
  /** What the teacher is asked (its own system prompt when its spec has one). */
  teacherMessages: ChatMessage[];
  inputTokens: number;
  status: "pending" | "kept" | "dropped";
  reason?: DropReason;
  detail?: string;
  answer?: string;
}

const MAX_DROPS_LISTED = 1000;
/** Judge calls: short verdicts, always greedy. */
const JUDGE_PARAMS: GenerationParams = { temperature: 0, maxTokens: 400 };
/** Failures that are the model's account, not one prompt's: stop at once. */
const FATAL: Record<string, string> = { auth: "auth", permission: "forbidden", not_found: "not_found" };

/** A spec without name= is called by its role. */
function named(spec: ModelSpec, role: string): ModelSpec {
  return /(^|,)\s*name\s*=/.test(spec.spec) ? spec : { ...spec, name: role };
}

function modelInfo(spec: ModelSpec, c: CreatedRunner): ModelInfo {
  return { name: spec.name, resolved: c.resolved, price: c.price ?? null, priceSource: c.priceSource ?? null };
}

function describeModel(spec: ModelSpec): string {
  return spec.source.kind === "endpoint" ? `${spec.source.model} at ${spec.source.baseUrl}` : spec.spec;
}

/** The prompt as the judge reads it: the system prompt's instructions count. */
function questionText(messages: ChatMessage[]): string {
  if (messages.length === 1) return contentText(messages[0].content);
  return messages.map((m) => `[${m.role}]\n${contentText(m.content)}`).join("\n\n");
}

function paramsFor(sample: number, o: { temperature: number; maxTokens: number; seed: number }): GenerationParams {
  // The seed tells answer k from answer j in the cache key, and makes sampled answers reproducible.
  return { temperature: o.temperature, maxTokens: o.maxTokens, ...(o.temperature > 0 ? { seed: o.seed + sample } : {}) };
}

/** Refuses an output path that cannot be written before any call is paid for. */
async function checkOutput(out: string, input: string): Promise<void> {
  if (resolve(out) === resolve(input)) throw new TunekitError("usage", "the output file is the prompt file", { file: out, hint: "write to a new file" });
  await ensureDir(dirname(out));
  try {
    await access(dirname(out), constants.W_OK);
  } catch {
    throw new TunekitError("permission_denied", `cannot write to ${dirname(out)}: permission denied`, { file: out, hint: "choose a folder you can write to" });
  }
}

function add(a: number | null, b: number | null): number | null {
  return a === null || b === null ? null : a + b;
}

export async function distill(options: DistillOptions): Promise<DistillReport> {
  const started = performance.now();
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const n = options.n ?? 1;
  const temperature = options.temperature ?? 0;
  const maxTokens = options.maxTokens ?? 1024;
  const seed = options.seed ?? 0;
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(n) || n < 1) throw new TunekitError("usage", `n must be a whole number >= 1, got ${n}`);
  if (n > 1 && temperature <= 0) {
    throw new TunekitError("usage", `--n ${n} asks for ${n} answers per prompt, but at temperature 0 they are all the same`, { hint: "add --temperature 0.7 (or so), or drop --n" });
  }
  if (options.maxCostUsd !== undefined && !(options.maxCostUsd >= 0)) throw new TunekitError("usage", `max cost must be >= 0, got ${options.maxCostUsd}`);
  const inputFile = resolve(cwd, options.prompts);
  const outFile = resolve(cwd, options.out);
  const teacherSpec = typeof options.teacher === "string" ? named(parseModelSpec(options.teacher, 0, cwd), "teacher") : options.teacher;
  const judgeSpec = options.judge === undefined ? undefined : typeof options.judge === "string" ? named(parseModelSpec(options.judge, 1, cwd), "judge") : options.judge;

  // Everything that can be refused is refused before the first call.
  const file = await readPrompts(inputFile, { ...(options.inputFormat ? { format: options.inputFormat } : {}), ...(options.promptColumn ? { column: options.promptColumn } : {}) });
  const references = file.prompts.flatMap((p) => (p.reference !== undefined ? [p.reference] : []));
  const format: AnswerFormat = await resolveAnswerFormat(options.format, references, cwd);
  await checkOutput(outFile, inputFile);
  const warnings: string[] = [];
  if (format.unchecked.length > 0) warnings.push(`the schema's ${format.unchecked.join(", ")} ${format.unchecked.length === 1 ? "is" : "are"} not checked (tunekit checks type, properties, required, items, enum, const, additionalProperties, anyOf and the min/max keywords)`);

  const ownStore = options.store === undefined;
  const store = options.store ?? (await import("../store/store.js")).openStore({ env });
  const closers: (() => Promise<void>)[] = [];
  try {
    let retrying: string | undefined;
    const retries = { teacher: 0, judge: 0 };
    const runnerOptions = (role: "teacher" | "judge") => ({
      env,
      cwd,
      store,
      cache: false,
      ...(options.offline !== undefined ? { offline: options.offline } : {}),
      ...(options.baseBits ? { baseBits: options.baseBits } : {}),
      ...(options.onLoading ? { onLoading: options.onLoading } : {}),
      endpoint: {
        ...options.retry,
        onRetry: (info: { attempt: number; waitMs: number; error: string }) => {
          retrying = `${role}: retry ${info.attempt} in ${(info.waitMs / 1000).toFixed(1)} s after ${info.error.slice(0, 60)}`;
          retries[role]++;
          emit();
        },
      },
    });
    const teacher = await createRunner(teacherSpec, runnerOptions("teacher"));
    closers.push(async () => void (await teacher.runner.close?.()));
    const judge = judgeSpec ? await createRunner(judgeSpec, runnerOptions("judge")) : undefined;
    if (judge) closers.push(async () => void (await judge.runner.close?.()));
    if (options.maxCostUsd !== undefined) {
      for (const [spec, c, role] of [[teacherSpec, teacher, "teacher"], ...(judge && judgeSpec ? [[judgeSpec, judge, "judge"] as const] : [])] as const) {
        if (!c.price) {
          throw new TunekitError("price_unknown", `--max-cost needs the ${role}'s price, and there is no list price for ${describeModel(spec)}`, {
            hint: `give it in the spec: --${role} "${spec.spec},price_in=USD_PER_1M,price_out=USD_PER_1M"`,
          });
        }
      }
    }

    const budget = new Budget(options.maxCostUsd);
    const cache = new GenerationCache(store);
    const teacherCaller = new CachedCaller(teacher.runner, cache, teacher.price, budget);
    const judgeCaller = judge ? new CachedCaller(judge.runner, cache, judge.price, budget) : undefined;

    // Prompts as the example and as the teacher sees them; a repeated prompt is asked once.
    const states: PromptState[] = [];
    const seen = new Map<string, number>();
    for (const p of file.prompts) {
      const exampleMessages = withSystem(p.messages, options.system);
      const teacherMessages = withSystem(exampleMessages, teacherSpec.system);
      const st: PromptState = { prompt: p, exampleMessages, teacherMessages, inputTokens: 0, status: "pending" };
      const key = canonicalJson(teacherMessages);
      const first = seen.get(key);
      if (first !== undefined) Object.assign(st, { status: "dropped", reason: "duplicate", detail: `same prompt as line ${first}` });
      else {
        seen.set(key, p.line);
        st.inputTokens = estimateInputTokens(teacherMessages);
      }
      states.push(st);
    }
    const todo = states.filter((s) => s.status === "pending");

    // The estimate: what is cached already, and the most the rest can cost.
    let cachedAnswers = 0;
    let callsUpTo = 0;
    let inputTokens = 0;
    let smallestCall = Infinity;
    for (const st of todo) {
      for (let k = 0; k < n; k++) {
        if (teacherCaller.peek(st.teacherMessages, paramsFor(k, { temperature, maxTokens, seed }))) cachedAnswers++;
        else {
          callsUpTo++;
          inputTokens += st.inputTokens;
          smallestCall = Math.min(smallestCall, callUpToUsd(teacher.price, st.inputTokens, maxTokens));
        }
      }
    }
    const refTokens = references.length > 0 ? references.reduce((a, r) => a + estimateTextTokens(r), 0) / references.length : null;
    const outputTokensExpected = refTokens === null ? null : Math.round(Math.min(refTokens, maxTokens) * (judge ? callsUpTo : Math.min(callsUpTo, todo.length)));
    const estimate: DistillEstimate = {
      callsUpTo,
      cachedAnswers,
      inputTokens,
      outputTokensUpTo: callsUpTo * maxTokens,
      outputTokensExpected,
      costUpToUsd: teacher.price ? worstCaseUsd(teacher.price, inputTokens, callsUpTo * maxTokens) : null,
      costExpectedUsd:
        teacher.price && outputTokensExpected !== null ? worstCaseUsd(teacher.price, Math.round(inputTokens * (judge ? 1 : Math.min(callsUpTo, todo.length) / Math.max(1, callsUpTo))), outputTokensExpected) : null,
      judgeNotIncluded: judge !== undefined,
    };
    options.onEstimate?.(estimate);
    if (options.maxCostUsd !== undefined && callsUpTo > 0 && smallestCall > options.maxCostUsd) {
      throw new TunekitError("max_cost_too_low", `--max-cost $${options.maxCostUsd} does not cover one call: a call can cost up to $${smallestCall.toFixed(6)} (its prompt plus --max-tokens ${maxTokens} answer tokens)`, {
        hint: "raise --max-cost, or lower --max-tokens",
      });
    }

    // The run.
    let stopping: "max_cost" | "fatal" | "interrupted" | undefined;
    let fatal: TunekitError | undefined;
    let consecutiveFailures = 0;
    const breakerAt = Math.max(8, 2 * concurrency);
    const answerCounts = { total: 0, passed: 0, format: 0, empty: 0, truncated: 0, failed: 0 };
    let decided = states.length - todo.length;
    let kept = 0;
    let overBudgetBy = 0;

    function emit(): void {
      options.onProgress?.({
        prompts: states.length,
        done: decided,
        kept,
        calls: teacherCaller.stats.made + (judgeCaller?.stats.made ?? 0),
        cached: teacherCaller.stats.cached + (judgeCaller?.stats.cached ?? 0),
        failed: teacherCaller.stats.failed + (judgeCaller?.stats.failed ?? 0),
        costUsd: add(teacherCaller.stats.costUsd, judgeCaller ? judgeCaller.stats.costUsd : 0),
        ...(retrying ? { retrying } : {}),
      });
    }
    const onAbort = () => {
      stopping ??= "interrupted";
    };
    options.signal?.addEventListener("abort", onAbort);
    if (options.signal?.aborted) onAbort();

    /** Notes a failed call; stops the run when the model itself is the problem. */
    const noteFailure = (role: "teacher" | "judge", spec: ModelSpec, code: string | undefined, message: string) => {
      const kind = FATAL[code ?? ""];
      if (kind) {
        const key = spec.source.kind === "endpoint" ? apiKeyEnvName(spec.source) : undefined;
        const hint =
          kind === "auth"
            ? `check the key in ${key ?? "the key variable"} (key_env=VAR in the spec names another variable)`
            : kind === "forbidden"
              ? "the key has no access to this model"
              : "check the model name (and the endpoint URL)";
        fatal ??= new TunekitError(`${role}_${kind}`, `the ${role} (${describeModel(spec)}) refused the call: ${message}`, { hint });
        stopping = "fatal";
        return;
      }
      if (code === "prompt") return;
      if (++consecutiveFailures >= breakerAt) {
        const unreachable = code === "connection";
        fatal ??= new TunekitError(
          `${role}_${unreachable ? "unreachable" : "failing"}`,
          unreachable ? `cannot reach the ${role} (${describeModel(spec)}): ${message}` : `the last ${consecutiveFailures} calls to the ${role} (${describeModel(spec)}) failed; the last one: ${message}`,
          { hint: unreachable ? "check the endpoint URL and that the server is running" : "check the server; the answers so far are cached and a rerun continues from them" },
        );
        stopping = "fatal";
      }
    };

    const judgeRubric = options.rubric ?? DEFAULT_JUDGE_RUBRIC;

    async function decide(st: PromptState): Promise<void> {
      const answers: Answer[] = [];
      for (let k = 0; k < n; k++) {
        if (stopping) return;
        const out = await teacherCaller.call(st.teacherMessages, paramsFor(k, { temperature, maxTokens, seed }), callUpToUsd(teacher.price, st.inputTokens, maxTokens));
        if (out.kind === "over_budget") {
          stopping ??= "max_cost";
          overBudgetBy = out.upToUsd;
          return;
        }
        const g = out.generation;
        let a: Answer;
        if (g.error) {
          a = { sample: k, text: "", verdict: "failed", problem: g.error };
          noteFailure("teacher", teacherSpec, g.errorCode, g.error);
          if (stopping === "fatal") return;
        } else {
          if (!g.cached) {
            consecutiveFailures = 0;
            retrying = undefined;
          }
          if (g.text.trim() === "") a = { sample: k, text: g.text, verdict: "empty", problem: "the answer is empty" };
          else if (g.finishReason === "length") a = { sample: k, text: g.text, verdict: "truncated", problem: `the answer was cut off at --max-tokens ${maxTokens}` };
          else {
            const c = checkAnswer(format, g.text);
            a = c.ok ? { sample: k, text: g.text, verdict: "ok" } : { sample: k, text: g.text, verdict: "format", problem: c.problem };
          }
        }
        answers.push(a);
        answerCounts.total++;
        if (a.verdict === "ok") answerCounts.passed++;
        else answerCounts[a.verdict]++;
        emit();
        if (a.verdict === "ok" && !judgeCaller) break;
      }
      const passing = answers.filter((a) => a.verdict === "ok");
      if (passing.length === 0) {
        // A failed call is worth naming first: a rerun retries it. Otherwise the most common problem.
        const failed = answers.find((a) => a.verdict === "failed");
        const counts = new Map<Verdict, Answer[]>();
        for (const a of answers) counts.set(a.verdict, [...(counts.get(a.verdict) ?? []), a]);
        const worst = failed ?? (["format", "truncated", "empty"] as Verdict[]).map((v) => counts.get(v) ?? []).sort((x, y) => y.length - x.length)[0][0];
        const more = answers.length > 1 ? ` (${answers.length} answers)` : "";
        Object.assign(st, { status: "dropped", reason: worst.verdict as DropReason, detail: `${worst.problem ?? worst.verdict}${more}` });
        return;
      }
      let best = passing[0];
      if (judgeCaller && judge && passing.length > 1) {
        let bestScore = -1;
        const question = questionText(st.teacherMessages);
        for (const a of passing) {
          if (stopping) return;
          const prompt = judgePrompt(judgeRubric, question, st.prompt.reference ?? "(no reference reply given)", a.text);
          const out = await judgeCaller.call(prompt, JUDGE_PARAMS, callUpToUsd(judge.price, estimateInputTokens(prompt), JUDGE_PARAMS.maxTokens!));
          if (out.kind === "over_budget") {
            stopping ??= "max_cost";
            overBudgetBy = out.upToUsd;
            return;
          }
          if (out.generation.error) {
            noteFailure("judge", judgeSpec!, out.generation.errorCode, out.generation.error);
            if (stopping === "fatal") return;
            continue;
          }
          if (!out.generation.cached) consecutiveFailures = 0;
          const { raw } = parseJudgeReply(out.generation.text);
          // Ties keep the earlier answer; an answer the judge gave no score ranks last.
          if ((raw ?? 0) > bestScore) {
            bestScore = raw ?? 0;
            best = a;
          }
        }
      }
      Object.assign(st, { status: "kept", answer: best.text });
      kept++;
    }

    let next = 0;
    const workers = teacher.runner.generateBatch ? 8 : concurrency;
    const worker = async () => {
      while (!stopping && next < todo.length) {
        const st = todo[next++];
        try {
          await decide(st);
        } catch (e) {
          fatal ??= e instanceof TunekitError ? e : new TunekitError("teacher_failing", `the teacher failed: ${(e as Error).message}`, { cause: e });
          stopping = "fatal";
        }
        if (st.status !== "pending") decided++;
        emit();
      }
    };
    emit();
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, todo.length)) }, worker));
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }

    const made = teacherCaller.stats.made + (judgeCaller?.stats.made ?? 0);
    const resumeNote = `${made} answer${made === 1 ? "" : "s"} from this run ${made === 1 ? "is" : "are"} cached: rerun the same command to continue without asking again`;
    if (stopping === "fatal" && fatal) {
      throw new TunekitError(fatal.code, `${fatal.message} (${resumeNote})`, { ...(fatal.hint ? { hint: fatal.hint } : {}), ...(fatal.file ? { file: fatal.file } : {}), cause: fatal });
    }
    if (stopping === "interrupted") throw new TunekitError("interrupted", `stopped before every prompt was answered (${resumeNote})`, { exitCode: 1 });

    for (const st of states) {
      if (st.status === "pending") Object.assign(st, { status: "dropped", reason: "not_reached", detail: "stopped by --max-cost before this prompt was answered" });
    }
    const dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
    const drops: DroppedPrompt[] = [];
    for (const st of states) {
      if (st.status !== "dropped") continue;
      dropped[st.reason!]++;
      if (drops.length < MAX_DROPS_LISTED) drops.push({ line: st.prompt.line, reason: st.reason!, detail: st.detail ?? "" });
    }
    const stopped =
      stopping === "max_cost"
        ? {
            reason: "max_cost" as const,
            promptsDecided: decided,
            message: `--max-cost $${options.maxCostUsd} reached: $${budget.spent.toFixed(4)} spent, and the next call could cost up to $${overBudgetBy.toFixed(4)}; answered ${decided} of ${states.length} prompts`,
          }
        : null;

    if (kept === 0) {
      const why = DROP_REASONS.filter((r) => dropped[r] > 0).map((r) => `${r} ${dropped[r]}`).join(", ");
      const first = drops.find((d) => d.reason !== "duplicate" && d.reason !== "not_reached") ?? drops[0];
      throw new TunekitError("nothing_kept", `no answer was kept, so ${options.out} was not written (dropped: ${why}${first ? `; e.g. line ${first.line}: ${first.detail}` : ""})`, {
        file: inputFile,
        exitCode: 1,
        hint: stopped ? "raise --max-cost (cached answers cost nothing again)" : "check --format against what the teacher answers (tunekit generate or a single prompt helps), or raise --max-tokens",
      });
    }

    await withAtomicWriter(outFile, async (w) => {
      for (const st of states) {
        if (st.status !== "kept") continue;
        await w.write(JSON.stringify({ messages: [...st.exampleMessages, { role: "assistant", content: st.answer }] }) + "\n");
      }
    });

    return {
      input: { file: options.prompts, format: file.format, prompts: states.length, unique: todo.length },
      output: { file: options.out, examples: kept, written: true },
      teacher: modelInfo(teacherSpec, teacher),
      judge: judge && judgeSpec ? modelInfo(judgeSpec, judge) : null,
      params: { n, temperature, maxTokens, seed, concurrency, format: format.description, system: options.system ?? null, maxCostUsd: options.maxCostUsd ?? null },
      kept,
      dropped,
      drops,
      answers: answerCounts,
      calls: { teacher: { ...teacherCaller.stats, retries: retries.teacher }, judge: judgeCaller ? { ...judgeCaller.stats, retries: retries.judge } : null },
      costUsd: add(teacherCaller.stats.costUsd, judgeCaller ? judgeCaller.stats.costUsd : 0),
      estimate,
      stopped,
      complete: stopped === null,
      warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const close of closers) await close().catch(() => {});
    if (ownStore) store.close();
  }
}
