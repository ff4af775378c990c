/**
 * CSV (RFC 4180) read line by line so every record knows the physical line it starts on: quoted fields
 * may contain separators, doubled quotes and newlines. Then a column mapping turns each row into a chat
 * example.
 *
 * Why not a CSV package: the reader already splits lines (for per-line UTF-8 errors, blank lines and
 * over-long lines), and what is left is this small state machine. csv-parse, the maintained choice,
 * was tried: it reports an unclosed quote at the line where the input ended rather than where the
 * quote opened, drops the next valid row after a quote in mid-field unless relaxed, and parsed slower
 * (docs/validation.md).
 */
import { TunekitError } from "../util/errors.js";
import type { DatasetIssue } from "./types.js";
import { issue } from "./formats/types.js";
import type { Candidate } from "./formats/candidate.js";

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

/** Feed physical lines (without their line ending); complete records come out. */
export class CsvParser {
  private readonly sep: string;
  private readonly maxRecordChars: number;
  private fields: string[] = [];
  private field = "";
  private inQuotes = false;
  private startLine = 0;
  private chars = 0;

  constructor(separator = ",", maxRecordChars = 64 * 1024 * 1024) {
    this.sep = separator;
    this.maxRecordChars = maxRecordChars;
  }

  /** True while a quoted field spans lines. */
  get pending(): boolean {
    return this.inQuotes;
  }

  /** Returns the completed record, or undefined when the line ends inside a quoted field. */
  pushLine(text: string, line: number): CsvRecord | { line: number; error: string } | undefined {
    if (!this.inQuotes) {
      this.startLine = line;
      this.fields = [];
      this.field = "";
      this.chars = 0;
    } else {
      this.field += "\n";
    }
    this.chars += text.length + 1;
    if (this.chars > this.maxRecordChars) {
      this.inQuotes = false;
      return { line: this.startLine, error: `a quoted field runs past ${this.maxRecordChars} characters (an unclosed quote?)` };
    }
    const sep = this.sep;
    let i = 0;
    const n = text.length;
    while (i < n) {
      const ch = text[i];
      if (this.inQuotes) {
        if (ch === '"') {
          if (text[i + 1] === '"') {
            this.field += '"';
            i += 2;
            continue;
          }
          this.inQuotes = false;
          i++;
          continue;
        }
        // Copy a run of ordinary characters at once.
        let j = text.indexOf('"', i);
        if (j < 0) j = n;
        this.field += text.slice(i, j);
        i = j;
        continue;
      }
      if (ch === '"' && this.field === "") {
        this.inQuotes = true;
        i++;
        continue;
      }
      if (ch === sep) {
        this.fields.push(this.field);
        this.field = "";
        i++;
        continue;
      }
      this.field += ch;
      i++;
    }
    if (this.inQuotes) return undefined;
    this.fields.push(this.field);
    this.field = "";
    return { line: this.startLine, fields: this.fields };
  }

  /** At end of input: an error when a quoted field was never closed. */
  finish(): { line: number; error: string } | undefined {
    if (!this.inQuotes) return undefined;
    this.inQuotes = false;
    return { line: this.startLine, error: "the file ends inside a quoted field (an unclosed quote)" };
  }
}

/** Where each chat role comes from: a column index per target. */
export interface CsvMapping {
  system?: number;
  user: number;
  assistant: number;
  /** Extra input appended to the user message on a new line (Alpaca's `input`). */
  input?: number;
}

const TARGET_ALIASES: Record<string, keyof CsvMapping> = {
  system: "system",
  system_prompt: "system",
  user: "user",
  prompt: "user",
  question: "user",
  instruction: "user",
  query: "user",
  assistant: "assistant",
  completion: "assistant",
  answer: "assistant",
  response: "assistant",
  output: "assistant",
  reply: "assistant",
  input: "input",
  context: "input",
};

/** The chat role a CSV column name stands for ("question" -> user, "answer" -> assistant), if any. */
export function csvColumnTarget(name: string): keyof CsvMapping | undefined {
  return TARGET_ALIASES[name.trim().toLowerCase()];
}

/** Parses `--columns user=question,assistant=answer` (targets may use aliases: prompt, completion, ...). */
export function parseColumnSpec(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw new TunekitError("usage", `bad --columns entry "${part}": expected TARGET=COLUMN, e.g. user=question`, {
        hint: "targets: system, user (or prompt), assistant (or completion), input",
      });
    }
    const target = TARGET_ALIASES[part.slice(0, eq).trim().toLowerCase()];
    if (!target) {
      throw new TunekitError("usage", `unknown --columns target "${part.slice(0, eq).trim()}"`, {
        hint: "targets: system, user (or prompt), assistant (or completion), input",
      });
    }
    out[target] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Builds the mapping from the header row and an explicit spec (or, without one, from the column names). */
export function resolveMapping(header: string[], spec: Record<string, string> | undefined, file: string): CsvMapping {
  const names = header.map((h) => h.trim());
  const lower = names.map((h) => h.toLowerCase());
  const found: Partial<Record<keyof CsvMapping, number>> = {};
  if (spec) {
    for (const [target, col] of Object.entries(spec)) {
      const idx = lower.indexOf(col.toLowerCase());
      if (idx < 0) {
        throw new TunekitError("csv_column_not_found", `--columns names "${col}", but the CSV header has ${names.map((n) => `"${n}"`).join(", ")}`, {
          file,
          line: 1,
        });
      }
      found[target as keyof CsvMapping] = idx;
    }
  } else {
    lower.forEach((h, i) => {
      const t = TARGET_ALIASES[h];
      if (t && found[t] === undefined) found[t] = i;
    });
  }
  if (found.user === undefined || found.assistant === undefined) {
    throw new TunekitError(
      "csv_mapping_needed",
      `cannot tell which CSV columns hold the prompt and the reply (header: ${names.map((n) => `"${n}"`).join(", ")})`,
      { file, line: 1, hint: "pass --columns user=COLUMN,assistant=COLUMN (optional: system=COLUMN, input=COLUMN)" },
    );
  }
  return found as CsvMapping;
}

/** One CSV row as an OpenAI-shaped candidate. */
export function csvRowToCandidate(rec: CsvRecord, mapping: CsvMapping, width: number): Candidate {
  const issues: DatasetIssue[] = [];
  if (rec.fields.length !== width) {
    issues.push(issue(rec.line, "invalid_csv", `the row has ${rec.fields.length} fields, the header has ${width}`));
    return { issues, notes: [] };
  }
  const f = rec.fields;
  const messages: Record<string, unknown>[] = [];
  const system = mapping.system !== undefined ? f[mapping.system] : "";
  if (system.trim() !== "") messages.push({ role: "system", content: system });
  let user = f[mapping.user];
  const input = mapping.input !== undefined ? f[mapping.input] : "";
  if (input.trim() !== "") user = user.trim() === "" ? input : `${user}\n${input}`;
  messages.push({ role: "user", content: user }, { role: "assistant", content: f[mapping.assistant] });
  return { candidate: { messages }, issues, notes: [] };
}
