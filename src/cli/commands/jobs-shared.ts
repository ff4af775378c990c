/** Helpers shared by the `jobs` subcommands: opening the store and finding a job by any of its ids. */
import { TunekitError } from "../../util/errors.js";
import { isTerminalStatus, openStore, type JobRecord, type Store } from "../../store/store.js";
import { createHostedTrainer } from "../../providers/registry.js";
import { followJob } from "../../providers/follow.js";
import type { CommandContext } from "../command.js";

export function requireJob(store: Store, ref: string): JobRecord {
  const job = store.findJob(ref);
  if (!job) {
    throw new TunekitError("job_not_found", `no job "${ref}" in the store (${store.db.name})`, {
      hint: "run `tunekit jobs list` to see the jobs; IDs are tunekit ids (tk_...), provider ids (ftjob-...) or a unique prefix",
    });
  }
  return job;
}

/** Opens the job store, finds the job the command's ID names, runs `fn` on it and closes the store. */
export async function withJob<T>(ctx: CommandContext, fn: (store: Store, job: JobRecord) => Promise<T>): Promise<T> {
  const store = openStore({ env: ctx.io.env });
  try {
    return await fn(store, requireJob(store, ctx.positionals[0]));
  } finally {
    store.close();
  }
}

/** The JSON form of a job with everything the store holds about it. */
export function jobDetails(store: Store, job: JobRecord, eventLimit = Infinity) {
  const events = store.listEvents(job.id);
  return {
    job,
    history: store.statusHistory(job.id),
    metrics: store.getMetrics(job.id),
    checkpoints: store.listCheckpoints(job.id),
    events: Number.isFinite(eventLimit) ? events.slice(-eventLimit) : events,
  };
}

/**
 * Brings unfinished hosted jobs up to date with one poll each (status, new events, checkpoints when
 * finished). A provider that cannot be reached is a warning: the stored state is still shown.
 */
export async function refreshJobs(ctx: CommandContext, store: Store, jobs: JobRecord[]): Promise<void> {
  for (const job of jobs) {
    if (job.kind !== "hosted" || !job.remoteId || (isTerminalStatus(job.status) && job.result)) continue;
    const trainer = await createHostedTrainer(job.provider, { env: ctx.io.env, ...(job.baseUrl ? { baseUrl: job.baseUrl } : {}) });
    const out = await followJob(trainer, store, job.id, { once: true });
    if (!out.ok) ctx.err(`${ctx.errColor.yellow("warning")}: could not refresh ${job.id}: ${out.error.message}`);
  }
}
