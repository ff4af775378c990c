/**
 * JSON.parse with errors a user can act on: a 1-based column (V8 only gives a character position) and
 * a nesting limit, because V8 parses 100k nested arrays fine but JSON.stringify and every recursive
 * walker after it overflow the stack on them.
 */

export const MAX_JSON_DEPTH = 100;

export type JsonParseResult =
  | { ok: true; value: unknown }
  | { ok: false; code: "invalid_json" | "too_deep"; message: string; column?: number; position?: number };

/** Parses one JSON text; `position`/`column` point at the problem (0-based / 1-based, in characters). */
export function parseJson(text: string): JsonParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const raw = (e as Error).message ?? String(e);
    let position: number | undefined;
    const m = /at position (\d+)/.exec(raw);
    if (m) position = Number(m[1]);
    else if (/Unexpected end of JSON input/.test(raw)) position = text.length;
    const reason = raw
      .replace(/\s*in JSON at position \d+.*$/s, "")
      .replace(/^Unexpected end of JSON input$/, "unexpected end of input")
      .replace(/^SyntaxError: /, "");
    return {
      ok: false,
      code: "invalid_json",
      message: reason.charAt(0).toLowerCase() + reason.slice(1),
      ...(position !== undefined ? { position, column: position + 1 } : {}),
    };
  }
  // Nesting needs brackets: a text with few of them (every real record) skips the walk.
  if (!fewBrackets(text, MAX_JSON_DEPTH) && exceedsDepth(value, MAX_JSON_DEPTH)) {
    return { ok: false, code: "too_deep", message: `JSON nested more than ${MAX_JSON_DEPTH} levels deep` };
  }
  return { ok: true, value };
}

/** True when `text` has at most `limit` "{" and "[" characters in all (so it cannot nest deeper than that). */
function fewBrackets(text: string, limit: number): boolean {
  let n = 0;
  for (let i = text.indexOf("{"); i >= 0; i = text.indexOf("{", i + 1)) if (++n > limit) return false;
  for (let i = text.indexOf("["); i >= 0; i = text.indexOf("[", i + 1)) if (++n > limit) return false;
  return true;
}

/** True when `value` nests arrays/objects deeper than `limit` (iterative: never overflows itself). */
export function exceedsDepth(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > limit) return true;
    if (Array.isArray(v)) {
      for (const x of v) if (x !== null && typeof x === "object") stack.push([x, d + 1]);
    } else {
      for (const k in v as Record<string, unknown>) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== null && typeof x === "object") stack.push([x, d + 1]);
      }
    }
  }
  return false;
}

/** 1-based line and column of a character position in a multi-line text. */
export function lineColumnAt(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < position; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: position - lineStart + 1 };
}
