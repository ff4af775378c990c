/**
 * A file that takes a quantized base's codes as they are made, so the process never holds them all:
 * ONNX Runtime copies every initializer it is handed, and with the codes in JS buffers both copies
 * coexisted while the session was built, which set a training run's peak memory. ORT reads initializers
 * stored here through its external-data folder; once the sessions exist the file is removed (and at
 * the latest when the process exits).
 * Figures: docs/engine.md, "Quantized frozen base".
 */
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { TunekitError } from "../../util/errors.js";
import type { QuantizedMatrix, StoredBytes } from "./blockwise.js";

const FILE = "codes.bin";
const PREFIX = ".quantized-codes-";

/** The next multiple of 64 (arithmetic, not bit operations: a model's codes pass 2 GB). */
export const alignUp = (n: number) => Math.ceil(n / 64) * 64;

export class CodeFile {
  private fd: number | undefined;
  private size = 0;

  private constructor(readonly dir: string) {
    this.fd = openSync(join(dir, FILE), "w");
    process.once("exit", this.removeOnExit);
  }

  /**
   * A code file in a fresh folder under `parent` (a run's own folder: a RAM-backed temp dir would only
   * move the memory), or undefined when `parent`'s disk has less than `bytes` (plus a margin) free.
   */
  static create(parent: string, bytes: number): CodeFile | undefined {
    // One run per folder: a code folder already there is a killed run's, never removed.
    for (const name of readdirSync(parent)) if (name.startsWith(PREFIX)) rmSync(join(parent, name), { recursive: true, force: true });
    const fs = statfsSync(parent);
    if (fs.bavail * fs.bsize < bytes * 1.1 + 256e6) return undefined;
    return new CodeFile(mkdtempSync(join(parent, PREFIX)));
  }

  /** Appends `view`'s bytes (at a 64-byte aligned offset); where they now are. */
  put(view: ArrayBufferView): StoredBytes {
    if (this.fd === undefined) throw new Error("CodeFile: already removed");
    const offset = alignUp(this.size);
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      throw new TunekitError("no_disk_space", `no space left in ${this.dir} for the quantized base's codes`, {
        hint: "free some disk space there, or write the run to a folder on another disk (-o)",
        cause: e,
      });
    }
    this.size = offset + bytes.length;
    return { dir: this.dir, file: FILE, offset, length: bytes.length };
  }

  /** `q` with its codes, scales and zero points moved here (its arrays empty). */
  store(q: QuantizedMatrix): QuantizedMatrix {
    const stored = { data: this.put(q.data), scales: this.put(q.scales), zeroPoints: this.put(q.zeroPoints) };
    return { ...q, data: new Uint8Array(0), scales: new Float32Array(0), zeroPoints: new Uint8Array(0), stored };
  }

  /** Delete the file and its folder (ORT sessions built from it keep their own copies). */
  remove(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener("exit", this.removeOnExit);
  }

  private readonly removeOnExit = () => {
    try {
      this.remove();
    } catch {
      // the process is ending: nothing more to do
    }
  };
}
