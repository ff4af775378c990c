/**
 * Checkers for the retention set: each item carries a small, explicit rule for what counts as a right
 * answer, so general skills can be scored without a judge model.
 */
import { parseJsonReply } from "../shape/json-schema.js";

export type RetentionCheck =
  /** The last number in the reply equals `value` (within `tolerance`). */
  | { kind: "number"; value: number; tolerance?: number }
  /** The reply contains one of the phrases (case-insensitive, as whole words). */
  | { kind: "contains"; any: string[] }
  /** The reply contains every phrase (case-insensitive, whole words). */
  | { kind: "containsAll"; all: string[] }
  | { kind: "regex"; pattern: string; flags?: string }
  /** The reply (optionally fenced) is a JSON object with these key/value pairs (strings case-insensitive). */
  | { kind: "json"; expect: Record<string, unknown> }
  /** Word count bounds. */
  | { kind: "words"; min?: number; max?: number }
  | { kind: "uppercase" }
  /** Exactly `count` non-blank lines. */
  | { kind: "lines"; count: number }
  /** Every check must pass. */
  | { kind: "all"; checks: RetentionCheck[] };

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function hasPhrase(text: string, phrase: string): boolean {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRe(phrase)}($|[^\\p{L}\\p{N}])`, "iu").test(text);
}

function looseEqual(a: unknown, b: unknown): boolean {
  if (typeof a === "string" && typeof b === "string") return a.trim().toLowerCase() === b.trim().toLowerCase();
  if (typeof a === "number" && typeof b === "string") return String(a) === b.trim();
  if (typeof b === "number" && typeof a === "string") return String(b) === a.trim();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => looseEqual(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    return Object.entries(a as Record<string, unknown>).every(([k, v]) => looseEqual(v, (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

export function checkRetention(check: RetentionCheck, reply: string): boolean {
  switch (check.kind) {
    case "number": {
      const nums = reply.replace(/(\d),(\d{3})/g, "$1$2").match(/-?\d+(?:\.\d+)?/g);
      if (!nums) return false;
      return Math.abs(Number(nums[nums.length - 1]) - check.value) <= (check.tolerance ?? 1e-9);
    }
    case "contains":
      return check.any.some((p) => hasPhrase(reply, p));
    case "containsAll":
      return check.all.every((p) => hasPhrase(reply, p));
    case "regex":
      return new RegExp(check.pattern, check.flags ?? "").test(reply);
    case "json": {
      const p = parseJsonReply(reply);
      if (!p.ok || typeof p.value !== "object" || p.value === null || Array.isArray(p.value)) return false;
      return looseEqual(check.expect, p.value);
    }
    case "words": {
      const n = reply.trim() === "" ? 0 : reply.trim().split(/\s+/).length;
      return n >= (check.min ?? 0) && n <= (check.max ?? Infinity);
    }
    case "uppercase":
      return /\p{L}/u.test(reply) && reply === reply.toUpperCase();
    case "lines":
      return reply.split(/\r?\n/).filter((l) => l.trim() !== "").length === check.count;
    case "all":
      return check.checks.every((c) => checkRetention(c, reply));
  }
}
