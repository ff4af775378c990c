/**
 * Token counts of a chat example for an open model (dataset statistics, --max-seq-len checks): the
 * total is exact (the rendered chat template, encoded as training encodes it); the assistant figure
 * is a fast estimate: each trained reply's own text (content, tool-call names and arguments) plus one
 * end-of-turn token when the template has one. tokenizeForTraining gives the exact mask when needed.
 */
import { contentText, type ChatExample } from "../chat/types.js";
import type { ChatTemplateRenderer } from "./chatTemplate.js";
import type { Tokenizer } from "./types.js";

export interface TemplateTokenCount {
  total: number;
  assistant: number;
}

export function countTemplateTokens(example: ChatExample, tok: Tokenizer, template: ChatTemplateRenderer): TemplateTokenCount {
  const tools = Array.isArray(example.tools) && example.tools.length > 0 ? example.tools : undefined;
  const full = template.render(example.messages, { addGenerationPrompt: false, tools });
  const total = tok.encode(full, { allowSpecial: true, addSpecialTokens: false }).length;
  const endOfTurn = template.endOfTurn.length > 0 ? 1 : 0;
  let assistant = 0;
  for (const m of example.messages) {
    if (m.role !== "assistant" || m.weight === 0) continue;
    assistant += tok.count(contentText(m.content)) + endOfTurn;
    for (const c of m.tool_calls ?? []) assistant += tok.count(c.function?.name ?? "") + tok.count(c.function?.arguments ?? "");
  }
  return { total, assistant: Math.min(assistant, total) };
}

/** A counter with the tokenizer and template fixed, in the shape the dataset statistics take. */
export function templateTokenCounter(tok: Tokenizer, template: ChatTemplateRenderer): (example: ChatExample) => TemplateTokenCount {
  return (example) => countTemplateTokens(example, tok, template);
}
