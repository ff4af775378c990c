/**
 * Per-example features: everything the dataset-level analysis needs from one example, small and plain
 * (structured-clone-able, so workers can compute them), so that a file of any size is analysed
 * without keeping its texts: token counts, hashes for exact duplicates and conflicting answers, a
 * MinHash signature for near duplicates, the reply's shape signature, language and length, and the
 * fact-injection check.
 */
import { contentText, type ChatExample, type SourcedExample } from "../types.js";
import { guessLanguage, replyShapeSignature } from "../../shape/index.js";
import { detectFactInjection, type FactSpan } from "./facts.js";
import { Hash53, hash53 } from "./hash.js";
import { MINHASH_BINS, minhashSignature8Into } from "./minhash.js";
import type { ExampleTokenCounter } from "./tokens.js";

export interface ExampleFeatures {
  line: number;
  index: number;
  messages: number;
  /** Token counts with the chosen model's tokenizer; undefined without a model. */
  tokens?: number;
  assistantTokens?: number;
  /** Characters of all message contents / of the trained assistant contents. */
  chars: number;
  assistantChars: number;
  /** Whole example, whitespace-normalised: equal => exact duplicate. */
  exactHash: number;
  /** Everything before the final assistant reply (case/whitespace-normalised), and that reply. */
  promptHash: number;
  replyHash: number;
  /** 0 when there is no system (or developer) message. */
  systemHash: number;
  /** The first 100 characters of the system prompt, to show its variants. */
  systemPreview?: string;
  /**
   * MinHash signatures (low 8 bits per bin) of the prompt (the non-system messages before the final
   * reply) and of the final reply, MINHASH_BINS bytes each, prompt first; line labels removed
   * (template-insensitive). Compared separately and together (near-duplicates.ts).
   */
  minhash: Uint8Array;
  /** Word 3-grams in the prompt and in the reply (0: no words); they weigh the two parts. */
  promptShingles: number;
  replyShingles: number;
  /** replyShapeSignature of the final reply, its language and length in characters. */
  shape: string;
  language: string;
  replyChars: number;
  /** Fact-injection score and unsupported spans (spans only when the example injects facts). */
  factScore: number;
  factSpans?: FactSpan[];
}

/** What extractFeatures needs besides the example; build it with createFeatureContext (feature-context.ts). */
export interface FeatureContext {
  model?: string;
  countTokens?: ExampleTokenCounter;
  tokenLimit?: number;
  /** Only hashes, signatures and shape (split and leakage): skips fact detection and language. */
  similarityOnly?: boolean;
}

// "Label: " at a line start: template text shared by every example, not content.
const LINE_LABEL = /^[ \t]*(?:[*_]{1,2})?\p{L}[\p{L}\p{N};'&/().\-]*(?: [\p{L}\p{N};'&/().\-]+){0,3}(?:[*_]{1,2})?:(?=\s|$)/gmu;

function normWs(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

function finalReplyIndex(ex: ChatExample): number {
  for (let i = ex.messages.length - 1; i >= 0; i--) if (ex.messages[i].role === "assistant") return i;
  return -1;
}

export function extractFeatures(src: SourcedExample, ctx: FeatureContext = {}): ExampleFeatures {
  const ex = src.example;
  const msgs = Array.isArray(ex.messages) ? ex.messages : [];
  const last = finalReplyIndex(ex);
  // The hashes are fed normalised text directly: no normalised copies of the messages are built.
  const exact = new Hash53();
  const prompt = new Hash53();
  let promptContent = "";
  let replyContent = "";
  let system = "";
  let chars = 0;
  let assistantChars = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    let text = contentText(m?.content ?? null);
    if (m?.tool_calls) for (const c of m.tool_calls) text += `\n${c.function?.name ?? ""}(${c.function?.arguments ?? ""})`;
    chars += text.length;
    if (m.role === "assistant" && m.weight !== 0) assistantChars += text.length;
    exact.code(1);
    exact.text(m.role);
    exact.code(2);
    exact.normalized(text, false);
    if (i !== last) {
      prompt.code(1);
      prompt.text(m.role);
      prompt.code(2);
      prompt.normalized(text, true);
    }
    if (m.role === "system" || m.role === "developer") system += (system ? "\n" : "") + text;
    else {
      const unlabelled = text.indexOf(":") < 0 ? text : text.replace(LINE_LABEL, " ");
      if (i === last) replyContent = unlabelled;
      else promptContent += "\n" + unlabelled;
    }
  }
  const reply = last >= 0 ? contentText(msgs[last].content) : "";
  const replyHash = new Hash53();
  replyHash.normalized(reply, true);
  const facts = ctx.similarityOnly ? { score: 0, injects: false, spans: [] } : detectFactInjection(ex);
  const counts = ctx.countTokens ? ctx.countTokens(ex) : undefined;
  const systemNorm = system ? normWs(system) : "";
  const minhash = new Uint8Array(2 * MINHASH_BINS);
  const promptShingles = minhashSignature8Into(promptContent, minhash, 0);
  const replyShingles = minhashSignature8Into(replyContent, minhash, MINHASH_BINS);
  const f: ExampleFeatures = {
    line: src.line,
    index: src.index,
    messages: msgs.length,
    chars,
    assistantChars,
    exactHash: exact.digest(),
    promptHash: prompt.digest(),
    replyHash: replyHash.digest(),
    systemHash: system ? hash53(systemNorm) : 0,
    minhash,
    promptShingles,
    replyShingles,
    shape: last >= 0 ? replyShapeSignature(reply) : "none",
    language: ctx.similarityOnly ? "und" : guessLanguage(reply),
    replyChars: reply.length,
    factScore: facts.score,
  };
  if (system) f.systemPreview = systemNorm.slice(0, 100);
  if (counts) {
    f.tokens = counts.total;
    f.assistantTokens = counts.assistant;
  }
  if (facts.injects) f.factSpans = facts.spans;
  return f;
}
