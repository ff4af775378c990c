/**
 * File helpers that never leave a partial output file: everything is written to a temporary file in
 * the target's folder and renamed into place only once complete (rename is atomic on one file system).
 */
import { createWriteStream, existsSync, promises as fsp, readdirSync, renameSync, rmSync, statSync, writeFileSync, type WriteStream } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { TunekitError, fsError } from "./errors.js";

function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Temp files being written right now, so an interrupted process can remove them (see removeLiveTempFiles). */
const liveTemps = new Set<string>();

/** Removes the temp files of writes still in progress (synchronous: safe in exit and signal handlers). */
export function removeLiveTempFiles(): void {
  for (const p of liveTemps) {
    try {
      rmSync(p, { force: true });
    } catch {
      // best effort: the process is going away
    }
  }
  liveTemps.clear();
}

/** writeFileAtomic for synchronous callers (small files, e.g. caches written while a constructor runs). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(path);
  liveTemps.add(tmp);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsError(e, path, "write");
  } finally {
    liveTemps.delete(tmp);
  }
}

/** Writes `data` to `path` atomically (temp file, fsync, rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  liveTemps.add(tmp);
  try {
    const fh = await fsp.open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fsError(e, path, "write");
  } finally {
    liveTemps.delete(tmp);
  }
}

/**
 * A write stream whose content appears at `path` only when `commit()` succeeds; `abort()` (or any
 * failure) removes the temporary file and leaves `path` untouched.
 */
export class AtomicWriter {
  readonly path: string;
  readonly tempPath: string;
  private readonly stream: WriteStream;
  private failed: unknown;
  private done = false;

  constructor(path: string) {
    this.path = path;
    this.tempPath = tempPathFor(path);
    liveTemps.add(this.tempPath);
    this.stream = createWriteStream(this.tempPath);
    this.stream.on("error", (e) => {
      this.failed ??= e;
    });
  }

  /** Writes a chunk, waiting for the stream to drain when its buffer is full. */
  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.failed) throw fsError(this.failed, this.path, "write");
    if (!this.stream.write(chunk)) {
      // once() rejects on "error" by itself; the signal removes its listeners when we are done waiting.
      const ac = new AbortController();
      await once(this.stream, "drain", { signal: ac.signal }).catch(() => {});
      ac.abort();
      if (this.failed) throw fsError(this.failed, this.path, "write");
    }
  }

  async commit(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve, reject) => {
        this.stream.once("error", reject);
        this.stream.end(() => resolve());
      });
      if (this.failed) throw this.failed;
      const fh = await fsp.open(this.tempPath, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(this.tempPath, this.path);
    } catch (e) {
      await this.destroyStream();
      await fsp.rm(this.tempPath, { force: true }).catch(() => {});
      throw fsError(e, this.path, "write");
    } finally {
      liveTemps.delete(this.tempPath);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.destroyStream();
    await fsp.rm(this.tempPath, { force: true }).catch(() => {});
    liveTemps.delete(this.tempPath);
  }

  /**
   * Destroys the stream and waits for its file to be closed. The stream opens its file in the thread
   * pool; removing the temp file before that open has finished would let the open create it again.
   */
  private async destroyStream(): Promise<void> {
    if (this.stream.closed) return;
    const closed = new Promise<void>((resolve) => this.stream.once("close", () => resolve()));
    this.stream.destroy();
    await closed;
  }
}

/** Writes the file produced by `fill` atomically; on any error nothing is left at `path`. */
export async function withAtomicWriter<T>(path: string, fill: (w: AtomicWriter) => Promise<T>): Promise<T> {
  let writer: AtomicWriter;
  try {
    writer = new AtomicWriter(path);
  } catch (e) {
    throw fsError(e, path, "write");
  }
  try {
    const result = await fill(writer);
    await writer.commit();
    return result;
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** Creates a folder (and parents), turning file-system errors into clear messages. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir, "create folder");
  }
}

/** Refuses an output folder path that is a file, or a folder that already holds something. */
export function refuseNonEmptyFolder(path: string, hint = "pick a new or empty output folder"): void {
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory()) {
    throw new TunekitError("already_exists", `${path} exists and is a file, not a folder`, { file: path, hint });
  }
  if (readdirSync(path).length > 0) {
    throw new TunekitError("output_not_empty", `${path} exists and is not empty`, { file: path, hint });
  }
}
