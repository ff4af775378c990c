/**
 * Starting a job (hosted, or local through the local Trainer) safely: the job is recorded in the store BEFORE anything is uploaded, and each
 * step (file ids, remote job id) is written as soon as it is known, so a crash at any point leaves a
 * record to inspect or resume instead of an orphaned paid job.
 */
import { type JobRecord, type Store } from "../store/store.js";
import type { JobSnapshot, PreparedData, PrepareOptions, Trainer, TrainerError, TrainingData, TrainParams } from "./types.js";

export type StartOutcome =
  | { ok: true; job: JobRecord; prepared: PreparedData; snapshot: JobSnapshot }
  | { ok: false; job?: JobRecord; error: TrainerError; stage: "params" | "prepare" | "start" };

export async function startHostedJob(
  trainer: Trainer,
  store: Store,
  data: TrainingData,
  params: TrainParams,
  options: Pick<PrepareOptions, "onProgress" | "signal"> = {},
): Promise<StartOutcome> {
  const checked = trainer.validateParams(params);
  if (!checked.ok) return { ok: false, error: checked.error, stage: "params" };
  let job = store.createJob({
    kind: trainer.capabilities.hosted ? "hosted" : "local",
    provider: trainer.id,
    ...(trainer.baseUrl ? { baseUrl: trainer.baseUrl } : {}),
    model: params.model,
    datasetPath: data.trainingFile,
    ...(data.validationFile ? { validationPath: data.validationFile } : {}),
    params: { ...params },
  });
  const prepared = await trainer.prepare(data, { cache: store, ...options });
  if (!prepared.ok) {
    job = store.updateJob(job.id, { status: "failed", error: { code: prepared.error.code, message: prepared.error.message }, statusMessage: prepared.error.message });
    return { ok: false, job, error: prepared.error, stage: "prepare" };
  }
  const p = prepared.value;
  job = store.updateJob(job.id, {
    datasetSha256: p.training.sha256,
    trainingFileId: p.training.remoteFileId,
    ...(p.validation ? { validationSha256: p.validation.sha256, validationFileId: p.validation.remoteFileId } : {}),
  });
  const withTag: TrainParams = { ...params, metadata: { ...(params.metadata ?? {}), tunekit_job: job.id } };
  const started = await trainer.start(p, withTag);
  if (!started.ok) {
    job = store.updateJob(job.id, {
      status: "failed",
      error: { code: started.error.code, message: started.error.message, ...(started.error.param ? { param: started.error.param } : {}) },
      statusMessage: started.error.message,
    });
    return { ok: false, job, error: started.error, stage: "start" };
  }
  job = store.updateJob(job.id, { remoteId: started.value.remoteId, status: started.value.status });
  return { ok: true, job, prepared: p, snapshot: started.value };
}
