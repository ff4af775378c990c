/**
 * The run folder: everything a training run leaves behind, so it can be inspected, resumed and
 * exported later.
 *   run.json                  what was trained: model, data (path + sha256), options, status
 *   metrics.jsonl             one event per line (start, step, eval, checkpoint, done)
 *   checkpoint.safetensors    the latest checkpoint (atomic replace)
 *   adapter/                  the PEFT adapter (adapter_config.json + adapter_model.safetensors)
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, promises as fsp } from "node:fs";
import { join } from "node:path";
import { TunekitError, fsError } from "../../util/errors.js";
import { writeFileAtomic } from "../../util/fs.js";
import { CHECKPOINT_FILE } from "./checkpoint.js";
import type { TrainOptions } from "./loop.js";

export const RUN_FILE = "run.json";
export const METRICS_FILE = "metrics.jsonl";
export const ADAPTER_DIR = "adapter";

export interface RunRecord {
  tunekitRun: 1;
  createdAt: string;
  updatedAt: string;
  /** As the user gave it (folder or hub id), and the resolved folder. */
  model: string;
  modelDir: string;
  data: { path: string; sha256: string; examples: number };
  heldOut: { kind: "validation"; path: string; sha256: string; examples: number } | { kind: "test-split"; fraction: number; examples: number } | { kind: "none" };
  /** Template used to render chats (the model's chat_template or tunekit's plain one). */
  template: { name: string; plain: boolean };
  options: TrainOptions;
  status: "running" | "completed" | "early_stopped" | "interrupted" | "failed";
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export const runPaths = (dir: string) => ({
  run: join(dir, RUN_FILE),
  metrics: join(dir, METRICS_FILE),
  checkpoint: join(dir, CHECKPOINT_FILE),
  adapter: join(dir, ADAPTER_DIR),
});

export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    throw fsError(e, path);
  }
  return h.digest("hex");
}

export async function writeRunRecord(dir: string, rec: RunRecord): Promise<void> {
  rec.updatedAt = new Date().toISOString();
  await writeFileAtomic(runPaths(dir).run, JSON.stringify(rec, null, 2) + "\n");
}

export async function readRunRecord(dir: string): Promise<RunRecord> {
  const p = runPaths(dir).run;
  let text: string;
  try {
    text = await fsp.readFile(p, "utf8");
  } catch (e) {
    const err = fsError(e, p);
    if (err instanceof TunekitError && err.code === "file_not_found") {
      throw new TunekitError("not_a_run", `${dir} is not a tunekit run folder (no ${RUN_FILE})`, {
        file: dir,
        hint: "pass the folder given to `tunekit train -o`",
      });
    }
    throw err;
  }
  try {
    const rec = JSON.parse(text) as RunRecord;
    if (rec.tunekitRun !== 1) throw new Error("not a run record");
    return rec;
  } catch {
    throw new TunekitError("bad_run", `${p} is not a valid tunekit run record`, { file: p });
  }
}

/** Appends events to metrics.jsonl. */
export class MetricsLog {
  private handle?: fsp.FileHandle;
  /** Appends run one after another, in event order. */
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly path: string) {}

  /** On resume, drops lines written after the checkpoint's step (they will be produced again). */
  static async truncateAfter(path: string, step: number): Promise<void> {
    if (!existsSync(path)) return;
    const lines = (await fsp.readFile(path, "utf8")).split("\n").filter((l) => l.trim() !== "");
    const keep: string[] = [];
    for (const line of lines) {
      try {
        const e = JSON.parse(line) as { type?: string; step?: number };
        if (e.type === "done") continue;
        if (typeof e.step === "number" && e.step > step) continue;
        keep.push(line);
      } catch {
        // A line cut by a crash: drop it.
      }
    }
    await writeFileAtomic(path, keep.length ? keep.join("\n") + "\n" : "");
  }

  append(event: object): Promise<void> {
    const line = JSON.stringify(event) + "\n";
    this.chain = this.chain.then(async () => {
      try {
        this.handle ??= await fsp.open(this.path, "a");
        await this.handle.write(line);
      } catch (e) {
        throw fsError(e, this.path, "write");
      }
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
    await this.handle?.close();
    this.handle = undefined;
  }
}
