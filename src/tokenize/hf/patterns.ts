/** Regex patterns of tokenizer.json (`{String}` / `{Regex}`, Oniguruma syntax) as JavaScript regexes. */
import { unsupported, type Json } from "./stage.js";

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A `{String: ...}` or `{Regex: ...}` pattern as a global JS regex. */
export function patternRegex(p: Json, where: string): RegExp {
  if (typeof p?.String === "string") return new RegExp(escapeRegex(p.String), "gu");
  if (typeof p?.Regex === "string") return new RegExp(translateOniguruma(p.Regex, where), "gu");
  throw unsupported(where, `pattern ${JSON.stringify(p)}`, "patterns are {String} or {Regex}");
}

/**
 * Oniguruma (what `tokenizers` compiles) to JavaScript: `(?i:...)` groups of plain letters become
 * case classes ([sS]). Other inline flags and constructs JavaScript lacks (possessive quantifiers,
 * atomic groups) are refused with a clear error.
 */
export function translateOniguruma(src: string, where = "tokenizer.json"): string {
  let out = src.replace(/\(\?i:([^()]*)\)/g, (_m, body: string) => {
    if (!/^[\p{L}'|]*$/u.test(body)) throw unsupported(where, `case-insensitive regex group (?i:${body})`, "only letters are supported in (?i:...)");
    const expanded = body.replace(/\p{L}/gu, (c) => (c.toLowerCase() === c.toUpperCase() ? c : `[${c.toLowerCase()}${c.toUpperCase()}]`));
    return `(?:${expanded})`;
  });
  if (/\(\?[imsx-]+[:)]/.test(out)) throw unsupported(where, `regex inline flags in ${src}`, "only (?i:...) is supported");
  try {
    new RegExp(out, "u");
  } catch (e) {
    throw unsupported(where, `regex ${src} (${(e as Error).message})`, "this pattern cannot be translated to JavaScript");
  }
  return out;
}
