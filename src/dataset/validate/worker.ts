/**
 * Worker thread of parallel validation (parallel.ts): runs a BatchChecker on the batches the main thread sends.
 */
import { parentPort, workerData } from "node:worker_threads";
import { BatchChecker, type BatchResult, type WorkerJob, type WorkerSetup } from "./batch-check.js";

export type WorkerReply = ({ id: number } & BatchResult) | { id: -1; samples: string[] } | { id: -2; error: string };

const checker = new BatchChecker(workerData as WorkerSetup);

parentPort!.on("message", (msg: WorkerJob | { finish: true }) => {
  try {
    if ("finish" in msg) {
      parentPort!.postMessage({ id: -1, samples: checker.replies.items() } satisfies WorkerReply);
      return;
    }
    const r = checker.runBatch(msg);
    parentPort!.postMessage({ id: msg.id, ...r } satisfies WorkerReply, r.packed ? [r.packed.buffer as ArrayBuffer] : []);
  } catch (e) {
    parentPort!.postMessage({ id: -2, error: (e as Error)?.stack ?? String(e) } satisfies WorkerReply);
  }
});
