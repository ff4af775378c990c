/** Starting the worker threads of validation (worker.ts, coordinator.ts), from sources or from dist/. */
import { availableParallelism } from "node:os";
import { Worker, type ResourceLimits } from "node:worker_threads";

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * Starts a worker thread on a module of this folder (`name` without extension): the compiled .js, or
 * the .ts through tsx when running from sources.
 */
export function startModuleWorker(name: "worker" | "coordinator", workerData: unknown, resourceLimits: ResourceLimits): Worker {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const url = new URL(`./${name}.ts`, here).href;
    const tsx = import.meta.resolve("tsx/esm/api");
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
    return new Worker(code, { eval: true, workerData, resourceLimits });
  }
  return new Worker(new URL(`./${name}.js`, here), { workerData, resourceLimits });
}
