/**
 * Splits a byte stream into lines without ever holding more than one line (bounded by `maxLineBytes`)
 * plus one read chunk in memory. It works on bytes, not text, so an invalid UTF-8 sequence is reported
 * at its own line instead of poisoning the rest of the file, and a huge line is skipped byte by byte
 * instead of being accumulated.
 */
import { isUtf8 } from "node:buffer";
import { promises as fsp } from "node:fs";
import { TunekitError, fsError } from "../util/errors.js";

/** One physical line: its 1-based number and its bytes without the line ending. */
export interface RawLine {
  line: number;
  bytes: Buffer;
  /** True for a last line that has no newline after it (a truncated file often looks like this). */
  unterminated: boolean;
}

/** A line that was too long to keep: only its number and size are known. */
export interface SkippedLine {
  line: number;
  byteLength: number;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;

const NL = 0x0a;
const CR = 0x0d;

/**
 * Reads a file in chunks of up to `size` bytes into one reused buffer: a chunk is valid until the next
 * one is asked for (the splitters copy what they keep).
 */
export async function* fileChunks(file: string, size = 1024 * 1024): AsyncGenerator<Buffer> {
  let fh;
  try {
    fh = await fsp.open(file, "r");
  } catch (e) {
    throw fsError(e, file);
  }
  try {
    const buf = Buffer.allocUnsafe(size);
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, size, null));
      } catch (e) {
        throw fsError(e, file);
      }
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

export function stripUtf8Bom(b: Buffer): Buffer {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
}

/**
 * The start of a byte stream: holds the first bytes back until there are 4 (so a whole BOM is seen
 * even when the first chunk is tiny), refuses UTF-16/UTF-32 and drops a UTF-8 BOM.
 */
export class StreamStart {
  private head: Buffer | undefined;
  private started = false;
  constructor(private readonly file: string) {}

  /** The chunk to process, or undefined while fewer than 4 bytes have come. */
  take(chunk: Buffer): Buffer | undefined {
    if (this.started) return chunk;
    // Copied: the caller may reuse its read buffer.
    this.head = this.head ? Buffer.concat([this.head, chunk]) : Buffer.from(chunk);
    return this.head.length < 4 ? undefined : this.begin();
  }

  /** At the end of the input: the bytes still held back (a stream shorter than 4 bytes), else undefined. */
  flush(): Buffer | undefined {
    return this.started ? undefined : this.begin();
  }

  private begin(): Buffer {
    const buf = this.head ?? Buffer.alloc(0);
    this.head = undefined;
    this.started = true;
    checkEncoding(buf, this.file);
    return stripUtf8Bom(buf);
  }
}

/**
 * Push chunks in, get complete lines out. Lines longer than `maxLineBytes` come out as `SkippedLine`s.
 * The UTF-8 BOM is dropped; a UTF-16/UTF-32 BOM (or a UTF-16 looking start) is an `unsupported_encoding`
 * TunekitError raised by the first `push`.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private partBytes = 0;
  private skipping = false;
  private skippedBytes = 0;
  private lineNo = 1;
  private readonly start: StreamStart;
  /** Total bytes seen, for progress. */
  bytesRead = 0;

  constructor(file: string, maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.start = new StreamStart(file);
    this.maxLineBytes = maxLineBytes;
  }

  /** Feeds a chunk; calls `onLine`/`onSkipped` for each line it completes. */
  push(chunk: Buffer, onLine: (l: RawLine) => void, onSkipped: (s: SkippedLine) => void): void {
    this.bytesRead += chunk.length;
    const body = this.start.take(chunk);
    if (body === undefined) return;
    chunk = body;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl < 0) {
        this.append(chunk, start, chunk.length);
        return;
      }
      this.append(chunk, start, nl);
      this.emit(false, onLine, onSkipped);
      start = nl + 1;
    }
  }

  /** Flushes the last line (if the file does not end with a newline). */
  end(onLine: (l: RawLine) => void, onSkipped: (s: SkippedLine) => void): void {
    const rest = this.start.flush();
    if (rest !== undefined && rest.length > 0) {
      this.bytesRead -= rest.length;
      this.push(rest, onLine, onSkipped);
    }
    if (this.partBytes > 0 || this.skipping) this.emit(true, onLine, onSkipped);
  }

  private append(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.skipping) {
      this.skippedBytes += to - from;
      return;
    }
    if (this.partBytes + (to - from) > this.maxLineBytes) {
      // Too long: forget what we have and only count from now on.
      this.skipping = true;
      this.skippedBytes = this.partBytes + (to - from);
      this.parts = [];
      this.partBytes = 0;
      return;
    }
    // Copy: the caller's chunk buffer may be reused for the next read.
    this.parts.push(Buffer.from(chunk.subarray(from, to)));
    this.partBytes += to - from;
  }

  private emit(unterminated: boolean, onLine: (l: RawLine) => void, onSkipped: (s: SkippedLine) => void): void {
    const line = this.lineNo++;
    if (this.skipping) {
      onSkipped({ line, byteLength: this.skippedBytes });
      this.skipping = false;
      this.skippedBytes = 0;
      return;
    }
    let bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    onLine({ line, bytes, unterminated });
  }
}

/** Raises `unsupported_encoding` for UTF-16/UTF-32 files, which are otherwise read as garbage. */
export function checkEncoding(head: Uint8Array, file: string): void {
  const b = head;
  let enc: string | undefined;
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) enc = "UTF-32 LE";
  else if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) enc = "UTF-32 BE";
  else if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) enc = "UTF-16 LE";
  else if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) enc = "UTF-16 BE";
  // No BOM but ASCII interleaved with NUL bytes: UTF-16 without a BOM.
  else if (b.length >= 4 && b[0] !== 0 && b[1] === 0 && b[2] !== 0 && b[3] === 0) enc = "UTF-16 LE (no BOM)";
  else if (b.length >= 4 && b[0] === 0 && b[1] !== 0 && b[2] === 0 && b[3] !== 0) enc = "UTF-16 BE (no BOM)";
  if (enc) {
    throw new TunekitError("unsupported_encoding", `the file is encoded as ${enc}; tunekit reads UTF-8 only`, {
      file,
      line: 1,
      exitCode: 1,
      hint: `convert it first, e.g. \`iconv -f UTF-16 -t UTF-8 ${file} > out.jsonl\``,
    });
  }
}

/** Byte offset of the first invalid UTF-8 sequence, or -1 when the bytes are valid UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1;
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const c = bytes[i];
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= n) return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = bytes[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return 0;
}
