/**
 * Token count of a whole OpenAI chat example, the way OpenAI's cookbook counts it
 * ("How to count tokens with tiktoken", num_tokens_from_messages, for gpt-3.5-turbo-0613 and later,
 * gpt-4*, gpt-4o*):
 *   every message: 3 tokens of framing + tokens(role) + tokens(content) [+ tokens(name) + 1 if named]
 *   every example: + 3 tokens that prime the reply.
 *
 * What the cookbook does not cover, counted as an approximation (documented; real billing may differ
 * by a few tokens per call or per tool):
 * - assistant `tool_calls`: each call adds tokens(function name) + tokens(arguments JSON) + 3 (the same
 *   per-call framing the older `function_call` counting used);
 * - `tool` messages: counted like any message (role + content); `tool_call_id` is not counted;
 * - top-level `tools`: the function definitions are written out in the TypeScript-like "namespace
 *   functions { type name = (_: {...}) => any; }" form the models are known to see, counted, plus 9
 *   tokens of framing; a system message then gets one extra newline token. Tool types other than
 *   "function" are counted as their JSON text.
 * - content parts: text parts are counted; other parts (images, audio, files) are not.
 */
import { contentText, type ChatExample, type ChatMessage } from "../chat/types.js";
import type { Tokenizer } from "./types.js";

const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING = 3;
const TOKENS_PER_TOOL_CALL = 3;
const TOOLS_FRAMING = 9;

export interface ChatTokenCount {
  /** All tokens of the example as the fine-tuning job sees them. */
  total: number;
  /** Tokens of assistant messages (content + tool calls, without framing); those with weight 0 included. */
  assistant: number;
  /** Tokens of assistant messages that are trained on (weight not 0). */
  trainedAssistant: number;
}

/** Total tokens of an example (see the module comment for the rules). */
export function countChatTokens(example: ChatExample, tokenizer: Tokenizer): number {
  return countChatTokensDetailed(example, tokenizer).total;
}

/** Total and assistant-only token counts of an example in one pass. */
export function countChatTokensDetailed(example: ChatExample, tokenizer: Tokenizer): ChatTokenCount {
  const messages = Array.isArray(example.messages) ? example.messages : [];
  const hasTools = Array.isArray(example.tools) && example.tools.length > 0;
  let total = REPLY_PRIMING;
  let assistant = 0;
  let trainedAssistant = 0;
  let systemPadded = false;
  for (const m of messages) {
    if (m === null || typeof m !== "object") continue;
    let body = messageBodyTokens(m, tokenizer);
    if (hasTools && !systemPadded && m.role === "system") {
      // Tool definitions are appended after the system message: one newline token joins them.
      const text = contentText(m.content);
      if (text.length > 0 && !text.endsWith("\n")) body += 1;
      systemPadded = true;
    }
    total += TOKENS_PER_MESSAGE + roleTokens(tokenizer, String(m.role ?? "")) + body;
    if (typeof m.name === "string" && m.name.length > 0) total += tokenizer.count(m.name) + TOKENS_PER_NAME;
    if (m.role === "assistant") {
      assistant += body;
      if (m.weight !== 0) trainedAssistant += body;
    }
  }
  if (hasTools) total += toolsTokens(example.tools!, tokenizer);
  return { total, assistant, trainedAssistant };
}

const roleCounts = new WeakMap<Tokenizer, Map<string, number>>();

/** Tokens of a role name (a handful of distinct values: counted once per tokenizer). */
function roleTokens(tokenizer: Tokenizer, role: string): number {
  let m = roleCounts.get(tokenizer);
  if (m === undefined) roleCounts.set(tokenizer, (m = new Map()));
  let n = m.get(role);
  if (n === undefined) {
    n = tokenizer.count(role);
    if (m.size < 64) m.set(role, n);
  }
  return n;
}

/** Tokens of a text that recurs whole across a dataset (system prompts, tool definitions). */
function countRecurring(tokenizer: Tokenizer, text: string): number {
  return tokenizer.countRepeated ? tokenizer.countRepeated(text) : tokenizer.count(text);
}

/** Content and tool-call tokens of one message, without framing. */
function messageBodyTokens(m: ChatMessage, tokenizer: Tokenizer): number {
  const text = typeof m.content === "string" ? m.content : contentText(m.content);
  // System prompts recur whole across a dataset; user and assistant texts rarely do.
  let n = m.role === "system" || m.role === "developer" ? countRecurring(tokenizer, text) : tokenizer.count(text);
  if (Array.isArray(m.tool_calls)) {
    for (const call of m.tool_calls) {
      const fn = call?.function;
      if (fn === undefined || fn === null) continue;
      n += TOKENS_PER_TOOL_CALL;
      if (typeof fn.name === "string") n += tokenizer.count(fn.name);
      if (typeof fn.arguments === "string") n += tokenizer.count(fn.arguments);
    }
  }
  return n;
}

/** Tokens that a `tools` array adds to a request. */
export function toolsTokens(tools: unknown[], tokenizer: Tokenizer): number {
  const functions: FunctionDef[] = [];
  let other = 0;
  for (const t of tools) {
    const fn = (t as { type?: unknown; function?: unknown } | null)?.function;
    if ((t as { type?: unknown } | null)?.type === "function" && fn && typeof fn === "object") functions.push(fn as FunctionDef);
    else other += tokenizer.count(JSON.stringify(t) ?? "");
  }
  const fnTokens = functions.length > 0 ? countRecurring(tokenizer, formatFunctionNamespace(functions)) + TOOLS_FRAMING : 0;
  return fnTokens + other;
}

interface JsonSchemaLike {
  type?: unknown;
  description?: unknown;
  enum?: unknown[];
  items?: JsonSchemaLike;
  properties?: Record<string, JsonSchemaLike>;
  required?: unknown[];
}
interface FunctionDef {
  name?: unknown;
  description?: unknown;
  parameters?: JsonSchemaLike;
}

/** Function definitions written as a TypeScript-like namespace, the form the chat models read. */
export function formatFunctionNamespace(functions: FunctionDef[]): string {
  const out: string[] = ["namespace functions {", ""];
  for (const f of functions) {
    if (typeof f.description === "string" && f.description) out.push(`// ${f.description}`);
    const props = f.parameters?.properties;
    if (props && typeof props === "object" && Object.keys(props).length > 0) {
      out.push(`type ${String(f.name)} = (_: {`);
      out.push(formatProperties(f.parameters!, 0));
      out.push("}) => any;");
    } else {
      out.push(`type ${String(f.name)} = () => any;`);
    }
    out.push("");
  }
  out.push("} // namespace functions");
  return out.join("\n");
}

function formatProperties(schema: JsonSchemaLike, indent: number): string {
  const pad = " ".repeat(indent);
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const lines: string[] = [];
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    if (p && typeof p.description === "string" && p.description && indent < 2) lines.push(`${pad}// ${p.description}`);
    lines.push(`${pad}${name}${required.has(name) ? "" : "?"}: ${formatType(p ?? {}, indent)},`);
  }
  return lines.join("\n");
}

function formatType(p: JsonSchemaLike, indent: number): string {
  switch (p.type) {
    case "string":
      return Array.isArray(p.enum) ? p.enum.map((v) => JSON.stringify(v)).join(" | ") : "string";
    case "integer":
    case "number":
      return Array.isArray(p.enum) ? p.enum.map((v) => String(v)).join(" | ") : "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "array":
      return p.items ? `${formatType(p.items, indent)}[]` : "any[]";
    case "object":
      return `{\n${formatProperties(p, indent + 2)}\n${" ".repeat(indent)}}`;
    default:
      return "any";
  }
}
