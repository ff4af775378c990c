/**
 * Brings a finished hosted job's weights home: downloads the LoRA adapter (or merged weights when that
 * is all the provider offers), checks that they load against the base model with tunekit's own PEFT
 * reader and model loader, and writes a run folder like a local run's (run.json + adapter/), so
 * `generate --adapter`, `eval --model name=x,run=DIR` and `export` treat it as a local run. The job
 * store records where it went. The folder is assembled under a temporary name and renamed into place:
 * a failed download or check leaves nothing behind.
 */
import { existsSync, promises as fsp } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import type { JobRecord, Store } from "../store/store.js";
import { TunekitError, fsError } from "../util/errors.js";
import { refuseNonEmptyFolder, writeFileAtomic } from "../util/fs.js";
import { DEFAULT_TRAIN_OPTIONS } from "../engine/train/defaults.js";
import type { RunRecord } from "../engine/train/run-dir.js";
import type { DownloadedWeights, Trainer, TrainerError } from "./types.js";

export interface PullOptions {
  /**
   * The base model to check the adapter against and to run it on: a local folder or a hub id.
   * Default: the adapter's base_model_name_or_path when it names one tunekit can load, else the
   * job's base model when it is a hub id.
   */
  base?: string;
  /** "adapter" (default) or "merged". */
  prefer?: "adapter" | "merged";
  /** Never download a base model from the hub (the HF cache only). */
  offline?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { stage: "downloading"; bytes: number; total?: number } | { stage: "checking"; base?: string }) => void;
}

export type PullOutcome =
  | { ok: true; job: JobRecord; runDir: string; kind: "adapter" | "merged"; files: string[]; bytes: number; base?: string }
  | { ok: false; error: TrainerError; job?: JobRecord };

/** A hub id ("Org/Name") rather than a provider's own resource name ("accounts/x/models/y"). */
function looksLikeHubId(s: string | undefined): s is string {
  return typeof s === "string" && /^[\w.-]+\/[\w.-]+$/.test(s) && !s.startsWith("accounts/");
}

async function moveDir(from: string, to: string): Promise<void> {
  await fsp.mkdir(dirname(to), { recursive: true });
  await fsp.rename(from, to);
}

/** Checks downloaded weights against the base model; returns the base folder and template used. */
async function checkWeights(w: DownloadedWeights, base: string | undefined, offline: boolean | undefined): Promise<{ modelDir: string; baseSpec: string; lora?: Record<string, unknown> }> {
  const { loadModel } = await import("../engine/io/model.js");
  if (w.kind === "merged") {
    const m = await loadModel(w.dir);
    return { modelDir: m.dir, baseSpec: w.dir };
  }
  if (!base) {
    throw new TunekitError("base_model_needed", "the adapter names no base model tunekit can load", {
      hint: "pass --base DIR|HUB_ID: the model the job fine-tuned, as a local folder or a Hugging Face id",
    });
  }
  const model = await loadModel(base, offline ? { offline: true } : {});
  const { readPeftAdapter } = await import("../engine/io/peft.js");
  // Shapes are checked against the base; the provider's name for the base may differ from ours.
  const adapter = await readPeftAdapter(w.dir, { config: model.config, ignoreBaseName: true });
  return { modelDir: model.dir, baseSpec: base, lora: { r: adapter.r, alpha: adapter.alpha, dropout: adapter.dropout, rslora: adapter.useRslora, targets: adapter.targetModules.map((m) => m.replace(/_proj$/, "")) } };
}

export async function pullJob(trainer: Trainer, store: Store, job: JobRecord, outDir: string, options: PullOptions = {}): Promise<PullOutcome> {
  const fault = (code: string, message: string): PullOutcome => ({ ok: false, error: { code, message, retryable: false }, job });
  if (job.kind !== "hosted") return fault("not_hosted", `${job.id} is a local run; its adapter is already in ${job.outputDir ?? "its run folder"}`);
  if (!job.remoteId) return fault("not_started", `${job.id} was never created at ${job.provider}`);
  if (job.status !== "succeeded") return fault("not_finished", `${job.id} is ${job.status}; only a succeeded job has weights to pull (\`tunekit jobs watch ${job.id}\`)`);
  if (!trainer.download) return fault("not_downloadable", `${job.provider} does not let you download fine-tuned weights; train on Together or Fireworks, or locally, to own the result`);
  refuseNonEmptyFolder(outDir, "pick a new or empty -o folder");
  const target = resolve(outDir);
  const tmp = join(dirname(target), `.${basename(target)}.pull-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await fsp.mkdir(join(tmp, "download"), { recursive: true });
    const got = await trainer.download(job.remoteId, join(tmp, "download"), {
      ...(options.prefer ? { prefer: options.prefer } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (bytes, total) => options.onProgress?.({ stage: "downloading", bytes, ...(total !== undefined ? { total } : {}) }),
    });
    if (!got.ok) return { ok: false, error: got.error, job };
    const w = got.value;
    let adapterBase: string | undefined;
    if (w.kind === "adapter") {
      const cfg = JSON.parse(await fsp.readFile(join(w.dir, "adapter_config.json"), "utf8")) as { base_model_name_or_path?: string };
      adapterBase = cfg.base_model_name_or_path;
    }
    const base = options.base ?? (adapterBase && (existsSync(adapterBase) || looksLikeHubId(adapterBase)) ? adapterBase : looksLikeHubId(job.model) ? job.model : undefined);
    options.onProgress?.({ stage: "checking", ...(base ? { base } : {}) });
    const checked = await checkWeights(w, base, options.offline);

    // The run folder: adapter/ (or model/ for merged weights) and run.json.
    const weightsDir = join(tmp, w.kind === "adapter" ? "adapter" : "model");
    await moveDir(w.dir, weightsDir);
    await fsp.rm(join(tmp, "download"), { recursive: true, force: true });
    if (w.kind === "adapter") {
      // Point the adapter at the base it was checked against (the provider's name is kept in run.json).
      const p = join(weightsDir, "adapter_config.json");
      const cfg = JSON.parse(await fsp.readFile(p, "utf8")) as Record<string, unknown>;
      cfg.base_model_name_or_path = checked.baseSpec;
      await writeFileAtomic(p, JSON.stringify(cfg, null, 2) + "\n");
    }
    const modelDir = w.kind === "merged" ? join(target, "model") : checked.modelDir;
    const template = await templateOf(w.kind === "merged" ? weightsDir : checked.modelDir);
    const now = new Date().toISOString();
    const hp = (job.result?.hyperparameters ?? {}) as Record<string, unknown>;
    const rec: RunRecord & { source: Record<string, unknown> } = {
      tunekitRun: 1,
      createdAt: now,
      updatedAt: now,
      model: w.kind === "merged" ? modelDir : checked.baseSpec,
      modelDir,
      data: { path: job.datasetPath ?? "", sha256: job.datasetSha256 ?? "", examples: job.datasetPath && existsSync(job.datasetPath) ? await countExamples(job.datasetPath) : 0 },
      heldOut: job.validationPath ? { kind: "validation", path: job.validationPath, sha256: job.validationSha256 ?? "", examples: existsSync(job.validationPath) ? await countExamples(job.validationPath) : 0 } : { kind: "none" },
      template,
      options: {
        ...DEFAULT_TRAIN_OPTIONS,
        ...(typeof hp.n_epochs === "number" ? { epochs: hp.n_epochs } : {}),
        ...(typeof hp.learning_rate === "number" ? { lr: hp.learning_rate } : {}),
        ...(checked.lora ? { lora: checked.lora as unknown as RunRecord["options"]["lora"] } : {}),
      },
      status: "completed",
      result: { provider: job.provider, job: job.id, remoteId: job.remoteId, ...(job.fineTunedModel ? { fineTunedModel: job.fineTunedModel } : {}) },
      source: {
        provider: job.provider,
        job: job.id,
        remoteId: job.remoteId,
        weights: w.kind,
        ...(job.model ? { providerBaseModel: job.model } : {}),
        ...(adapterBase ? { adapterBaseModel: adapterBase } : {}),
        pulledAt: now,
      },
    };
    await writeFileAtomic(join(tmp, "run.json"), JSON.stringify(rec, null, 2) + "\n");
    if (existsSync(target)) await fsp.rm(target, { recursive: true }); // empty (checked above)
    await fsp.rename(tmp, target);
    const files = w.files.map((f) => `${w.kind === "adapter" ? "adapter" : "model"}/${f}`);
    const updated = store.updateJob(job.id, {
      outputDir: target,
      result: { ...(job.result ?? {}), pulled: { dir: target, weights: w.kind, files, bytes: w.bytes, base: checked.baseSpec, at: Date.now() } },
    });
    return { ok: true, job: updated, runDir: target, kind: w.kind, files, bytes: w.bytes, ...(w.kind === "adapter" ? { base: checked.baseSpec } : {}) };
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (e instanceof TunekitError) return { ok: false, error: { code: e.code, message: e.message + (e.hint ? ` (${e.hint})` : ""), retryable: false }, job };
    const err = fsError(e, outDir, "write");
    return { ok: false, error: { code: (err as TunekitError).code ?? "pull_failed", message: (err as Error).message, retryable: false }, job };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {});
  }
}

async function countExamples(path: string): Promise<number> {
  try {
    return (await fsp.readFile(path, "utf8")).split("\n").filter((l) => l.trim()).length;
  } catch {
    return 0;
  }
}

/** The chat template the model folder would train and run with (its own, or tunekit's plain one). */
async function templateOf(modelDir: string): Promise<{ name: string; plain: boolean }> {
  try {
    const { loadTokenizerFromDir } = await import("../tokenize/hf.js");
    const { chatTemplateFor } = await import("../tokenize/chatTemplate.js");
    const t = chatTemplateFor(await loadTokenizerFromDir(modelDir));
    return { name: t.name, plain: t.plain === true };
  } catch {
    return { name: "unknown", plain: false };
  }
}
