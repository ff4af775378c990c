/**
 * From a parsed --model spec to a ready runner: endpoints get their key from the environment and a
 * price (given, or the list price of a known OpenAI model); local models and run folders load on the
 * engine; store jobs resolve to their fine-tuned model or run folder. Every runner goes through the
 * generation cache unless caching is off.
 */
import type { BaseBits } from "../../engine/quant/base.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../../store/store.js";
import { TunekitError } from "../../util/errors.js";
import { lookupPrice } from "../economics.js";
import { inferencePrice, PROVIDER_CATALOG, providerForUrl, trainingCost } from "../../providers/catalog.js";
import { curvesFromRecords, readLossCurves, type LossCurves } from "../overfit.js";
import { GenerationCache, withCache } from "./cache.js";
import { createEndpointRunner, type EndpointRunnerOptions } from "./endpoint.js";
import { apiKeyFor, OPENAI_BASE_URL, type ModelSource, type ModelSpec } from "./spec.js";
import type { ModelRunner, Price } from "./types.js";

export interface CreatedRunner {
  runner: ModelRunner;
  price?: Price;
  /** Where `price` comes from, in words ("given in the spec", "OpenAI list price as of 2026-12-06", "local: CPU time only"). */
  priceSource?: string;
  /** Default calls in flight: endpoints take --concurrency, the local engine batches instead. */
  concurrency?: number;
  /** Loss curves of the run or job behind the model, when there is one. */
  lossCurves?: LossCurves;
  /** What the model resolved to, for the report. */
  resolved: string;
  /** What training this model cost, when the job store knows (hosted: trained tokens x list price). */
  trainingCostUsd?: number;
}

export interface CreateRunnerOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Needed for the cache and for job=... specs. */
  store?: Store;
  cache?: boolean;
  offline?: boolean;
  threads?: number;
  /** Local models: the linear weights in 4 or 8 bits (LocalRunnerOptions.baseBits). */
  baseBits?: BaseBits;
  /** A local model starts loading (see LocalRunnerOptions.onLoading). */
  onLoading?(label: string): void;
  /** Retry settings and the retry callback for endpoint models. */
  endpoint?: Pick<EndpointRunnerOptions, "maxRetries" | "backoffMs" | "maxWaitMs" | "timeoutMs" | "onRetry">;
}

async function resolveJob(ref: string, store: Store | undefined): Promise<{ source: ModelSource; lossCurves?: LossCurves; trainingCostUsd?: number }> {
  if (!store) throw new TunekitError("no_store", "job=... needs the tunekit job store", { hint: "do not combine job= with --no-cache" });
  const job = store.findJob(ref);
  if (!job) throw new TunekitError("job_not_found", `no job "${ref}" in the job store`, { hint: "run `tunekit jobs list` to see the jobs" });
  const points = store.getMetrics(job.id);
  const lossCurves = points.length ? curvesFromRecords(points.map((p) => ({ step: p.step, ...p.values }))) : undefined;
  if (job.kind === "hosted") {
    const trainingCostUsd = job.model && job.trainedTokens ? trainingCost(job.provider, job.model, job.trainedTokens) : undefined;
    // Weights brought home with `tunekit jobs pull` run here, like a local run.
    if (job.outputDir && existsSync(join(job.outputDir, "run.json"))) {
      return { source: { kind: "run", runDir: job.outputDir }, ...(lossCurves ? { lossCurves } : {}), ...(trainingCostUsd !== undefined ? { trainingCostUsd } : {}) };
    }
    if (!job.fineTunedModel) {
      throw new TunekitError("job_not_finished", `job ${ref} has no fine-tuned model yet (status: ${job.status})`, { hint: `run \`tunekit jobs watch ${ref}\`` });
    }
    return {
      source: { kind: "endpoint", baseUrl: job.baseUrl ?? OPENAI_BASE_URL, model: job.fineTunedModel },
      ...(lossCurves ? { lossCurves } : {}),
      ...(trainingCostUsd !== undefined ? { trainingCostUsd } : {}),
    };
  }
  if (!job.outputDir) throw new TunekitError("job_not_finished", `local job ${ref} has no run folder recorded`);
  return { source: { kind: "run", runDir: job.outputDir }, ...(lossCurves ? { lossCurves } : {}) };
}

export async function createRunner(spec: ModelSpec, options: CreateRunnerOptions): Promise<CreatedRunner> {
  let source = spec.source;
  let lossCurves: LossCurves | undefined;
  let trainingCostUsd: number | undefined;
  if (source.kind === "job") {
    const j = await resolveJob(source.ref, options.store);
    source = j.source;
    lossCurves = j.lossCurves;
    trainingCostUsd = j.trainingCostUsd;
  }
  let created: CreatedRunner;
  if (source.kind === "endpoint") {
    const openai = source.baseUrl.replace(/\/+$/, "") === OPENAI_BASE_URL;
    // A known provider's API (OpenAI, Together, Fireworks) prices its models from the catalog.
    const provider = openai ? "openai" : providerForUrl(source.baseUrl);
    const listed = spec.price ? undefined : provider ? inferencePrice(source.model, provider) : undefined;
    const price = spec.price ?? (provider ? lookupPrice(source.model, provider) : undefined);
    const priceSource = spec.price ? "given in the model spec" : listed ? `${PROVIDER_CATALOG[provider!].label} list price (${listed.covers}, as of ${listed.asOf})` : undefined;
    // OPENAI_BASE_URL points OpenAI model names at another OpenAI-compatible server, as for hosted training.
    const baseUrl = openai && options.env.OPENAI_BASE_URL ? options.env.OPENAI_BASE_URL : source.baseUrl;
    const runner = createEndpointRunner({ ...options.endpoint, baseUrl, model: source.model, label: spec.name, apiKey: apiKeyFor(source, options.env), ...(price ? { price } : {}) });
    created = { runner, ...(price ? { price } : {}), ...(priceSource ? { priceSource } : {}), resolved: `${source.model} at ${baseUrl}` };
  } else if (source.kind === "gguf") {
    // Loaded lazily: node-llama-cpp is imported only when the first prompt misses the cache.
    const { createGgufRunner } = await import("./gguf.js");
    const price = spec.price ?? { inputPerM: 0, outputPerM: 0 };
    const runner = createGgufRunner({ path: source.path, ...(source.adapter ? { lora: source.adapter } : {}), label: spec.name, price, threads: options.threads, onLoading: options.onLoading });
    created = { runner, price, priceSource: spec.price ? "given in the model spec" : "local model: CPU time only", concurrency: 1, resolved: `GGUF ${source.path}${source.adapter ? ` + adapter ${source.adapter}` : ""} (llama.cpp)` };
  } else {
    // Loaded lazily so `tunekit eval` against endpoints never loads the engine.
    const local = await import("./local.js");
    const price = spec.price ?? { inputPerM: 0, outputPerM: 0 };
    const priceSource = spec.price ? "given in the model spec" : "local model: CPU time only";
    const common = { label: spec.name, price, env: options.env, cwd: options.cwd, offline: options.offline, threads: options.threads, baseBits: options.baseBits, onLoading: options.onLoading };
    if (source.kind === "run") {
      const runner = await local.createRunRunner(source.runDir, common);
      if (!lossCurves && existsSync(join(source.runDir, "metrics.jsonl"))) lossCurves = readLossCurves(source.runDir);
      created = { runner, price, priceSource, concurrency: 1, resolved: `training run ${source.runDir}` };
    } else if (source.kind === "local") {
      const runner = local.createLocalRunner({ ...common, model: source.path, ...(source.adapter ? { adapter: source.adapter } : {}) });
      created = { runner, price, priceSource, concurrency: 1, resolved: source.adapter ? `${source.path} + adapter ${source.adapter}` : source.path };
    } else {
      throw new TunekitError("bad_model_spec", `job ${source.ref} did not resolve to a model`);
    }
  }
  if (lossCurves) created.lossCurves = lossCurves;
  if (trainingCostUsd !== undefined) created.trainingCostUsd = trainingCostUsd;
  if (options.cache !== false && options.store) created.runner = withCache(created.runner, new GenerationCache(options.store), created.price);
  return created;
}
