/**
 * Strict checks of an OpenAI chat record (`{"messages": [...], "tools"?, "parallel_tool_calls"?}`),
 * following what OpenAI's fine-tuning upload accepts. A record without errors becomes a ChatExample.
 */
import type { ChatExample, ChatMessage, ContentPart, DatasetIssue, Role, ToolCall } from "../types.js";
import { describe, isPlainObject, issue, type RecordResult } from "./types.js";

const ROLES: ReadonlySet<string> = new Set(["system", "developer", "user", "assistant", "tool"]);
const TOP_KEYS: ReadonlySet<string> = new Set(["messages", "tools", "parallel_tool_calls"]);
const COMMON_KEYS = ["role", "content", "name"];
const KEYS_BY_ROLE: Record<Role, ReadonlySet<string>> = {
  system: new Set(COMMON_KEYS),
  developer: new Set(COMMON_KEYS),
  user: new Set(COMMON_KEYS),
  assistant: new Set([...COMMON_KEYS, "tool_calls", "weight", "refusal"]),
  tool: new Set([...COMMON_KEYS, "tool_call_id"]),
};

/** Checks a parsed JSON record as OpenAI chat; `line` is where it starts. */
export function checkOpenAIChat(value: unknown, line: number): RecordResult {
  const issues: DatasetIssue[] = [];
  const err = (code: string, message: string) => issues.push(issue(line, code, message));
  if (!isPlainObject(value)) {
    err("not_an_object", `expected a JSON object with "messages", got ${describe(value)}`);
    return { issues, notes: [] };
  }
  for (const k of Object.keys(value)) {
    if (!TOP_KEYS.has(k)) err("unrecognized_key", `unrecognized top-level key "${k}" (allowed: messages, tools, parallel_tool_calls)`);
  }
  const raw = value.messages;
  if (raw === undefined) err("missing_messages", `the record has no "messages" key`);
  else if (!Array.isArray(raw)) err("missing_messages", `"messages" must be a list, got ${describe(raw)}`);
  else if (raw.length === 0) err("missing_messages", `"messages" is empty`);

  const tools = value.tools;
  if (tools !== undefined) checkTools(tools, err);
  const ptc = value.parallel_tool_calls;
  if (ptc !== undefined && typeof ptc !== "boolean") err("invalid_field", `"parallel_tool_calls" must be true or false, got ${describe(ptc)}`);

  const messages: ChatMessage[] = [];
  if (Array.isArray(raw)) {
    const openCalls = new Set<string>();
    let sawAssistant = false;
    raw.forEach((m, i) => {
      const msg = checkMessage(m, i, err, openCalls);
      if (msg) {
        messages.push(msg);
        if (msg.role === "assistant") sawAssistant = true;
      } else if (isPlainObject(m) && m.role === "assistant") sawAssistant = true;
    });
    if (raw.length > 0 && !sawAssistant) err("no_assistant_message", "no assistant message: there is nothing to train on");
  }
  if (issues.length > 0) return { issues, notes: [] };
  const example: ChatExample = { messages };
  if (Array.isArray(tools)) example.tools = tools;
  if (typeof ptc === "boolean") example.parallel_tool_calls = ptc;
  return { example, issues, notes: [] };
}

type Report = (code: string, message: string) => void;

function checkTools(tools: unknown, err: Report): void {
  if (!Array.isArray(tools)) {
    err("invalid_tools", `"tools" must be a list of tool definitions, got ${describe(tools)}`);
    return;
  }
  tools.forEach((t, i) => {
    if (!isPlainObject(t)) return err("invalid_tools", `tools[${i}] must be an object, got ${describe(t)}`);
    if (t.type !== "function") return err("invalid_tools", `tools[${i}].type must be "function", got ${describe(t.type)}`);
    const f = t.function;
    if (!isPlainObject(f) || typeof f.name !== "string" || f.name === "") {
      err("invalid_tools", `tools[${i}].function must be an object with a non-empty "name"`);
    }
  });
}

function checkMessage(m: unknown, i: number, err: Report, openCalls: Set<string>): ChatMessage | undefined {
  const at = `messages[${i}]`;
  if (!isPlainObject(m)) {
    err("not_an_object", `${at} must be an object with "role" and "content", got ${describe(m)}`);
    return undefined;
  }
  // A message with any error yields no ChatMessage (the record then yields no example).
  let errors = 0;
  const report: Report = (code, message) => {
    errors++;
    err(code, message);
  };
  if (!("role" in m)) {
    report("message_missing_key", `${at} has no "role"`);
    return undefined;
  }
  const role = m.role;
  if (typeof role !== "string" || !ROLES.has(role)) {
    report("unrecognized_role", `${at}.role ${describe(role)} is not one of system, developer, user, assistant, tool`);
    return undefined;
  }
  const r = role as Role;
  for (const k of Object.keys(m)) {
    if (KEYS_BY_ROLE[r].has(k)) continue;
    if (k === "weight") report("invalid_weight", `${at}: "weight" is allowed on assistant messages only, not on ${r}`);
    else if (k === "tool_calls") report("invalid_tool_call", `${at}: "tool_calls" is allowed on assistant messages only, not on ${r}`);
    else report("unrecognized_key", `${at} has an unrecognized key "${k}"`);
  }
  const hasToolCalls = r === "assistant" && Array.isArray(m.tool_calls) && m.tool_calls.length > 0;
  let toolCalls: ToolCall[] | undefined;
  if (r === "assistant" && m.tool_calls !== undefined) toolCalls = checkToolCalls(m.tool_calls, at, report, openCalls);

  let content: ChatMessage["content"] = null;
  if (!("content" in m)) {
    if (!hasToolCalls) report("message_missing_key", `${at} (${r}) has no "content"`);
  } else {
    const c = m.content;
    if (c === null) {
      if (!hasToolCalls) report("missing_content", `${at} (${r}) has null content and no tool_calls`);
    } else if (typeof c === "string") {
      if (c.trim() === "" && !hasToolCalls) report("missing_content", `${at} (${r}) has empty content`);
      content = c;
    } else if (Array.isArray(c)) {
      content = checkParts(c, at, r, report, hasToolCalls);
    } else {
      report("invalid_content", `${at}.content must be a string, a list of content parts or null, got ${describe(c)}`);
    }
  }
  if (m.name !== undefined && typeof m.name !== "string") report("invalid_content", `${at}.name must be a string, got ${describe(m.name)}`);
  let weight: 0 | 1 | undefined;
  if (r === "assistant" && m.weight !== undefined) {
    if (m.weight === 0 || m.weight === 1) weight = m.weight;
    else report("invalid_weight", `${at}.weight must be 0 or 1, got ${describe(m.weight)}`);
  }
  let toolCallId: string | undefined;
  if (r === "tool") {
    if (!("tool_call_id" in m)) report("message_missing_key", `${at} (tool) has no "tool_call_id"`);
    else if (typeof m.tool_call_id !== "string" || m.tool_call_id === "") {
      report("invalid_tool_call", `${at}.tool_call_id must be a non-empty string, got ${describe(m.tool_call_id)}`);
    } else if (!openCalls.has(m.tool_call_id)) {
      report("invalid_tool_call", `${at}: tool message answers "${m.tool_call_id}", but no earlier assistant tool call has that id`);
    } else {
      toolCallId = m.tool_call_id;
      openCalls.delete(toolCallId);
    }
  }
  if (errors > 0) return undefined;
  const msg: ChatMessage = { role: r, content };
  if (typeof m.name === "string") msg.name = m.name;
  if (toolCalls) msg.tool_calls = toolCalls;
  if (toolCallId !== undefined) msg.tool_call_id = toolCallId;
  if (weight !== undefined) msg.weight = weight;
  return msg;
}

function checkParts(parts: unknown[], at: string, role: Role, report: Report, hasToolCalls: boolean): ContentPart[] {
  if (parts.length === 0 && !hasToolCalls) report("missing_content", `${at} (${role}) has an empty content list`);
  let text = "";
  let nonText = false;
  parts.forEach((p, j) => {
    if (!isPlainObject(p) || typeof p.type !== "string") {
      report("invalid_content", `${at}.content[${j}] must be an object with a "type", got ${describe(p)}`);
      return;
    }
    if (p.type === "text") {
      if (typeof p.text !== "string") report("invalid_content", `${at}.content[${j}] is a text part without a string "text"`);
      else text += p.text;
    } else nonText = true;
  });
  if (parts.length > 0 && !nonText && text.trim() === "" && !hasToolCalls) report("missing_content", `${at} (${role}) has only empty text parts`);
  return parts as ContentPart[];
}

function checkToolCalls(tc: unknown, at: string, report: Report, openCalls: Set<string>): ToolCall[] | undefined {
  if (!Array.isArray(tc)) {
    report("invalid_tool_call", `${at}.tool_calls must be a list, got ${describe(tc)}`);
    return undefined;
  }
  const out: ToolCall[] = [];
  tc.forEach((c, j) => {
    const where = `${at}.tool_calls[${j}]`;
    if (!isPlainObject(c)) return report("invalid_tool_call", `${where} must be an object, got ${describe(c)}`);
    if (typeof c.id !== "string" || c.id === "") return report("invalid_tool_call", `${where} needs a non-empty string "id"`);
    if (c.type !== "function") return report("invalid_tool_call", `${where}.type must be "function", got ${describe(c.type)}`);
    const f = c.function;
    if (!isPlainObject(f)) return report("invalid_tool_call", `${where}.function must be an object with "name" and "arguments"`);
    if (typeof f.name !== "string" || f.name === "") return report("invalid_tool_call", `${where}.function.name must be a non-empty string`);
    if (typeof f.arguments !== "string") {
      return report("invalid_tool_call", `${where}.function.arguments must be a JSON string, got ${describe(f.arguments)}`);
    }
    try {
      JSON.parse(f.arguments);
    } catch {
      return report("invalid_tool_call", `${where}.function.arguments is not valid JSON: ${JSON.stringify(f.arguments.slice(0, 60))}`);
    }
    openCalls.add(c.id);
    out.push({ id: c.id, type: "function", function: { name: f.name, arguments: f.arguments } });
  });
  return out;
}
