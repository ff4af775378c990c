/**
 * ShareGPT records (`{"conversations": [{"from", "value"}], "system"?, "tools"?}`), as used by
 * LLaMA-Factory, FastChat and Axolotl, become OpenAI chat: human/gpt/system map to user/assistant/system,
 * `function_call` turns become assistant `tool_calls`, `observation` turns become tool messages that
 * answer the oldest unanswered call, and a `tools` JSON string becomes the OpenAI tools array.
 */
import type { DatasetIssue, Role } from "../types.js";
import { describe, isPlainObject, issue, type ConversionNote } from "./types.js";
import type { Candidate } from "./candidate.js";
import { normaliseTools } from "./tools.js";

const ROLE_MAP: Record<string, Role> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  model: "assistant",
  chatgpt: "assistant",
  bard: "assistant",
  bing: "assistant",
  system: "system",
  developer: "developer",
};
const CALL_ROLES = new Set(["function_call", "tool_call", "tool_calls"]);
const RESULT_ROLES = new Set(["observation", "tool", "function", "tool_response", "ipython"]);
const KNOWN_TOP = new Set(["conversations", "system", "tools"]);

export function convertShareGPT(value: Record<string, unknown>, line: number): Candidate {
  const issues: DatasetIssue[] = [];
  const notes: ConversionNote[] = [];
  const err = (code: string, message: string) => issues.push(issue(line, code, message));
  for (const k of Object.keys(value)) {
    if (!KNOWN_TOP.has(k)) notes.push({ code: "dropped_field", message: `top-level field "${k}" dropped` });
  }
  const conv = value.conversations;
  if (!Array.isArray(conv) || conv.length === 0) {
    err("missing_messages", Array.isArray(conv) ? `"conversations" is empty` : `"conversations" must be a list, got ${describe(conv)}`);
    return { issues, notes };
  }
  const messages: Record<string, unknown>[] = [];
  if (value.system !== undefined) {
    if (typeof value.system !== "string") err("invalid_content", `"system" must be a string, got ${describe(value.system)}`);
    else if (value.system.trim() !== "") messages.push({ role: "system", content: value.system });
  }
  let tools: unknown[] | undefined;
  if (value.tools !== undefined && value.tools !== "" && value.tools !== null) {
    const t = normaliseTools(value.tools);
    if (t.error) err("invalid_tools", t.error);
    else tools = t.tools;
    if (t.wrapped) notes.push({ code: "tools_wrapped", message: `bare function definitions in "tools" wrapped as {"type":"function","function":...}` });
  }
  const pending: string[] = [];
  let callCounter = 0;
  conv.forEach((turn, i) => {
    const at = `conversations[${i}]`;
    if (!isPlainObject(turn)) return err("not_an_object", `${at} must be an object with "from" and "value", got ${describe(turn)}`);
    const from = turn.from ?? turn.role;
    const val = "value" in turn ? turn.value : turn.content;
    for (const k of Object.keys(turn)) {
      if (!["from", "value", "role", "content"].includes(k)) notes.push({ code: "dropped_field", message: `turn field "${k}" dropped` });
    }
    if (from === undefined) return err("message_missing_key", `${at} has no "from"`);
    if (typeof from !== "string") return err("unrecognized_role", `${at}.from must be a string, got ${describe(from)}`);
    if (val === undefined) return err("message_missing_key", `${at} has no "value"`);
    const key = from.toLowerCase();
    if (CALL_ROLES.has(key)) {
      const calls = parseCalls(val);
      if (typeof calls === "string") return err("invalid_tool_call", `${at} (function_call): ${calls}`);
      const toolCalls = calls.map((c) => {
        const id = `call_${++callCounter}`;
        pending.push(id);
        return { id, type: "function", function: c };
      });
      messages.push({ role: "assistant", content: null, tool_calls: toolCalls });
      return;
    }
    if (RESULT_ROLES.has(key)) {
      const id = pending.shift();
      if (id === undefined) return err("invalid_tool_call", `${at} (${from}) is a tool result without an earlier function_call to answer`);
      messages.push({ role: "tool", tool_call_id: id, content: typeof val === "string" ? val : JSON.stringify(val) });
      return;
    }
    const role = ROLE_MAP[key];
    if (role === undefined) {
      notes.push({ code: "unknown_role", message: `turn with unknown role "${from}" dropped` });
      return;
    }
    if (typeof val !== "string") return err("invalid_content", `${at}.value must be a string, got ${describe(val)}`);
    messages.push({ role, content: val });
  });
  const candidate: Record<string, unknown> = { messages };
  if (tools) candidate.tools = tools;
  return { candidate, issues, notes };
}

/** A function_call turn's value: `{"name","arguments"}` or a list of them, as JSON text or already parsed. */
function parseCalls(val: unknown): { name: string; arguments: string }[] | string {
  let v = val;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return `value is not JSON: ${JSON.stringify(String(val).slice(0, 60))}`;
    }
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return "empty list of calls";
  const out: { name: string; arguments: string }[] = [];
  for (const c of list) {
    if (!isPlainObject(c) || typeof c.name !== "string" || c.name === "") return `expected {"name", "arguments"}, got ${describe(c)}`;
    const a = c.arguments ?? c.parameters ?? {};
    let args: string;
    if (typeof a === "string") {
      try {
        JSON.parse(a);
      } catch {
        return `arguments of "${c.name}" are not JSON`;
      }
      args = a;
    } else args = JSON.stringify(a);
    out.push({ name: c.name, arguments: args });
  }
  return out;
}
