/**
 * Lists local training runs in the job store (next to hosted jobs, for `tunekit jobs list`). Called by
 * the CLI when a run ends (done, stopped or failed). The store is a convenience: if it cannot be
 * opened the run itself is unaffected, and the caller gets the reason to print as a warning.
 */
import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import type { JobStatus, MetricPoint } from "../../store/store.js";
import { readRunRecord, runPaths } from "./run-dir.js";

export async function recordRunInStore(runDir: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const dir = resolve(runDir);
  const rec = await readRunRecord(dir);
  const { openStore } = await import("../../store/store.js");
  const store = openStore({ env });
  try {
    const status: JobStatus = rec.status === "running" ? "running" : rec.status === "failed" ? "failed" : rec.status === "interrupted" ? "cancelled" : "succeeded";
    const metrics: MetricPoint[] = [];
    const metricsPath = runPaths(dir).metrics;
    if (existsSync(metricsPath)) {
      for (const line of readFileSync(metricsPath, "utf8").split("\n")) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as { type: string; step: number; loss?: number; heldOutLoss?: number };
          if (e.type === "step" && typeof e.loss === "number") metrics.push({ step: e.step, values: { train_loss: e.loss } });
          if (e.type === "eval" && typeof e.heldOutLoss === "number") metrics.push({ step: e.step, values: { valid_loss: e.heldOutLoss } });
        } catch {
          // a line cut by a crash
        }
      }
    }
    const existing = store.listJobs({ provider: "local", kind: "local" }).find((j) => j.outputDir === dir);
    const job =
      existing ??
      store.recordLocalRun({
        model: rec.model,
        datasetPath: rec.data.path,
        datasetSha256: rec.data.sha256,
        validationPath: rec.heldOut.kind === "validation" ? rec.heldOut.path : undefined,
        validationSha256: rec.heldOut.kind === "validation" ? rec.heldOut.sha256 : undefined,
        params: { ...rec.options },
        outputDir: dir,
      });
    // Metrics are re-sent whole; keep only points newer than what the store has.
    const have = existing ? Math.max(-1, ...store.getMetrics(job.id).map((m) => m.step)) : -1;
    store.updateRun(job.id, {
      status,
      result: rec.result,
      error: rec.error,
      metrics: metrics.filter((m) => m.step > have),
    });
    return job.id;
  } finally {
    store.close();
  }
}
