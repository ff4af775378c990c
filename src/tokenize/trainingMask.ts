/**
 * Training tokenisation with an assistant-only loss mask.
 *
 * The ids are the encoding of the whole rendered conversation, done the same way as generation-time
 * prompts (encodeChatPrompt: special tokens recognised, nothing added), so a model is trained on exactly
 * the tokens it will see. The mask marks the assistant replies inside those ids:
 *
 * 1. Spans by prefix rendering (the main method): for assistant message i, render messages[:i] with the
 *    generation prompt (A) and messages[:i+1] without (B). When A is a prefix of B and B a prefix of
 *    the full rendering, the reply is the text between them. It ends after the last end-of-turn text
 *    in it (EOS / `<|im_end|>` / ...), so the end-of-turn token IS trained (a model that never learns
 *    it never stops) while the template's separator after it (often "\n") is not.
 * 2. Spans by search (fallback, for templates whose output for a prefix is not a prefix of the whole,
 *    e.g. ones that drop earlier reasoning): the reply's text (content, then tool-call names and
 *    arguments) is searched in the rendering after the previous reply; the span runs to the end of the
 *    text plus an end-of-turn text that follows directly.
 * Character spans become token positions by encoding the text before the boundary: when those ids are
 * a prefix of the whole encoding the boundary is exact; otherwise a token straddles it and belongs to
 * the reply (the model has to produce it).
 *
 * Assistant messages with `weight: 0` are not trained. A result with no trained token has
 * `emptyMask: true`, so training can refuse it.
 *
 * A system (or developer) message the template ignores (the conversation renders the same without it)
 * is counted in `droppedSystemMessages`, so training can warn: the model would never see it.
 */
import { contentText, type ChatExample, type ChatMessage } from "../chat/types.js";
import type { Tokenizer } from "./types.js";
import type { ChatTemplateRenderer } from "./chatTemplate.js";

export interface TrainingTokens {
  ids: Int32Array;
  /** 1 where the token is a training target (an assistant reply token, including its end of turn). */
  lossMask: Uint8Array;
  /** Number of 1s in lossMask (after truncation). */
  assistantTokens: number;
  /** The example was longer than maxSeqLen and was cut to it. */
  truncated: boolean;
  /** Truncation removed every trained assistant token: the example teaches nothing. */
  replyCutAway: boolean;
  /** Length before truncation. */
  fullLength: number;
  /** Trained assistant tokens that truncation removed. */
  droppedAssistantTokens: number;
  /** No trained token at all (all weight 0, no assistant message, or cut away). */
  emptyMask: boolean;
  /** How the spans were found: "prefix" for every turn, or "search" if any turn needed the fallback. */
  method: "prefix" | "search";
  /** Trained assistant turns whose span could not be found (left out of the mask). */
  unlocatedTurns: number;
  /** System/developer messages the template drops (the rendering is the same without them). */
  droppedSystemMessages: number;
}

export interface TrainingTokenizeOptions {
  /** Cut the ids to this many tokens (the end is cut away). */
  maxSeqLen?: number;
}

export function tokenizeForTraining(
  example: ChatExample,
  tok: Tokenizer,
  template: ChatTemplateRenderer,
  options: TrainingTokenizeOptions = {},
): TrainingTokens {
  const messages = example.messages;
  const tools = Array.isArray(example.tools) && example.tools.length > 0 ? example.tools : undefined;
  const encode = (text: string) => tok.encode(text, { allowSpecial: true, addSpecialTokens: false });
  const full = template.render(messages, { addGenerationPrompt: false, tools });
  const ids = encode(full);
  const mask = new Uint8Array(ids.length);
  const endTexts = template.endOfTurn;
  let method: "prefix" | "search" = "prefix";
  let unlocated = 0;
  let searchFrom = 0;

  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== "assistant") continue;
    let span = prefixSpan(template, messages, i, full, tools, endTexts);
    if (span === undefined) {
      method = "search";
      span = searchSpan(m, full, searchFrom, endTexts);
    }
    if (span === undefined) {
      if (m.weight !== 0) unlocated++;
      continue;
    }
    searchFrom = span[1];
    if (m.weight === 0) continue;
    const start = tokenBoundary(encode(full.slice(0, span[0])), ids, "start");
    const end = tokenBoundary(encode(full.slice(0, span[1])), ids, "end");
    for (let t = start; t < end; t++) mask[t] = 1;
  }

  let droppedSystemMessages = 0;
  messages.forEach((m, i) => {
    if ((m.role !== "system" && m.role !== "developer") || contentText(m.content).trim() === "") return;
    let without: string;
    try {
      without = template.render([...messages.slice(0, i), ...messages.slice(i + 1)], { addGenerationPrompt: false, tools });
    } catch {
      return; // a template that needs the system message keeps it
    }
    if (without === full) droppedSystemMessages++;
  });

  const fullLength = ids.length;
  let total = 0;
  for (const v of mask) total += v;
  const limit = options.maxSeqLen !== undefined && options.maxSeqLen > 0 ? options.maxSeqLen : fullLength;
  const truncated = fullLength > limit;
  const keptIds = truncated ? ids.slice(0, limit) : ids;
  const keptMask = truncated ? mask.slice(0, limit) : mask;
  let kept = 0;
  for (const v of keptMask) kept += v;
  return {
    ids: Int32Array.from(keptIds),
    lossMask: keptMask,
    assistantTokens: kept,
    truncated,
    replyCutAway: truncated && total > 0 && kept === 0,
    fullLength,
    droppedAssistantTokens: total - kept,
    emptyMask: kept === 0,
    method,
    unlocatedTurns: unlocated,
    droppedSystemMessages,
  };
}

/** [start, end) characters of assistant message i found by prefix rendering, or undefined. */
function prefixSpan(
  template: ChatTemplateRenderer,
  messages: ChatMessage[],
  i: number,
  full: string,
  tools: unknown[] | undefined,
  endTexts: string[],
): [number, number] | undefined {
  let before: string;
  let through: string;
  try {
    before = template.render(messages.slice(0, i), { addGenerationPrompt: true, tools });
    through = template.render(messages.slice(0, i + 1), { addGenerationPrompt: false, tools });
  } catch {
    return undefined; // e.g. a template that refuses a conversation not ending in a given role
  }
  if (!through.startsWith(before) || !full.startsWith(through) || through.length <= before.length) return undefined;
  return [before.length, trimAfterEndOfTurn(full, before.length, through.length, endTexts)];
}

/** Moves `end` back to just after the last end-of-turn text in [start, end), if there is one. */
function trimAfterEndOfTurn(full: string, start: number, end: number, endTexts: string[]): number {
  let best = -1;
  for (const e of endTexts) {
    const k = full.lastIndexOf(e, end - e.length);
    if (k >= start && k + e.length > best) best = k + e.length;
  }
  return best > 0 ? best : end;
}

/**
 * The fallback: find the reply's own text in the rendering. Templates that drop the reasoning of
 * earlier turns (Qwen3 keeps `<think>...</think>` only after the last user message) render just the
 * answer after `</think>`, so that is searched when the whole content is not there.
 */
function searchSpan(m: ChatMessage, full: string, from: number, endTexts: string[]): [number, number] | undefined {
  const text = contentText(m.content);
  const think = text.lastIndexOf("</think>");
  if (think >= 0 && full.indexOf(text, from) < 0) {
    const answer = text.slice(think + "</think>".length).replace(/^\n+/, "");
    if (answer) return searchSpan({ ...m, content: answer }, full, from, endTexts);
  }
  const pieces = [text];
  for (const c of m.tool_calls ?? []) pieces.push(c.function?.name ?? "", c.function?.arguments ?? "");
  let start = -1;
  let cursor = from;
  for (const p of pieces) {
    if (!p) continue;
    const k = full.indexOf(p, cursor);
    if (k < 0) return undefined;
    if (start < 0) start = k;
    cursor = k + p.length;
  }
  if (start < 0) return undefined;
  for (const e of endTexts) if (full.startsWith(e, cursor)) return [start, cursor + e.length];
  return [start, cursor];
}

/**
 * Token index of a character boundary, given the ids of the text before it: exact when those ids are
 * a prefix of the whole encoding; otherwise the straddling token is put inside the reply (start: the
 * common prefix length; end: one past it).
 */
function tokenBoundary(prefixIds: number[], ids: number[], side: "start" | "end"): number {
  let k = 0;
  const n = Math.min(prefixIds.length, ids.length);
  while (k < n && prefixIds[k] === ids[k]) k++;
  if (k === prefixIds.length || side === "start") return k;
  return Math.min(k + 1, ids.length);
}

/**
 * An example tokenizer in the shape the trainer takes (plain arrays), with the template chosen once.
 */
export function trainingExampleTokenizer(
  tok: Tokenizer,
  template: ChatTemplateRenderer,
): (example: ChatExample) => { ids: number[]; lossMask: number[] } {
  return (example) => {
    const r = tokenizeForTraining(example, tok, template);
    return { ids: Array.from(r.ids), lossMask: Array.from(r.lossMask) };
  };
}
