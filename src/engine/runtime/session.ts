/**
 * A thin wrapper over onnxruntime-node: create a session from ModelProto bytes with tunekit's
 * defaults (CPU execution provider, all graph optimisations, an explicit thread count), run it with
 * plain typed arrays, and fetch only the outputs asked for (every fetched output is copied into JS).
 */
import ort from "onnxruntime-node";
import { TunekitError } from "../../util/errors.js";
import type { ExternalData } from "../graph/graph.js";

export interface RuntimeOptions {
  /** Intra-op threads (default: ORT's own choice, the number of physical cores). */
  threads?: number;
  /** Execution providers in preference order, e.g. ["cuda", "cpu"]. Default ["cpu"]. */
  executionProviders?: string[];
  /** Write the optimised graph here (debugging). */
  optimizedModelPath?: string;
  /**
   * ORT's CPU memory arena (default on). Without it every intermediate tensor is a fresh allocation, and
   * glibc serves the large ones with mmap: each run then page-faults through hundreds of MB. The arena
   * made the training step faster and its peak memory lower (figures in docs/engine.md).
   */
  cpuMemArena?: boolean;
  /**
   * ORT's memory pattern (one pre-planned block per input shape). Default off: with a new block per
   * shape on top of the first run's allocations it raised peak memory by about a fifth here.
   */
  memPattern?: boolean;
  /** ORT graph optimisation level (default "all"). */
  optimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** Let idle intra-op threads spin (ORT's default, faster on a quiet machine; off wastes no CPU). */
  spinning?: boolean;
  /** Write ORT's per-op profile (JSON) with this file prefix (debugging, benchmarks). */
  profilePrefix?: string;
  /**
   * Treat denormal floats as zero (ORT's set_denormal_as_zero; default on). Attention masks make
   * MLAS's softmax produce denormals, which the CPU handles in slow microcode: the training step's
   * softmaxes ran about five times slower (docs/engine.md). ORT applies the setting to its
   * own threads and, once per process, to the thread that creates the first session: in Node that
   * is the JS thread, whose arithmetic on numbers below 2.2e-308 (1.2e-38 when stored in a
   * Float32Array) then flushes to zero too. Whatever the first session chooses holds for that thread.
   */
  denormalsAsZero?: boolean;
}

export type FeedValue = ort.Tensor;

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export function tensor(type: "float32" | "float64" | "int64" | "int32" | "bool" | "uint8", data: TensorData, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(type, data as never, dims);
}

function ortLogLevel(v: string | undefined): 0 | 1 | 2 | 3 | 4 {
  const levels: Record<string, 0 | 1 | 2 | 3 | 4> = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 };
  return levels[(v ?? "").toLowerCase()] ?? 3;
}

export class Session {
  private constructor(
    readonly inner: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  /** `external`: the initializers the model stores outside itself (Graph.externalData()). */
  static async create(model: Uint8Array, options: RuntimeOptions = {}, external: ExternalData = { inMemory: [] }): Promise<Session> {
    const so: ort.InferenceSession.SessionOptions = {
      executionProviders: options.executionProviders ?? ["cpu"],
      graphOptimizationLevel: options.optimizationLevel ?? "all",
      executionMode: "sequential",
      enableCpuMemArena: options.cpuMemArena ?? true,
      enableMemPattern: options.memPattern ?? false,
      // Errors only by default: ORT's warnings would reach the user's terminal. TUNEKIT_ORT_LOG=verbose|info|warning
      // shows more when debugging.
      logSeverityLevel: ortLogLevel(process.env.TUNEKIT_ORT_LOG),
    };
    if (options.threads !== undefined) {
      so.intraOpNumThreads = options.threads;
      so.interOpNumThreads = 1;
    }
    const config: Record<string, unknown> = {};
    if (options.spinning === false) Object.assign(config, { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } });
    if (options.denormalsAsZero ?? true) config.set_denormal_as_zero = "1";
    // A model built in memory has no folder of its own: ORT resolves external-data files against this one.
    if (external.folder !== undefined) config.model_external_initializers_file_folder_path = external.folder;
    so.extra = { session: config };
    if (external.inMemory.length > 0) so.externalData = external.inMemory;
    if (options.optimizedModelPath) so.optimizedModelFilePath = options.optimizedModelPath;
    if (options.profilePrefix) {
      so.enableProfiling = true;
      so.profileFilePrefix = options.profilePrefix;
    }
    let inner: ort.InferenceSession;
    try {
      inner = await ort.InferenceSession.create(model, so);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (options.executionProviders && /provider|EP/i.test(msg)) {
        throw new TunekitError("ENGINE_PROVIDER", `ONNX Runtime could not use execution provider(s) ${options.executionProviders.join(", ")}: ${msg}`, {
          hint: "Use the default CPU provider, or install an onnxruntime-node build with that provider.",
          cause: err,
        });
      }
      throw err;
    }
    return new Session(inner, inner.inputNames, inner.outputNames);
  }

  /** Run with `feeds` and return only `fetch` outputs. */
  async run(feeds: Record<string, ort.Tensor>, fetch: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const res = await this.inner.run(feeds, fetch);
    return res as Record<string, ort.Tensor>;
  }

  /** Stop profiling; returns the profile file (when profiling was on). */
  endProfiling(): string | undefined {
    const f = (this.inner as unknown as { endProfiling?: () => string }).endProfiling?.();
    return f || undefined;
  }

  async dispose(): Promise<void> {
    await this.inner.release();
  }
}

export { ort };
