/**
 * What every per-format reader returns for one record: the canonical example (only when the record
 * has no errors), the problems found, and notes about anything that could not be carried over.
 */
import type { ChatExample, DatasetIssue, Severity } from "../types.js";

/** Something a conversion dropped or changed; counted per `code`+`message` in reports. */
export interface ConversionNote {
  code: string;
  message: string;
}

export interface RecordResult {
  example?: ChatExample;
  issues: DatasetIssue[];
  notes: ConversionNote[];
}

export function issue(line: number, code: string, message: string, severity: Severity = "error", details?: Record<string, unknown>): DatasetIssue {
  return details ? { line, code, message, severity, details } : { line, code, message, severity };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A short printable form of a JSON value for messages. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return v.length > 40 ? `a string ("${v.slice(0, 37)}...")` : `a string ("${v}")`;
  return `${typeof v} ${String(v)}`;
}
