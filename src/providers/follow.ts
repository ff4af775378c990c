/**
 * Follows a hosted job to its end and keeps the store in step: status changes, events (deduplicated by
 * the provider's event id, resuming after the stored cursor), metrics, checkpoints, result. Because all
 * progress is in the store, a follow that dies (process killed, machine rebooted) is resumed by running
 * it again: `tunekit jobs watch` does exactly that.
 *
 * Network failures and retryable API errors (429, 5xx, connection refused) while following are waited
 * out with capped exponential backoff; they are reported as "retry" updates, not as failures.
 */
import { isTerminalStatus, type JobRecord, type JobStatus, type Store } from "../store/store.js";
import { sleep } from "./files.js";
import type { Checkpoint, Trainer, TrainerError } from "./types.js";

export type FollowUpdate =
  | { type: "status"; job: string; remoteId: string; status: JobStatus; providerStatus: string; at: number; estimatedFinish?: number; trainedTokens?: number }
  | { type: "event"; job: string; id: string; at: number; level: string; message: string }
  | { type: "metrics"; job: string; id: string; at: number; step: number; totalSteps?: number; values: Record<string, number> }
  | { type: "retry"; job: string; code: string; message: string; delayMs: number; attempt: number }
  | { type: "checkpoint"; job: string; id: string; step: number; model?: string; metrics: Record<string, number> }
  | {
      type: "done";
      job: string;
      remoteId: string;
      status: JobStatus;
      fineTunedModel?: string;
      trainedTokens?: number;
      error?: { code: string; message: string; param?: string | null };
    };

export interface FollowOptions {
  pollMs?: number;
  /** Longest pause between retries after failures (default 30 s). */
  maxBackoffMs?: number;
  /** Give up after failing continuously this long (default 1 hour). */
  maxOfflineMs?: number;
  onUpdate?: (u: FollowUpdate) => void;
  signal?: AbortSignal;
  /** Poll once (status, new events; checkpoints if finished) and return, without waiting out errors. */
  once?: boolean;
}

export type FollowOutcome =
  | { ok: true; job: JobRecord; checkpoints: Checkpoint[] }
  | { ok: false; job: JobRecord; error: TrainerError };

export async function followJob(trainer: Trainer, store: Store, jobId: string, options: FollowOptions = {}): Promise<FollowOutcome> {
  const pollMs = options.pollMs ?? 5000;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const maxOffline = options.maxOfflineMs ?? 3_600_000;
  const emit = options.onUpdate ?? (() => {});
  let job = store.getJob(jobId);
  if (!job) throw new Error(`no job ${jobId} in the store`);
  if (!job.remoteId) {
    // Creation may have been cut off after the provider made the job but before its id was stored.
    const found = job.trainingFileId && trainer.findByTag ? await trainer.findByTag(jobId) : undefined;
    if (found && !found.ok) return { ok: false, job, error: found.error };
    if (!found?.value) {
      return { ok: false, job, error: { code: "not_started", message: `job ${jobId} was never created at ${trainer.id} (no remote id)`, retryable: false } };
    }
    job = store.updateJob(jobId, { remoteId: found.value.remoteId, status: found.value.status, statusMessage: "found again by its tunekit_job tag" });
  }
  const remoteId = job.remoteId!;
  let failingSince: number | undefined;
  let attempt = 0;
  let lastStatus: string | undefined;

  // Returns true when the failure is waited out, false when following must stop.
  const waitOut = async (error: TrainerError): Promise<boolean> => {
    if (!error.retryable || options.once) return false;
    failingSince ??= Date.now();
    if (Date.now() - failingSince > maxOffline) return false;
    attempt++;
    const delayMs = Math.min(maxBackoff, pollMs * 2 ** Math.min(attempt - 1, 10));
    emit({ type: "retry", job: jobId, code: error.code, message: error.message, delayMs, attempt });
    await sleep(delayMs, options.signal);
    return true;
  };

  for (;;) {
    if (options.signal?.aborted) return { ok: false, job: store.getJob(jobId)!, error: { code: "aborted", message: "stopped following", retryable: false } };
    const st = await trainer.status(remoteId);
    if (!st.ok) {
      if (await waitOut(st.error)) continue;
      return { ok: false, job: store.getJob(jobId)!, error: st.error };
    }
    const snap = st.value;

    // Events first (they happened before the status we just read), so a terminal status is
    // reported after the last events.
    let eventsFailed: TrainerError | undefined;
    const cursor = store.getJob(jobId)!.eventCursor;
    for await (const ev of trainer.events(remoteId, cursor ? { after: cursor } : {})) {
      if (ev.kind === "error") {
        eventsFailed = ev.error;
        break;
      }
      // Event, metrics and cursor in one transaction: a crash never stores one without the others.
      const added = store.db.transaction(() => {
        const n = store.addEvents(jobId, [
          ev.kind === "metrics"
            ? { remoteId: ev.id, createdAt: ev.createdAt, level: "info", type: "metrics", message: ev.message ?? `step ${ev.step}`, data: { step: ev.step, totalSteps: ev.totalSteps, ...ev.values } }
            : { remoteId: ev.id, createdAt: ev.createdAt, level: ev.level, type: "message", message: ev.message, ...(ev.data !== undefined ? { data: ev.data } : {}) },
        ]);
        if (n === 0) return 0; // already stored (providers without a cursor resend everything)
        if (ev.kind === "metrics") store.addMetrics(jobId, [{ step: ev.step, values: ev.values }]);
        store.updateJob(jobId, { eventCursor: ev.id });
        return n;
      }).immediate();
      if (added === 0) continue;
      if (ev.kind === "metrics") {
        emit({ type: "metrics", job: jobId, id: ev.id, at: ev.createdAt, step: ev.step, ...(ev.totalSteps !== undefined ? { totalSteps: ev.totalSteps } : {}), values: ev.values });
      } else {
        emit({ type: "event", job: jobId, id: ev.id, at: ev.createdAt, level: ev.level, message: ev.message });
      }
    }
    if (eventsFailed) {
      if (await waitOut(eventsFailed)) continue;
      return { ok: false, job: store.getJob(jobId)!, error: eventsFailed };
    }
    failingSince = undefined;
    attempt = 0;

    job = store.updateJob(jobId, {
      status: snap.status,
      statusMessage: snap.error?.message,
      ...(snap.fineTunedModel ? { fineTunedModel: snap.fineTunedModel } : {}),
      ...(snap.outputDir ? { outputDir: snap.outputDir } : {}),
      ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}),
      ...(snap.estimatedFinish !== undefined ? { estimatedFinish: snap.estimatedFinish } : {}),
      ...(snap.error ? { error: snap.error } : {}),
    });
    if (snap.providerStatus !== lastStatus) {
      lastStatus = snap.providerStatus;
      emit({
        type: "status",
        job: jobId,
        remoteId,
        status: snap.status,
        providerStatus: snap.providerStatus,
        at: Date.now(),
        ...(snap.estimatedFinish !== undefined ? { estimatedFinish: snap.estimatedFinish } : {}),
        ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}),
      });
    }

    if (isTerminalStatus(snap.status)) {
      let checkpoints: Checkpoint[] = [];
      for (;;) {
        const ck = await trainer.checkpoints(remoteId);
        if (ck.ok) {
          checkpoints = ck.value;
          break;
        }
        if (ck.error.code === "not_found" || !(await waitOut(ck.error))) break;
      }
      if (checkpoints.length > 0) {
        store.upsertCheckpoints(jobId, checkpoints.map((c) => ({ remoteId: c.id, step: c.step, ...(c.modelId ? { modelId: c.modelId } : {}), metrics: c.metrics, createdAt: c.createdAt })));
        for (const c of checkpoints) emit({ type: "checkpoint", job: jobId, id: c.id, step: c.step, ...(c.modelId ? { model: c.modelId } : {}), metrics: c.metrics });
      }
      job = store.updateJob(jobId, {
        result: {
          ...(snap.fineTunedModel ? { fineTunedModel: snap.fineTunedModel } : {}),
          ...(snap.outputDir ? { outputDir: snap.outputDir } : {}),
          ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}),
          ...(snap.hyperparameters ? { hyperparameters: snap.hyperparameters } : {}),
          ...(snap.finishedAt !== undefined ? { finishedAt: snap.finishedAt } : {}),
        },
      });
      emit({
        type: "done",
        job: jobId,
        remoteId,
        status: snap.status,
        ...(snap.fineTunedModel ? { fineTunedModel: snap.fineTunedModel } : {}),
        ...(snap.trainedTokens !== undefined ? { trainedTokens: snap.trainedTokens } : {}),
        ...(snap.error ? { error: snap.error } : {}),
      });
      return { ok: true, job, checkpoints };
    }
    if (options.once) return { ok: true, job, checkpoints: [] };
    if (trainer.waitForChange) await trainer.waitForChange(remoteId, pollMs, options.signal);
    else await sleep(pollMs, options.signal);
  }
}
