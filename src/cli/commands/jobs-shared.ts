/** Helpers shared by the `jobs` subcommands: opening the store and finding a job by any of its ids. */
import { TunekitError } from "../../util/errors.js";
import type { JobRecord, Store } from "../../store/store.js";

export function requireJob(store: Store, ref: string): JobRecord {
  const job = store.findJob(ref);
  if (!job) {
    throw new TunekitError("job_not_found", `no job "${ref}" in the store (${store.db.name})`, {
      hint: "run `tunekit jobs list` to see the jobs; IDs are tunekit ids (tk_...), provider ids (ftjob-...) or a unique prefix",
    });
  }
  return job;
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
