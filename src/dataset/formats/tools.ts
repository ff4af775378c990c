/**
 * Tool definitions come in several shapes: the OpenAI array, a JSON string of it (LLaMA-Factory,
 * glaive), or bare function definitions `{"name","description","parameters"}`. All become the OpenAI
 * array `[{"type":"function","function":{...}}]`.
 */
import { describe, isPlainObject } from "./types.js";

export function normaliseTools(raw: unknown): { tools?: unknown[]; wrapped?: boolean; error?: string } {
  let v = raw;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return { error: `"tools" is a string that is not valid JSON` };
    }
  }
  if (isPlainObject(v)) v = [v];
  if (!Array.isArray(v)) return { error: `"tools" must be a list of tool definitions, got ${describe(v)}` };
  let wrapped = false;
  const tools = v.map((t) => {
    if (isPlainObject(t) && t.type === undefined && typeof t.name === "string") {
      wrapped = true;
      return { type: "function", function: t };
    }
    return t;
  });
  return { tools, wrapped };
}
