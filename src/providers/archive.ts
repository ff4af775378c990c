/**
 * Unpacks the archives providers hand out for download: a tar stream, optionally zstd-compressed (what
 * Together's /finetune/download sends), written file by file as it arrives, so a merged model of
 * several GB never sits in memory. Entry names that would land outside the target folder (absolute
 * paths, `..`) are refused; links and devices are skipped. Pure JS (fzstd), so Node 20 needs no zstd.
 */
import { promises as fsp } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { Decompress } from "fzstd";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** True when the bytes start a zstd frame. */
export function isZstd(head: Uint8Array): boolean {
  return head.length >= 4 && ZSTD_MAGIC.every((b, i) => head[i] === b);
}

function field(h: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && h[end] !== 0) end++;
  return Buffer.from(h.subarray(start, end)).toString("utf8");
}

function octal(h: Uint8Array, start: number, len: number): number {
  if (h[start] & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + h[i];
    return v;
  }
  const s = field(h, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** Parses a pax extended header's records ("LEN key=value\n"). */
function paxRecords(data: Uint8Array): Record<string, string> {
  const text = Buffer.from(data).toString("utf8");
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

export class ArchiveError extends Error {}

/**
 * A streaming tar writer-out: feed it bytes with `write`, then `end`. Regular files are created
 * under `root`; the relative paths written are returned by `end`.
 */
export class TarExtractor {
  private buf = Buffer.alloc(0);
  private remaining = 0;
  private pad = 0;
  private current?: { handle?: fsp.FileHandle; collect?: Buffer[]; kind: "file" | "pax" | "longname" | "skip"; path?: string };
  private longName?: string;
  private paxPath?: string;
  private ended = false;
  readonly files: string[] = [];
  bytes = 0;

  constructor(private readonly root: string) {}

  private safePath(name: string): string {
    const clean = normalize(name.replace(/^\.\/+/, ""));
    if (clean === "" || clean === "." || clean.startsWith("..") || clean.startsWith(sep) || /^[A-Za-z]:/.test(clean) || clean.split(sep).includes("..")) {
      throw new ArchiveError(`the archive holds an entry outside its folder: ${JSON.stringify(name)}`);
    }
    return clean;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      if (this.ended) return;
      if (this.current) {
        if (this.remaining > 0) {
          if (this.buf.length === 0) return;
          const n = Math.min(this.remaining, this.buf.length);
          const piece = this.buf.subarray(0, n);
          if (this.current.handle) await this.current.handle.write(piece);
          else if (this.current.collect) this.current.collect.push(Buffer.from(piece));
          this.bytes += this.current.kind === "file" ? n : 0;
          this.remaining -= n;
          this.buf = this.buf.subarray(n);
          if (this.remaining > 0) return;
        }
        if (this.buf.length < this.pad) return;
        this.buf = this.buf.subarray(this.pad);
        await this.closeEntry();
        continue;
      }
      if (this.buf.length < 512) return;
      const h = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      if (h.every((b) => b === 0)) {
        this.ended = true; // end-of-archive marker
        return;
      }
      await this.openEntry(h);
    }
  }

  private async openEntry(h: Uint8Array): Promise<void> {
    const magic = field(h, 257, 6);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    let name = field(h, 0, 100);
    const prefix = magic.startsWith("ustar") ? field(h, 345, 155) : "";
    if (prefix) name = `${prefix}/${name}`;
    if (this.paxPath !== undefined) name = this.paxPath;
    if (this.longName !== undefined) name = this.longName;
    this.remaining = size;
    this.pad = (512 - (size % 512)) % 512;
    if (type === "x" || type === "g") {
      this.current = { kind: type === "x" ? "pax" : "skip", collect: [] };
      return;
    }
    if (type === "L") {
      this.current = { kind: "longname", collect: [] };
      return;
    }
    this.longName = undefined;
    this.paxPath = undefined;
    if (type === "5") {
      await fsp.mkdir(join(this.root, this.safePath(name)), { recursive: true });
      this.current = { kind: "skip" };
      return;
    }
    if (type !== "0" && type !== "7" && type !== "\0") {
      this.current = { kind: "skip" }; // links, devices, FIFOs: nothing a model needs
      return;
    }
    const rel = this.safePath(name);
    const path = join(this.root, rel);
    await fsp.mkdir(dirname(path), { recursive: true });
    this.current = { kind: "file", handle: await fsp.open(path, "wx"), path: rel };
  }

  private async closeEntry(): Promise<void> {
    const c = this.current!;
    this.current = undefined;
    if (c.handle) {
      await c.handle.close();
      this.files.push(c.path!);
    } else if (c.kind === "pax") {
      const rec = paxRecords(Buffer.concat(c.collect!));
      if (rec.path !== undefined) this.paxPath = rec.path;
    } else if (c.kind === "longname") {
      this.longName = Buffer.concat(c.collect!).toString("utf8").replace(/\0+$/, "");
    }
  }

  /** Finishes; an archive cut off inside an entry is an error. */
  async end(): Promise<string[]> {
    if (this.current && (this.remaining > 0 || this.buf.length < this.pad)) {
      await this.current.handle?.close();
      throw new ArchiveError("the archive ends in the middle of a file (the download was cut off)");
    }
    if (this.current) await this.closeEntry();
    return this.files;
  }

  async abort(): Promise<void> {
    await this.current?.handle?.close().catch(() => {});
  }
}

/**
 * Unpacks a (zstd-compressed or plain) tar stream into `root`, which must exist. Returns the files
 * written, relative to `root`, and their total size.
 */
export async function extractTarStream(chunks: AsyncIterable<Uint8Array>, root: string, onBytes?: (n: number) => void): Promise<{ files: string[]; bytes: number }> {
  const tar = new TarExtractor(root);
  let zstd: Decompress | undefined;
  let decided = false;
  let pending: Uint8Array[] = [];
  try {
    for await (const chunk of chunks) {
      onBytes?.(chunk.length);
      if (!decided) {
        decided = true;
        if (isZstd(chunk)) zstd = new Decompress((data) => pending.push(data));
      }
      if (zstd) {
        zstd.push(chunk);
        const out = pending;
        pending = [];
        for (const d of out) await tar.write(d);
      } else await tar.write(chunk);
    }
    if (zstd) {
      zstd.push(new Uint8Array(0), true);
      for (const d of pending) await tar.write(d);
    }
    const files = await tar.end();
    return { files, bytes: tar.bytes };
  } catch (e) {
    await tar.abort();
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`cannot unpack the download: ${(e as Error).message}`);
  }
}
