/**
 * Cuts a byte stream into batches of whole lines for worker threads: each batch is one contiguous
 * buffer of complete lines (without the final newline) plus the number of its first line, so a
 * worker can split and number the lines itself. A partial line waits for the next chunk; a line that
 * grows past `maxLineBytes` is dropped byte by byte and reported as skipped (bounded memory).
 */
import { StreamStart } from "../lines.js";

export type BatchItem =
  | { kind: "lines"; buf: Uint8Array; firstLine: number; lines: number; unterminated: boolean }
  | { kind: "skipped"; line: number; byteLength: number };

export class LineBatcher {
  private readonly start: StreamStart;
  private readonly maxLineBytes: number;
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private skipping = false;
  private skippedBytes = 0;
  private nextLine = 1;
  bytesRead = 0;

  constructor(file: string, maxLineBytes: number) {
    this.start = new StreamStart(file);
    this.maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer, out: BatchItem[]): void {
    this.bytesRead += chunk.length;
    const body = this.start.take(chunk);
    if (body === undefined) return;
    chunk = body;
    if (this.skipping) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.skippedBytes += chunk.length;
        return;
      }
      out.push({ kind: "skipped", line: this.nextLine++, byteLength: this.skippedBytes + nl });
      this.skipping = false;
      this.skippedBytes = 0;
      chunk = chunk.subarray(nl + 1);
    }
    let pos = 0;
    if (this.carryBytes > 0) {
      // Finish the line carried over from the previous chunk first.
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.keep(chunk);
        return;
      }
      if (this.carryBytes + nl > this.maxLineBytes) {
        out.push({ kind: "skipped", line: this.nextLine++, byteLength: this.carryBytes + nl });
        this.carry = [];
        this.carryBytes = 0;
        pos = nl + 1;
      }
    }
    const last = chunk.lastIndexOf(10);
    if (last < pos) {
      this.keep(chunk.subarray(pos));
      return;
    }
    const region = chunk.subarray(pos, last);
    let lines = 1;
    for (let i = region.indexOf(10); i >= 0; i = region.indexOf(10, i + 1)) lines++;
    const buf = new Uint8Array(this.carryBytes + region.length);
    let o = 0;
    for (const p of this.carry) {
      buf.set(p, o);
      o += p.length;
    }
    buf.set(region, o);
    out.push({ kind: "lines", buf, firstLine: this.nextLine, lines, unterminated: false });
    this.nextLine += lines;
    this.carry = [];
    this.carryBytes = 0;
    this.keep(chunk.subarray(last + 1));
  }

  end(out: BatchItem[]): void {
    const rest = this.start.flush();
    if (rest !== undefined && rest.length > 0) {
      this.bytesRead -= rest.length;
      this.push(rest, out);
    }
    if (this.skipping) {
      out.push({ kind: "skipped", line: this.nextLine++, byteLength: this.skippedBytes });
      this.skipping = false;
      return;
    }
    if (this.carryBytes > 0) {
      const buf = new Uint8Array(this.carryBytes);
      let o = 0;
      for (const p of this.carry) {
        buf.set(p, o);
        o += p.length;
      }
      out.push({ kind: "lines", buf, firstLine: this.nextLine++, lines: 1, unterminated: true });
      this.carry = [];
      this.carryBytes = 0;
    }
  }

  /** Keeps a partial line (copied: the chunk is handed on), or starts skipping it when too long. */
  private keep(part: Buffer): void {
    if (part.length === 0) return;
    if (this.carryBytes + part.length > this.maxLineBytes) {
      this.skipping = true;
      this.skippedBytes = this.carryBytes + part.length;
      this.carry = [];
      this.carryBytes = 0;
      return;
    }
    this.carry.push(Buffer.from(part));
    this.carryBytes += part.length;
  }
}
