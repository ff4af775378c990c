/**
 * Worker thread that runs a whole parallel validation (reading, its own batch workers, aggregation) so
 * that its heap can be capped (the 400 MB peak-RSS target). in-coordinator.ts starts it and falls back
 * to the calling thread if the cap is ever too small.
 */
import { parentPort, workerData } from "node:worker_threads";
import { isTunekitError } from "../../util/errors.js";
import { validateHere } from "./run.js";
import type { ValidateOptions, ValidateProgress, ValidationReport } from "./types.js";

export type CoordinatorMessage =
  | { progress: ValidateProgress }
  | { report: ValidationReport }
  | { error: { tunekit: boolean; code?: string; message: string; hint?: string; file?: string; line?: number; column?: number; exitCode?: 1 | 2; stack?: string } };

const { file, options } = workerData as { file: string; options: ValidateOptions };
const post = (m: CoordinatorMessage) => parentPort!.postMessage(m);
let last = 0;

validateHere(file, {
  ...options,
  onProgress: (p) => {
    // Progress at most every 50 ms: the bar redraws no faster, and each message is a clone.
    const now = Date.now();
    if (now - last < 50 && p.bytesRead < p.totalBytes) return;
    last = now;
    post({ progress: p });
  },
}, true)
  .then((report) => post({ report }))
  .catch((e: unknown) => {
    const t = isTunekitError(e) ? e : undefined;
    post({
      error: {
        tunekit: t !== undefined,
        message: e instanceof Error ? e.message : String(e),
        ...(t ? { code: t.code, hint: t.hint, file: t.file, line: t.line, column: t.column, exitCode: t.exitCode } : { stack: (e as Error)?.stack }),
      },
    });
  });
