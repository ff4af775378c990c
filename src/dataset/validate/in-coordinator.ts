/**
 * A big file's full analysis in a coordinator thread (coordinator.ts) with a capped heap: the analysis
 * allocates hundreds of MB of short-lived objects per GB of input, which an uncapped main-thread heap
 * lets pile up.
 */
import type { Worker } from "node:worker_threads";
import { TunekitError } from "../../util/errors.js";
import type { CoordinatorMessage } from "./coordinator.js";
import { startModuleWorker } from "./threads.js";
import type { ValidateOptions, ValidationReport } from "./types.js";

/**
 * The heap cap of the coordinator thread. The full analysis keeps compact typed columns (outside the
 * heap) and at most maxIssues issues per code, so what the heap holds is bounded (peak memory with and
 * without the cap: docs/validation.md).
 */
const COORDINATOR_LIMITS = { maxOldGenerationSizeMb: 160, maxYoungGenerationSizeMb: 16 };

/** Validates `file` in the coordinator thread; undefined when it ran out of its capped heap (then validate here). */
export async function validateInCoordinator(file: string, options: ValidateOptions): Promise<ValidationReport | undefined> {
  const { onProgress, ...plain } = options;
  let worker: Worker;
  try {
    worker = startModuleWorker("coordinator", { file, options: plain }, COORDINATOR_LIMITS);
  } catch {
    return undefined; // options that cannot be sent to a thread: validate here
  }
  try {
    return await new Promise<ValidationReport | undefined>((resolve, reject) => {
      worker.on("message", (m: CoordinatorMessage) => {
        if ("progress" in m) onProgress?.(m.progress);
        else if ("report" in m) resolve(m.report);
        else {
          const e = m.error;
          if (e.tunekit) {
            reject(new TunekitError(e.code ?? "internal", e.message, { hint: e.hint, file: e.file, line: e.line, column: e.column, exitCode: e.exitCode }));
          } else {
            const err = new Error(e.message);
            if (e.stack) err.stack = e.stack;
            reject(err);
          }
        }
      });
      worker.on("error", (e: Error & { code?: string }) => {
        if (e.code === "ERR_WORKER_OUT_OF_MEMORY") resolve(undefined);
        else reject(e);
      });
      worker.on("exit", (code) => reject(new Error(`validation coordinator exited (code ${code})`)));
    });
  } finally {
    await worker.terminate();
  }
}
