/**
 * Reads a dataset file of any supported format as a stream of checked records, in bounded memory:
 * JSONL (streamed in fixed-size chunks), JSON arrays (Alpaca style, read whole up to a size limit) and
 * CSV (streamed, with a column mapping). Every record carries the physical line it starts on.
 */
import { promises as fsp } from "node:fs";
import { extname } from "node:path";
import { TunekitError, fsError } from "../util/errors.js";
import type { DatasetFormat, DatasetIssue, SourcedExample } from "./types.js";
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, checkEncoding, fileChunks, firstInvalidUtf8, stripUtf8Bom, type RawLine, type SkippedLine } from "./lines.js";
import { processJsonLine, processRecordValue, isBlank, type RecordOutcome } from "./record.js";
import { lineColumnAt, parseJson } from "./json-parse.js";
import { issue } from "./formats/types.js";
import type { ConversionNote } from "./formats/types.js";
import { CsvParser, csvRowToCandidate, parseColumnSpec, resolveMapping, type CsvMapping } from "./csv.js";
import { finishCandidate } from "./formats/index.js";
import { structureWarnings } from "./structure.js";

export interface ReadOptions {
  /** Lines longer than this many bytes are reported (`line_too_long`) and skipped. Default 8 MiB. */
  maxLineBytes?: number;
  /** Force a format instead of detecting it from the first record (and the file extension for CSV). */
  format?: DatasetFormat;
  /** CSV column mapping, e.g. "user=question,assistant=answer" or an object {user: "question", ...}. */
  columns?: string | Record<string, string>;
  /** CSV separator; default "," (tab for .tsv files). */
  delimiter?: string;
  /** JSON array files bigger than this are refused (they are parsed whole). Default 1 GiB. */
  maxJsonArrayBytes?: number;
  /** Bytes per read. Default 1 MiB. */
  chunkBytes?: number;
}

/** One record (or one problem line) as the reader yields it. */
export interface DatasetRecord {
  line: number;
  issues: DatasetIssue[];
  /** Present when the record has no errors. */
  example?: SourcedExample;
  /** What the conversion to OpenAI chat dropped or changed. */
  notes: ConversionNote[];
}

export const DEFAULT_MAX_JSON_ARRAY_BYTES = 1024 * 1024 * 1024;

/**
 * A dataset being read. Iterate `batches()` (fast) or the reader itself (one record at a time);
 * `format`, `bytesRead` and `totalBytes` are live while iterating.
 */
export class DatasetReader implements AsyncIterable<DatasetRecord> {
  readonly file: string;
  readonly options: ReadOptions;
  /** The file's format: forced, or decided by its first record. */
  format: DatasetFormat | undefined;
  bytesRead = 0;
  totalBytes = 0;
  /** Records parsed (valid or not), blank lines excluded. */
  records = 0;
  private exampleIndex = 0;

  constructor(file: string, options: ReadOptions = {}) {
    this.file = file;
    this.options = options;
    this.format = options.format;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<DatasetRecord> {
    for await (const batch of this.batches()) yield* batch;
  }

  /** Records in file order, in batches (one per read chunk). */
  async *batches(): AsyncGenerator<DatasetRecord[]> {
    const kind = await this.open();
    if (kind.type === "csv") yield* this.readCsv();
    else if (kind.type === "array") yield* this.readArray(kind.text);
    else yield* this.readJsonl();
  }

  /** Stats the file and decides how to read it. */
  private async open(): Promise<{ type: "jsonl" } | { type: "csv" } | { type: "array"; text: string | { badUtf8: { line: number; hex: string } } }> {
    let st;
    try {
      st = await fsp.stat(this.file);
    } catch (e) {
      throw fsError(e, this.file);
    }
    if (st.isDirectory()) throw fsError(Object.assign(new Error("EISDIR"), { code: "EISDIR" }), this.file);
    this.totalBytes = st.size;
    const head = await this.readHead(64);
    if (st.size === 0 || (head.length <= 3 && isBlank(stripUtf8Bom(head)) && st.size <= 3)) {
      throw new TunekitError("empty_file", "the file is empty", { file: this.file, exitCode: 1, hint: "a dataset needs at least one example" });
    }
    checkEncoding(head, this.file);
    const ext = extname(this.file).toLowerCase();
    if (this.format === "csv" || (this.format === undefined && (ext === ".csv" || ext === ".tsv"))) {
      this.format = "csv";
      return { type: "csv" };
    }
    const first = stripUtf8Bom(head).find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
    if (first === 0x5b /* [ */) {
      const text = await this.loadArrayText();
      if (text !== undefined) return { type: "array", text };
    }
    return { type: "jsonl" };
  }

  private async readHead(n: number): Promise<Buffer> {
    let fh;
    try {
      fh = await fsp.open(this.file, "r");
    } catch (e) {
      throw fsError(e, this.file);
    }
    try {
      const buf = Buffer.alloc(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      return buf.subarray(0, bytesRead);
    } catch (e) {
      throw fsError(e, this.file);
    } finally {
      await fh.close();
    }
  }

  private nextIndex(): number {
    return this.exampleIndex++;
  }

  private toRecord(o: RecordOutcome, format: DatasetFormat): DatasetRecord {
    if (!o.blank) this.records++;
    const rec: DatasetRecord = { line: o.line, issues: o.issues, notes: o.notes };
    if (o.example) rec.example = { example: o.example, file: this.file, line: o.line, index: this.nextIndex(), format };
    return rec;
  }

  /** Streams a JSONL file chunk by chunk. */
  private async *readJsonl(): AsyncGenerator<DatasetRecord[]> {
    const splitter = new LineSplitter(this.file, this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    const maxLine = this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const out: DatasetRecord[] = [];
    const onLine = (l: RawLine) => {
      const o = processJsonLine(l.bytes, l.line, l.unterminated, this.format);
      if (this.format === undefined && o.parsed && o.detected) this.format = o.detected;
      out.push(this.toRecord(o, this.format ?? "openai-chat"));
    };
    const onSkipped = (s: SkippedLine) => {
      out.push({ line: s.line, issues: [tooLong(s, maxLine)], notes: [] });
      this.records++;
    };
    yield* this.splitLines(splitter, onLine, onSkipped, out);
    if (out.length > 0) yield out;
    if (this.records === 0) {
      throw new TunekitError("empty_file", "the file has no records, only blank lines", { file: this.file, exitCode: 1, hint: "a dataset needs at least one example" });
    }
  }

  /** Feeds the file through `splitter`, yielding what the callbacks put in `out` after each chunk. */
  private async *splitLines(splitter: LineSplitter, onLine: (l: RawLine) => void, onSkipped: (s: SkippedLine) => void, out: DatasetRecord[]): AsyncGenerator<DatasetRecord[]> {
    for await (const chunk of fileChunks(this.file, this.options.chunkBytes)) {
      splitter.push(chunk, onLine, onSkipped);
      this.bytesRead = splitter.bytesRead;
      if (out.length > 0) yield out.splice(0);
    }
    splitter.end(onLine, onSkipped);
  }


  /** Reads a whole JSON array file as text, or undefined when it turns out to be JSONL after all. */
  private async loadArrayText(): Promise<string | undefined | { badUtf8: { line: number; hex: string } }> {
    const limit = this.options.maxJsonArrayBytes ?? DEFAULT_MAX_JSON_ARRAY_BYTES;
    if (this.totalBytes > limit) {
      throw new TunekitError("file_too_large", `this JSON array file is ${this.totalBytes} bytes; JSON arrays are read whole, up to ${limit} bytes`, {
        file: this.file,
        hint: "convert it to JSON Lines (one example per line), which streams in bounded memory",
      });
    }
    let buf: Buffer;
    try {
      buf = await fsp.readFile(this.file);
    } catch (e) {
      throw fsError(e, this.file);
    }
    const body = stripUtf8Bom(buf);
    const bad = firstInvalidUtf8(body);
    if (bad >= 0) {
      const nl = body.indexOf(10);
      // JSONL whose first line is an array: read line by line, which reports the bad line itself.
      if (nl > 0 && (bad > nl) && parseJson(body.subarray(0, nl).toString("utf8")).ok) return undefined;
      let line = 1;
      for (let i = body.indexOf(10); i >= 0 && i < bad; i = body.indexOf(10, i + 1)) line++;
      return { badUtf8: { line, hex: body[bad].toString(16).toUpperCase().padStart(2, "0") } };
    }
    const text = body.toString("utf8");
    // JSONL whose lines are arrays also starts with "[": it is JSONL when the first line parses alone.
    const nl = text.indexOf("\n");
    if (nl > 0 && nl < text.trimEnd().length && parseJson(text.slice(0, nl)).ok) return undefined;
    return text;
  }

  /** A JSON array file: every element is a record starting at its own line. */
  private async *readArray(text: string | { badUtf8: { line: number; hex: string } }): AsyncGenerator<DatasetRecord[]> {
    this.bytesRead = this.totalBytes;
    if (typeof text !== "string") {
      // A JSON array is one document: its first invalid byte makes the whole file unreadable.
      const { line, hex } = text.badUtf8;
      this.records++;
      const msg = `not valid UTF-8 (byte 0x${hex}); the file may be Latin-1/Windows-1252: re-save it as UTF-8`;
      yield [{ line, issues: [issue(line, "invalid_utf8", msg)], notes: [] }];
      return;
    }
    const p = parseJson(text);
    if (!p.ok) {
      const where = p.position !== undefined ? lineColumnAt(text, p.position) : { line: 1, column: undefined };
      const trunc = /end of input/.test(p.message) ? "; the file looks truncated" : "";
      const msg = where.column !== undefined ? `invalid JSON at column ${where.column}: ${p.message}${trunc}` : p.message;
      this.records++;
      yield [{ line: where.line, issues: [issue(where.line, p.code, msg, "error", where.column !== undefined ? { column: where.column } : undefined)], notes: [] }];
      return;
    }
    if (!Array.isArray(p.value)) {
      this.records++;
      yield [{ line: 1, issues: [issue(1, "not_an_object", "expected a JSON array of records")], notes: [] }];
      return;
    }
    const starts = arrayElementLines(text);
    const out: DatasetRecord[] = [];
    p.value.forEach((v, i) => {
      const line = starts[i] ?? 1;
      const o = processRecordValue(v, line, this.format);
      if (this.format === undefined && o.detected) this.format = o.detected;
      out.push(this.toRecord(o, this.format ?? "openai-chat"));
    });
    if (out.length === 0) throw new TunekitError("empty_file", "the JSON array is empty", { file: this.file, exitCode: 1 });
    yield out;
  }

  /** Streams a CSV file: header row, then one example per row. */
  private async *readCsv(): AsyncGenerator<DatasetRecord[]> {
    const maxLine = this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    const splitter = new LineSplitter(this.file, maxLine);
    const sep = this.options.delimiter ?? (extname(this.file).toLowerCase() === ".tsv" ? "\t" : ",");
    const parser = new CsvParser(sep, maxLine);
    const spec = typeof this.options.columns === "string" ? parseColumnSpec(this.options.columns) : this.options.columns;
    let header: string[] | undefined;
    let mapping: CsvMapping | undefined;
    const out: DatasetRecord[] = [];
    const fail = (line: number, code: string, message: string) => {
      this.records++;
      out.push({ line, issues: [issue(line, code, message)], notes: [] });
    };
    const onLine = (l: RawLine) => {
      if (!parser.pending && isBlank(l.bytes)) {
        out.push({ line: l.line, issues: [issue(l.line, "blank_line", "blank line (ignored)", "warning")], notes: [] });
        return;
      }
      const bad = firstInvalidUtf8(l.bytes);
      if (bad >= 0) return fail(l.line, "invalid_utf8", `not valid UTF-8 (byte ${bad + 1} of the line); the file may be Latin-1/Windows-1252`);
      const r = parser.pushLine(l.bytes.toString("utf8"), l.line);
      if (r === undefined) return;
      if ("error" in r) return fail(r.line, "invalid_csv", r.error);
      if (!header) {
        header = r.fields;
        mapping = resolveMapping(header, spec, this.file);
        return;
      }
      this.records++;
      const c = csvRowToCandidate(r, mapping!, header.length);
      const res = finishCandidate(c, "csv", r.line);
      if (res.example) res.issues.push(...structureWarnings(res.example, "csv", r.line));
      const rec: DatasetRecord = { line: r.line, issues: res.issues, notes: res.notes };
      if (res.example) rec.example = { example: res.example, file: this.file, line: r.line, index: this.nextIndex(), format: "csv" };
      out.push(rec);
    };
    const onSkipped = (s: SkippedLine) => {
      if (parser.pending) parser.pushLine("", s.line);
      fail(s.line, "line_too_long", tooLong(s, maxLine).message);
    };
    yield* this.splitLines(splitter, onLine, onSkipped, out);
    const f = parser.finish();
    if (f) fail(f.line, "invalid_csv", f.error);
    if (out.length > 0) yield out;
    if (!header) throw new TunekitError("empty_file", "the CSV file has no header row", { file: this.file, exitCode: 1 });
    if (this.records === 0) throw new TunekitError("empty_file", "the CSV file has a header but no rows", { file: this.file, exitCode: 1 });
  }
}

function tooLong(s: SkippedLine, max: number): DatasetIssue {
  return issue(s.line, "line_too_long", `line is ${s.byteLength} bytes, over the limit of ${max} bytes; skipped`, "error", {
    bytes: s.byteLength,
  });
}

/** 1-based line of each top-level array element's first character (strings are skipped correctly). */
export function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let expectValue = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) continue;
    if (depth === 1 && expectValue && c !== 93 /* ] */) {
      lines.push(line);
      expectValue = false;
    }
    if (c === 34 /* " */) {
      // Skip the string; it cannot contain a raw newline in valid JSON.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92) i += 2;
        else if (d === 34) break;
        else i++;
      }
      continue;
    }
    if (c === 91 || c === 123) {
      depth++;
      if (depth === 1 && c === 91) expectValue = true;
    } else if (c === 93 || c === 125) depth--;
    else if (c === 44 && depth === 1) expectValue = true;
  }
  return lines;
}

/** Reads any supported dataset file; see DatasetReader. */
export function readDataset(file: string, options: ReadOptions = {}): DatasetReader {
  return new DatasetReader(file, options);
}
