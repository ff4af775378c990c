/**
 * The one way tunekit trains, for every Trainer (local engine or hosted API), as a library function
 * whose results are data:
 *
 *   parameters -> base model supported? -> data checked locally -> notices (retirement dates) -> quote
 *   -> [record, upload, the provider's own estimate] -> confirm -> record -> upload -> create -> follow
 *
 * Nothing is uploaded or paid for before `confirm` says yes, except for providers whose price estimate
 * needs the uploaded file (Together): their upload (free) happens first, and is recorded, so a "no"
 * leaves the files known to the store for reuse. The job is recorded in the store before anything is
 * created at the provider, and each step's ids are written as soon as they are known, so a crash at
 * any point leaves a record to inspect or resume instead of an orphaned paid job. When the provider
 * refuses to create the job, the files this run uploaded are deleted again (or, if that fails, kept
 * on the job record with their ids).
 */
import type { JobRecord, Store } from "../store/store.js";
import { providerInfo } from "./catalog.js";
import { followJob, type FollowOptions, type FollowOutcome } from "./follow.js";
import { preflightHostedData, type Preflight } from "./preflight.js";
import type { JobSnapshot, Notice, PreparedData, ProviderEstimate, Trainer, TrainerError, TrainingData, TrainParams } from "./types.js";

export interface TrainingRequest extends TrainingData {
  params: TrainParams;
}

/** Everything the user is asked to agree to, as data. */
export interface Quote {
  provider: string;
  providerLabel: string;
  model: string;
  /** Local checks, token counts and the catalog estimate (absent for local training). */
  preflight?: Preflight;
  /** The provider's own estimate, when it gives one (asked for after the upload). */
  providerEstimate?: ProviderEstimate;
  /** What the user must know first (retirement dates, the end of new jobs). */
  notices: Notice[];
}

export type SubmitStage = "params" | "model" | "data" | "prepare" | "estimate" | "confirm" | "start";

export type SubmitProgress =
  | { stage: "checking-model" | "checking-data" | "estimating" | "creating" }
  | { stage: "hashing" | "uploading" | "reused" | "processing" | "ready"; file: string }
  | { stage: "recorded"; job: string };

export type QuoteOutcome = { ok: true; quote: Quote } | { ok: false; stage: "params" | "model" | "data"; error: TrainerError; quote?: Quote };

export type SubmitOutcome =
  | { ok: true; job: JobRecord; quote: Quote; prepared: PreparedData; snapshot: JobSnapshot; follow?: FollowOutcome }
  | {
      ok: false;
      stage: SubmitStage;
      error: TrainerError;
      job?: JobRecord;
      quote?: Quote;
      /** After a refused job creation: files deleted at the provider, and files left there (ids on the job). */
      cleanup?: { deleted: string[]; kept: string[] };
    };

export interface SubmitOptions {
  store: Store;
  /**
   * Asked once with the quote before anything is paid for (hosted providers only); false stops.
   * Pass `() => true` to agree in advance.
   */
  confirm: (quote: Quote) => boolean | Promise<boolean>;
  onProgress?: (p: SubmitProgress) => void;
  /** Follow the job to its end after starting it (default: do not follow). */
  follow?: FollowOptions;
  signal?: AbortSignal;
}

const err = (code: string, message: string, extra: Partial<TrainerError> = {}): TrainerError => ({ code, message, retryable: false, ...extra });

/** A close match for a model id the provider does not list ("qwen3-8b" for "Qwen/Qwen3-8B"). */
function suggestions(model: string, supported: string[]): string[] {
  const key = (s: string) => s.toLowerCase().split("/").pop()!.replace(/[^a-z0-9]/g, "");
  const k = key(model);
  const near = supported.filter((m) => key(m).includes(k) || k.includes(key(m)) || key(m).slice(0, 6) === k.slice(0, 6));
  return near.slice(0, 5);
}

/**
 * The checks and the quote, with no side effect at the provider or in the store: parameters, the base
 * model against the provider's list, the data (hosted providers), notices, the catalog estimate.
 */
export async function quoteTraining(trainer: Trainer, request: TrainingRequest, options: { onProgress?: (p: SubmitProgress) => void } = {}): Promise<QuoteOutcome> {
  const { params } = request;
  const checked = trainer.validateParams(params);
  if (!checked.ok) return { ok: false, stage: "params", error: checked.error };
  const info = providerInfo(trainer.id);
  if (trainer.supportedModels) {
    options.onProgress?.({ stage: "checking-model" });
    const list = await trainer.supportedModels();
    if (!list.ok && (list.error.code === "auth" || list.error.code === "permission")) return { ok: false, stage: "model", error: list.error };
    if (list.ok && list.value.length > 0 && !list.value.includes(params.model)) {
      const near = suggestions(params.model, list.value);
      return {
        ok: false,
        stage: "model",
        error: err("unsupported_model", `${info?.label ?? trainer.id} cannot fine-tune "${params.model}": it is not among the ${list.value.length} base models its API lists for fine-tuning${near.length ? ` (close: ${near.join(", ")})` : ""}`, { param: "model" }),
      };
    }
  }
  const quote: Quote = { provider: trainer.id, providerLabel: info?.label ?? trainer.id, model: params.model, notices: [] };
  if (trainer.capabilities.hosted) {
    options.onProgress?.({ stage: "checking-data" });
    const epochs = params.hyperparameters?.n_epochs;
    quote.preflight = await preflightHostedData({
      trainingFile: request.trainingFile,
      ...(request.validationFile ? { validationFile: request.validationFile } : {}),
      provider: trainer.id,
      model: params.model,
      ...(typeof epochs === "number" ? { epochs } : trainer.capabilities.autoEpochs !== undefined ? { epochs: trainer.capabilities.autoEpochs } : {}),
      ...(trainer.capabilities.minExamples !== undefined ? { minExamples: trainer.capabilities.minExamples } : {}),
    });
    if (quote.preflight.blocking.length > 0) {
      return { ok: false, stage: "data", error: err(quote.preflight.preference ? "preference_data" : "invalid_dataset", quote.preflight.blocking.join("; ")), quote };
    }
  }
  quote.notices = (await trainer.notices?.(params)) ?? [];
  return { ok: true, quote };
}

/** Quote, confirm, record, upload, create and (optionally) follow one training job. */
export async function submitTraining(trainer: Trainer, request: TrainingRequest, options: SubmitOptions): Promise<SubmitOutcome> {
  const { store } = options;
  const progress = options.onProgress ?? (() => {});
  const quoted = await quoteTraining(trainer, request, { onProgress: progress });
  if (!quoted.ok) return { ok: false, stage: quoted.stage, error: quoted.error, ...(quoted.quote ? { quote: quoted.quote } : {}) };
  const quote = quoted.quote;
  const data: TrainingData = { trainingFile: request.trainingFile, ...(request.validationFile ? { validationFile: request.validationFile } : {}) };
  const params = request.params;
  let job: JobRecord | undefined;
  let prepared: PreparedData | undefined;

  const record = () => {
    job = store.createJob({
      kind: trainer.capabilities.hosted ? "hosted" : "local",
      provider: trainer.id,
      ...(trainer.baseUrl ? { baseUrl: trainer.baseUrl } : {}),
      model: params.model,
      datasetPath: data.trainingFile,
      ...(data.validationFile ? { validationPath: data.validationFile } : {}),
      params: { ...params },
    });
    progress({ stage: "recorded", job: job.id });
  };
  const failJob = (stage: SubmitStage, error: TrainerError, status: "failed" | "cancelled" = "failed"): SubmitOutcome => {
    if (job) {
      job = store.updateJob(job.id, {
        status,
        error: { code: error.code, message: error.message, ...(error.param ? { param: error.param } : {}) },
        statusMessage: error.message,
      });
    }
    return { ok: false, stage, error, quote, ...(job ? { job } : {}) };
  };
  const prepare = async (): Promise<SubmitOutcome | undefined> => {
    const r = await trainer.prepare(data, {
      cache: store,
      onProgress: (stage, file) => progress({ stage, file }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!r.ok) return failJob("prepare", r.error);
    prepared = r.value;
    job = store.updateJob(job!.id, {
      datasetSha256: prepared.training.sha256,
      trainingFileId: prepared.training.remoteFileId,
      ...(prepared.validation ? { validationSha256: prepared.validation.sha256, validationFileId: prepared.validation.remoteFileId } : {}),
    });
    return undefined;
  };

  if (trainer.capabilities.hosted) {
    if (trainer.estimate) {
      // The provider prices the uploaded file: upload (free) first, then ask, then confirm.
      record();
      const failed = await prepare();
      if (failed) return failed;
      progress({ stage: "estimating" });
      const est = await trainer.estimate(prepared!, params);
      if (!est.ok) return failJob("estimate", est.error);
      quote.providerEstimate = est.value;
      if (est.value.allowedToProceed === false) {
        return failJob("estimate", err("over_limit", `${quote.providerLabel} says this job (about $${est.value.cost?.toFixed(2) ?? "?"}) would exceed the account's limit${est.value.userLimit !== undefined ? ` of $${est.value.userLimit}` : ""}; nothing was started`), "cancelled");
      }
    }
    if (!(await options.confirm(quote))) {
      const e = err("not_confirmed", prepared ? "not started; the uploaded files are kept and will be reused by the next run" : "not started; nothing was uploaded");
      return failJob("confirm", e, "cancelled");
    }
  }
  if (!job) record();
  if (!prepared) {
    const failed = await prepare();
    if (failed) return failed;
  }
  progress({ stage: "creating" });
  const withTag: TrainParams = { ...params, metadata: { ...(params.metadata ?? {}), tunekit_job: job!.id } };
  const started = await trainer.start(prepared!, withTag);
  if (!started.ok) {
    if (!trainer.capabilities.hosted) {
      // A local run refused before it began (an occupied folder): nothing happened worth a record.
      store.deleteJob(job!.id);
      return { ok: false, stage: "start", error: started.error, quote };
    }
    const cleanup = await removeUploads(trainer, store, prepared!);
    const out = failJob("start", started.error);
    if (cleanup && job) {
      job = store.updateJob(job.id, { result: { uploadsDeleted: cleanup.deleted, uploadsKept: cleanup.kept } });
      return { ...(out as Extract<SubmitOutcome, { ok: false }>), job, cleanup };
    }
    return out;
  }
  job = store.updateJob(job!.id, {
    remoteId: started.value.remoteId,
    status: started.value.status,
    ...(started.value.outputDir ? { outputDir: started.value.outputDir } : {}),
  });
  if (!options.follow) return { ok: true, job, quote, prepared: prepared!, snapshot: started.value };
  const follow = await followJob(trainer, store, job.id, { ...options.follow, ...(options.signal && !options.follow.signal ? { signal: options.signal } : {}) });
  return { ok: true, job: follow.job, quote, prepared: prepared!, snapshot: started.value, follow };
}

/**
 * After a refused creation: deletes the files this run uploaded (reused ones belong to earlier runs)
 * and forgets them in the upload cache. Undefined when there was nothing to delete.
 */
async function removeUploads(trainer: Trainer, store: Store, prepared: PreparedData): Promise<{ deleted: string[]; kept: string[] } | undefined> {
  const mine = [prepared.training, prepared.validation].filter((f): f is NonNullable<typeof f> => f !== undefined && !f.reused);
  if (mine.length === 0 || !trainer.deleteFiles || !trainer.capabilities.hosted) return undefined;
  const r = await trainer.deleteFiles(mine.map((f) => f.remoteFileId));
  const deleted = r.ok ? r.value : [];
  for (const f of mine) {
    if (deleted.includes(f.remoteFileId)) store.forgetUploadedFile(trainer.id, trainer.baseUrl ?? "", "fine-tune", f.sha256);
  }
  return { deleted, kept: mine.map((f) => f.remoteFileId).filter((id) => !deleted.includes(id)) };
}

/**
 * Continues an interrupted local run in its folder and follows it into the store: the run's job is
 * found by its folder (or recorded, for a run the store never saw).
 */
export async function resumeLocalTraining(
  trainer: Trainer & { resume(runDir: string): Promise<import("./types.js").TrainerResult<JobSnapshot>> },
  store: Store,
  runDir: string,
  options: { follow?: FollowOptions } = {},
): Promise<{ ok: true; job: JobRecord; follow?: FollowOutcome } | { ok: false; error: TrainerError; job?: JobRecord }> {
  const started = await trainer.resume(runDir);
  if (!started.ok) return { ok: false, error: started.error };
  const dir = started.value.remoteId;
  const existing = store.listJobs({ provider: trainer.id, kind: "local" }).find((j) => j.remoteId === dir || j.outputDir === dir);
  let job =
    existing ??
    store.createJob({ kind: "local", provider: trainer.id, remoteId: dir, outputDir: dir, ...(started.value.model ? { model: started.value.model } : {}), params: {} });
  job = store.updateJob(job.id, { remoteId: dir, outputDir: dir, status: "running", statusMessage: "resumed" });
  if (!options.follow) return { ok: true, job };
  const follow = await followJob(trainer, store, job.id, options.follow);
  return { ok: true, job: follow.job, follow };
}
