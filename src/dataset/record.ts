/**
 * What happens to one record, from bytes to a checked example. Pure functions of their inputs, so they
 * run the same on the main thread and in worker threads.
 */
import type { ChatExample, DatasetFormat, DatasetIssue } from "./types.js";
import { firstInvalidUtf8 } from "./lines.js";
import { parseJson } from "./json-parse.js";
import { detectRecordFormat, recordToExample, type ConversionNote } from "./formats/index.js";
import { issue } from "./formats/types.js";
import { structureWarnings } from "./structure.js";

/** The outcome for one physical line or record. */
export interface RecordOutcome {
  line: number;
  /** The format the record's keys say it is in (undefined when unparseable or unrecognisable). */
  detected?: DatasetFormat;
  /** The record was parsed as JSON (it counts as a record, valid or not). */
  parsed: boolean;
  /** A blank line: not a record at all. */
  blank?: boolean;
  issues: DatasetIssue[];
  example?: ChatExample;
  notes: ConversionNote[];
}

/** A blank line (only whitespace): a warning, not a record. */
export function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0b && b !== 0x0c) return false;
  }
  return true;
}

/** True when a decoded line is only whitespace. */
export function isBlankText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c) return false;
  }
  return true;
}

export function blankOutcome(line: number): RecordOutcome {
  return { line, parsed: false, blank: true, issues: [issue(line, "blank_line", "blank line (ignored)", "warning")], notes: [] };
}

/** Checks one JSONL line's bytes. `fileFormat` undefined means "this record decides it". */
export function processJsonLine(bytes: Buffer, line: number, unterminated: boolean, fileFormat: DatasetFormat | undefined): RecordOutcome {
  if (isBlank(bytes)) return blankOutcome(line);
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const hex = bytes[bad].toString(16).toUpperCase().padStart(2, "0");
    return {
      line,
      parsed: false,
      issues: [
        issue(line, "invalid_utf8", `not valid UTF-8 (byte 0x${hex} at byte ${bad + 1} of the line); the file may be Latin-1/Windows-1252 or binary`, "error", {
          byteOffset: bad,
        }),
      ],
      notes: [],
    };
  }
  return processJsonText(bytes.toString("utf8"), line, unterminated, fileFormat);
}

/** Checks one JSONL line already decoded (and known to be valid UTF-8, not blank). */
export function processJsonText(text: string, line: number, unterminated: boolean, fileFormat: DatasetFormat | undefined): RecordOutcome {
  const p = parseJson(text);
  if (!p.ok) {
    let message = p.column !== undefined ? `invalid JSON at column ${p.column}: ${p.message}` : p.message;
    if (unterminated) message += "; this last line has no newline at its end, so the file looks truncated";
    return {
      line,
      parsed: false,
      issues: [issue(line, p.code, message, "error", p.column !== undefined ? { column: p.column } : undefined)],
      notes: [],
    };
  }
  return processRecordValue(p.value, line, fileFormat);
}

/** Checks one parsed record against the file's format (reporting `mixed_formats`). */
export function processRecordValue(value: unknown, line: number, fileFormat: DatasetFormat | undefined): RecordOutcome {
  const detected = detectRecordFormat(value);
  const format = fileFormat ?? detected ?? "openai-chat";
  if (detected !== undefined && detected !== format) {
    return {
      line,
      detected,
      parsed: true,
      issues: [issue(line, "mixed_formats", `this record is ${detected}, but the file is ${format} (from its first record)`, "error", { detected, fileFormat: format })],
      notes: [],
    };
  }
  const r = recordToExample(value, format, line);
  const issues = r.issues;
  if (r.example) issues.push(...structureWarnings(r.example, format, line));
  return { line, detected: detected ?? format, parsed: true, issues, ...(r.example ? { example: r.example } : {}), notes: r.notes };
}
