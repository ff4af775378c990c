/**
 * The prompts a teacher answers: a chat JSONL file (`{"messages": [...]}`, or `{"prompt": "..."}`;
 * a trailing assistant reply is dropped from the prompt and kept as the reference), a text file with
 * one prompt per line, or a CSV file with a prompt column. Every problem names its line; a file with
 * any bad line is refused as a whole, before a single call is paid for.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { contentText, type ChatMessage } from "../chat/types.js";
import { CsvParser, csvColumnTarget } from "../dataset/csv.js";
import { checkOpenAIChat } from "../dataset/formats/openai-chat.js";
import { parseJson } from "../dataset/json-parse.js";
import { checkEncoding, firstInvalidUtf8, stripUtf8Bom } from "../dataset/lines.js";
import { TunekitError, fsError } from "../util/errors.js";

export type PromptFileFormat = "jsonl" | "text" | "csv";

export interface DistillPrompt {
  /** 1-based line the prompt starts on. */
  line: number;
  /** The conversation the teacher answers (ends with a user message). */
  messages: ChatMessage[];
  /** The file's own reply to it (a chat example's last assistant message, a CSV answer column), if any. */
  reference?: string;
}

export interface ReadPromptsOptions {
  /** Default: .jsonl/.json -> jsonl, .csv/.tsv -> csv, .txt -> text, otherwise jsonl when the file starts with "{". */
  format?: PromptFileFormat;
  /** CSV: the column holding the prompt (default: the first named prompt, question, instruction, user or query). */
  column?: string;
  /** Files larger than this are refused (default 1 GiB): prompts are held in memory. */
  maxBytes?: number;
}

export interface PromptFile {
  file: string;
  format: PromptFileFormat;
  prompts: DistillPrompt[];
}

interface LineProblem {
  line: number;
  message: string;
}

const MAX_LISTED = 5;

export async function readPrompts(file: string, options: ReadPromptsOptions = {}): Promise<PromptFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw fsError(e, file);
  }
  const maxBytes = options.maxBytes ?? 1024 ** 3;
  if (bytes.length > maxBytes) {
    throw new TunekitError("file_too_large", `the prompt file is ${bytes.length.toLocaleString("en-US")} bytes, more than ${maxBytes.toLocaleString("en-US")}`, {
      file,
      hint: "split it into smaller files and distill them one by one (answers are cached, so nothing is asked twice)",
    });
  }
  checkEncoding(bytes.subarray(0, 4), file);
  const body = stripUtf8Bom(bytes);
  if (body.every((b) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09)) {
    throw new TunekitError("empty_file", "the prompt file is empty", { file, exitCode: 1, hint: "write one prompt per line (or one chat example per line)" });
  }
  const format = options.format ?? guessFormat(file, body);
  const lines = splitLines(body);
  const problems: LineProblem[] = [];
  for (const l of lines) {
    const bad = firstInvalidUtf8(l.bytes);
    if (bad >= 0) problems.push({ line: l.line, message: `not valid UTF-8 (byte ${bad + 1} of the line); the file may be Latin-1 or binary` });
  }
  if (problems.length > 0) throw refuse(file, problems);
  const texts = lines.map((l) => ({ line: l.line, text: l.bytes.toString("utf8") }));
  const prompts = format === "csv" ? readCsv(file, texts, options.column, problems) : format === "jsonl" ? readJsonl(texts, problems) : readText(texts);
  if (problems.length > 0) throw refuse(file, problems);
  if (prompts.length === 0) {
    throw new TunekitError("no_prompts", "the prompt file holds no prompt", { file, exitCode: 1, hint: "write one prompt per line (or one chat example per line)" });
  }
  return { file, format, prompts };
}

function guessFormat(file: string, body: Buffer): PromptFileFormat {
  const ext = extname(file).toLowerCase();
  if (ext === ".csv" || ext === ".tsv") return "csv";
  if (ext === ".jsonl" || ext === ".json" || ext === ".ndjson") return "jsonl";
  if (ext === ".txt" || ext === ".text") return "text";
  const first = body.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  return first === 0x7b /* { */ ? "jsonl" : "text";
}

function splitLines(body: Buffer): { line: number; bytes: Buffer }[] {
  const out: { line: number; bytes: Buffer }[] = [];
  let start = 0;
  let line = 1;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    let stop = end;
    if (stop > start && body[stop - 1] === 0x0d) stop--;
    if (!(end === body.length && stop === start)) out.push({ line, bytes: body.subarray(start, stop) });
    start = end + 1;
    line++;
  }
  return out;
}

function refuse(file: string, problems: LineProblem[]): TunekitError {
  const listed = problems.slice(0, MAX_LISTED).map((p) => `  line ${p.line}: ${p.message}`);
  const more = problems.length > MAX_LISTED ? [`  ... and ${problems.length - MAX_LISTED} more`] : [];
  const head = problems.length === 1 ? `line ${problems[0].line} is not a usable prompt: ${problems[0].message}` : `${problems.length} lines are not usable prompts:\n${[...listed, ...more].join("\n")}`;
  return new TunekitError("invalid_prompts", head, {
    file,
    line: problems[0].line,
    exitCode: 1,
    hint: 'each line must be a prompt: {"messages": [...]} ending with a user message (a last assistant reply is kept as the reference), {"prompt": "..."}, or plain text with --input-format text',
  });
}

function readText(lines: { line: number; text: string }[]): DistillPrompt[] {
  return lines.filter((l) => l.text.trim() !== "").map((l) => ({ line: l.line, messages: [{ role: "user", content: l.text }] }));
}

function readJsonl(lines: { line: number; text: string }[], problems: LineProblem[]): DistillPrompt[] {
  const out: DistillPrompt[] = [];
  for (const { line, text } of lines) {
    if (text.trim() === "") continue;
    const p = parseJson(text);
    if (!p.ok) {
      problems.push({ line, message: p.column !== undefined ? `invalid JSON at column ${p.column}: ${p.message}` : p.message });
      continue;
    }
    const got = promptFromRecord(p.value, line);
    if ("message" in got) problems.push(got);
    else out.push(got);
  }
  return out;
}

function promptFromRecord(value: unknown, line: number): DistillPrompt | LineProblem {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return { line, message: 'expected a JSON object with "messages" or "prompt"' };
  const o = value as Record<string, unknown>;
  if (!("messages" in o)) {
    if (typeof o.prompt === "string") {
      if (o.prompt.trim() === "") return { line, message: '"prompt" is empty' };
      return { line, messages: [{ role: "user", content: o.prompt }], ...(typeof o.completion === "string" && o.completion.trim() !== "" ? { reference: o.completion } : {}) };
    }
    return { line, message: 'expected {"messages": [...]} or {"prompt": "..."}' };
  }
  if (o.tools !== undefined) return { line, message: "prompts with tools are not supported: the teacher is asked for a text reply" };
  const raw = o.messages;
  // The chat checks need an assistant message to pass; a prompt-only record gets a stand-in, dropped again.
  const endsWithAssistant = Array.isArray(raw) && raw.length > 0 && (raw[raw.length - 1] as { role?: unknown })?.role === "assistant";
  const checked = checkOpenAIChat(Array.isArray(raw) && !endsWithAssistant ? { ...o, messages: [...raw, { role: "assistant", content: "-" }] } : o, line);
  if (!checked.example) return { line, message: checked.issues.find((i) => i.severity === "error")?.message ?? "not a chat example" };
  const messages = checked.example.messages.slice(0, -1);
  const last = checked.example.messages[checked.example.messages.length - 1];
  if (messages.some((m) => m.role === "tool" || m.tool_calls?.length)) return { line, message: "prompts with tool calls are not supported: the teacher is asked for a text reply" };
  if (messages.length === 0 || messages[messages.length - 1].role !== "user") return { line, message: "the prompt must end with a user message (before any last assistant reply)" };
  const reference = endsWithAssistant ? contentText(last.content) : undefined;
  return { line, messages, ...(reference !== undefined && reference.trim() !== "" ? { reference } : {}) };
}

function readCsv(file: string, lines: { line: number; text: string }[], column: string | undefined, problems: LineProblem[]): DistillPrompt[] {
  const sep = extname(file).toLowerCase() === ".tsv" ? "\t" : ",";
  const parser = new CsvParser(sep);
  const records: { line: number; fields: string[] }[] = [];
  for (const { line, text } of lines) {
    if (!parser.pending && text.trim() === "") continue;
    const r = parser.pushLine(text, line);
    if (!r) continue;
    if ("error" in r) problems.push({ line: r.line, message: r.error });
    else records.push(r);
  }
  const end = parser.finish();
  if (end) problems.push({ line: end.line, message: end.error });
  if (records.length === 0) return [];
  const header = records[0].fields.map((h) => h.trim());
  const find = (pred: (h: string) => boolean) => {
    const i = header.findIndex(pred);
    return i < 0 ? undefined : i;
  };
  const promptCol = column !== undefined ? find((h) => h.toLowerCase() === column.toLowerCase()) : find((h) => csvColumnTarget(h) === "user");
  if (promptCol === undefined) {
    throw new TunekitError(
      "csv_column_not_found",
      column !== undefined ? `the CSV header has no column "${column}" (header: ${header.map((h) => `"${h}"`).join(", ")})` : `cannot tell which CSV column holds the prompt (header: ${header.map((h) => `"${h}"`).join(", ")})`,
      { file, line: records[0].line, exitCode: 2, hint: "name it with --prompt-column NAME (a column called prompt, question, instruction, user or query is found by itself)" },
    );
  }
  const systemCol = find((h) => csvColumnTarget(h) === "system");
  const inputCol = column === undefined ? find((h) => csvColumnTarget(h) === "input") : undefined;
  const refCol = find((h) => csvColumnTarget(h) === "assistant");
  const out: DistillPrompt[] = [];
  for (const r of records.slice(1)) {
    if (r.fields.length !== header.length) {
      problems.push({ line: r.line, message: `the row has ${r.fields.length} fields, the header has ${header.length}` });
      continue;
    }
    let prompt = r.fields[promptCol];
    const input = inputCol !== undefined ? r.fields[inputCol] : "";
    if (input.trim() !== "") prompt = prompt.trim() === "" ? input : `${prompt}\n${input}`;
    if (prompt.trim() === "") {
      problems.push({ line: r.line, message: `the prompt ("${header[promptCol]}") is empty` });
      continue;
    }
    const system = systemCol !== undefined ? r.fields[systemCol] : "";
    const reference = refCol !== undefined ? r.fields[refCol] : "";
    out.push({
      line: r.line,
      messages: [...(system.trim() !== "" ? [{ role: "system" as const, content: system }] : []), { role: "user", content: prompt }],
      ...(reference.trim() !== "" ? { reference } : {}),
    });
  }
  return out;
}

/** The prompt with `system` as its system prompt (replacing the prompt's own), or unchanged without one. */
export function withSystem(messages: ChatMessage[], system: string | undefined): ChatMessage[] {
  if (system === undefined) return messages;
  const rest = messages.filter((m) => m.role !== "system" && m.role !== "developer");
  return system.trim() === "" ? rest : [{ role: "system", content: system }, ...rest];
}
