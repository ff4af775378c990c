/**
 * The Trainer contract: one interface for every way tunekit trains a model (the local engine, OpenAI,
 * Together AI, ...). Modelled on versioned provider contracts such as the Vercel AI SDK's: a provider
 * states its `specificationVersion`, so the contract can evolve without silently breaking providers.
 *
 * Every operation returns its outcome as DATA (`TrainerResult`): a failed call is a value carrying a
 * stable code, whether retrying can help, and the HTTP status / bad parameter when there is one. Callers
 * decide what to print; nothing here throws for an API failure.
 */
import type { JobStatus } from "../store/store.js";

export type { JobStatus };

export interface TrainerError {
  /**
   * Stable code: "auth" (401), "permission" (403), "rate_limit" (429), "server" (5xx),
   * "invalid_request" (400/404/422), "connection", "invalid_params", "invalid_file", "file_processing",
   * "job_failed", "not_found", or a provider code.
   */
  code: string;
  message: string;
  retryable: boolean;
  /** HTTP status, when the error came from an HTTP response. */
  status?: number;
  /** The request parameter the provider named as wrong. */
  param?: string | null;
  /** The provider's own error type/code, when different from `code`. */
  providerCode?: string | null;
}

export interface Usage {
  /** Tokens the provider billed (trained_tokens for OpenAI, token_count x epochs for Together). */
  trainedTokens?: number;
}

export interface Cost {
  amount: number;
  currency: "USD";
  /** "estimate" before the job, "billed" when the provider reported it. */
  basis: "estimate" | "billed";
}

export type TrainerResult<T> =
  | { ok: true; value: T; usage?: Usage; cost?: Cost }
  | { ok: false; error: TrainerError };

export function ok<T>(value: T, extra: { usage?: Usage; cost?: Cost } = {}): TrainerResult<T> {
  return { ok: true, value, ...extra };
}
export function fail<T = never>(error: TrainerError): TrainerResult<T> {
  return { ok: false, error };
}

/** A hyperparameter the provider accepts: "auto" allowed or not, and its numeric range. */
export interface HyperparameterSpec {
  description: string;
  auto: boolean;
  integer: boolean;
  min: number;
  max: number;
}

export type HyperparameterName = "n_epochs" | "batch_size" | "learning_rate_multiplier" | "learning_rate";

export interface TrainerCapabilities {
  hosted: boolean;
  /** Training methods offered, e.g. ["supervised"], ["supervised-lora", "supervised-full"]. */
  methods: string[];
  hyperparameters: Partial<Record<HyperparameterName, HyperparameterSpec>>;
  /** Largest training file accepted, in bytes. */
  maxFileBytes?: number;
  /** Minimum number of training examples the provider accepts. */
  minExamples?: number;
  /** Whether `suffix` and `seed` are accepted. */
  suffix: boolean;
  seed: boolean;
  /** Whether LoRA settings (`TrainParams.lora`) are accepted. */
  lora?: boolean;
  /** Epochs the provider runs when n_epochs is "auto", if fixed (else OpenAI's rule by dataset size). */
  autoEpochs?: number;
  /** Whether a maximum context length per example (`TrainParams.maxContextLength`) is accepted. */
  maxContextLength?: boolean;
}

export type HyperparameterValue = number | "auto";

export interface TrainParams {
  /** Base model id (hosted) or folder (local). */
  model: string;
  hyperparameters?: Partial<Record<HyperparameterName, HyperparameterValue>>;
  suffix?: string;
  seed?: number;
  /** Provider-side labels (OpenAI metadata). */
  metadata?: Record<string, string>;
  /** One of capabilities.methods; default the first. */
  method?: string;
  /** LoRA settings, for providers with `capabilities.lora`. */
  lora?: { r?: number; alpha?: number; dropout?: number; modules?: string };
  /** Longest example in tokens, for providers with `capabilities.maxContextLength`. */
  maxContextLength?: number;
}

export interface TrainingData {
  trainingFile: string;
  validationFile?: string;
}

export interface PreparedFile {
  path: string;
  sha256: string;
  bytes: number;
  remoteFileId: string;
  /** True when an earlier upload of the same bytes was reused. */
  reused: boolean;
}

export interface PreparedData {
  training: PreparedFile;
  validation?: PreparedFile;
}

/** A job as the provider reports it, normalised. */
export interface JobSnapshot {
  remoteId: string;
  status: JobStatus;
  /** The provider's own status word. */
  providerStatus: string;
  model: string;
  fineTunedModel?: string;
  /** Local runs: the adapter folder once finished. */
  outputDir?: string;
  trainedTokens?: number;
  /** Unix ms. */
  estimatedFinish?: number;
  /** Unix ms. */
  createdAt?: number;
  finishedAt?: number;
  hyperparameters?: Record<string, unknown>;
  error?: { code: string; message: string; param?: string | null };
}

export type TrainerEvent =
  | {
      kind: "message";
      /** Provider event id (dedupe/cursor key). */
      id: string;
      createdAt: number;
      level: string;
      message: string;
      data?: unknown;
    }
  | {
      kind: "metrics";
      id: string;
      createdAt: number;
      step: number;
      totalSteps?: number;
      /** e.g. train_loss, valid_loss, train_mean_token_accuracy, valid_mean_token_accuracy */
      values: Record<string, number>;
      message?: string;
    };

export interface Checkpoint {
  id: string;
  step: number;
  /** The model id of this checkpoint, usable for inference where the provider supports it. */
  modelId?: string;
  metrics: Record<string, number>;
  createdAt: number;
}

export type TrainingOutput =
  | { kind: "hosted"; model: string; trainedTokens?: number }
  | { kind: "local"; adapterDir: string };

/** The provider's own price estimate for a prepared job. */
export interface ProviderEstimate {
  /** USD. */
  cost?: number;
  trainTokens?: number;
  evalTokens?: number;
  /** False when the provider says the job would exceed the account's limit. */
  allowedToProceed?: boolean;
  /** The account's credit limit in USD, when reported. */
  userLimit?: number;
}

/** Something the user must know before paying (a retirement date, a deprecation). */
export interface Notice {
  code: string;
  message: string;
  /** YYYY-MM-DD, when the notice is about a date. */
  date?: string;
}

/** What `download` left in the folder it was given. */
export interface DownloadedWeights {
  kind: "adapter" | "merged";
  /** The folder holding adapter_config.json (adapter) or config.json (merged). */
  dir: string;
  files: string[];
  bytes: number;
}

export interface DownloadOptions {
  /** "adapter" (default when the provider has one) or "merged". */
  prefer?: "adapter" | "merged";
  signal?: AbortSignal;
  onProgress?: (bytes: number, total?: number) => void;
}

export interface EventsOptions {
  /** Only events newer than this event id (the resume cursor). */
  after?: string;
  signal?: AbortSignal;
}

/** What `prepare` needs to skip uploads it already made (the job store implements this). */
export interface UploadCache {
  findUploadedFile(provider: string, baseUrl: string, purpose: string, sha256: string): { remoteFileId: string } | undefined;
  recordUploadedFile(f: { provider: string; baseUrl: string; purpose: string; sha256: string; remoteFileId: string; filename?: string; bytes?: number }): void;
  forgetUploadedFile(provider: string, baseUrl: string, purpose: string, sha256: string): void;
}

export interface PrepareOptions {
  cache?: UploadCache;
  signal?: AbortSignal;
  /** Called while uploading / waiting for processing. */
  onProgress?: (stage: "hashing" | "uploading" | "reused" | "processing" | "ready", file: string) => void;
}

export interface Trainer {
  readonly specificationVersion: "v1";
  /** "openai", "together", "local", ... */
  readonly id: string;
  /** The API base URL (hosted), stored with jobs and uploads; never the key. */
  readonly baseUrl?: string;
  readonly capabilities: TrainerCapabilities;

  /** Checks parameters against the capabilities before anything is uploaded or paid for. */
  validateParams(params: TrainParams): TrainerResult<TrainParams>;
  /** Uploads (or reuses) the data files and waits until the provider has processed them. */
  prepare(data: TrainingData, options?: PrepareOptions): Promise<TrainerResult<PreparedData>>;
  start(prepared: PreparedData, params: TrainParams): Promise<TrainerResult<JobSnapshot>>;
  status(remoteId: string): Promise<TrainerResult<JobSnapshot>>;
  /**
   * The job's events newer than `options.after`, oldest first, including metrics. The iteration ends
   * when the provider has no newer events; a failure is yielded as `{ kind: "error" }` and ends it.
   */
  events(remoteId: string, options?: EventsOptions): AsyncIterable<TrainerEvent | { kind: "error"; error: TrainerError }>;
  checkpoints(remoteId: string): Promise<TrainerResult<Checkpoint[]>>;
  cancel(remoteId: string): Promise<TrainerResult<JobSnapshot>>;
  /** The trained model once the job succeeded; an error result otherwise. */
  result(remoteId: string): Promise<TrainerResult<TrainingOutput>>;
  /**
   * Finds a job created with `metadata.tunekit_job = tag`, for providers that store metadata. This is
   * how a job whose creation was cut off before its remote id reached the store is found again.
   */
  findByTag?(tag: string): Promise<TrainerResult<JobSnapshot | undefined>>;
  /** Waits up to `ms` for the job to change (a local run can say at once that it ended); default: a plain wait. */
  waitForChange?(remoteId: string, ms: number, signal?: AbortSignal): Promise<void>;
  /** Base models the provider fine-tunes, from its API (a model outside the list gets a clear error). */
  supportedModels?(): Promise<TrainerResult<string[]>>;
  /** What the user must know before anything is uploaded (e.g. when the base model retires). */
  notices?(params: TrainParams): Promise<Notice[]>;
  /** The provider's own estimate for prepared files; when present, the flow uploads before it confirms. */
  estimate?(prepared: PreparedData, params: TrainParams): Promise<TrainerResult<ProviderEstimate>>;
  /** Deletes uploaded files (those of a job the provider refused to create); returns the ids deleted. */
  deleteFiles?(fileIds: string[]): Promise<TrainerResult<string[]>>;
  /** Downloads a finished job's weights (a PEFT adapter, or merged weights) into `dir`. */
  download?(remoteId: string, dir: string, options?: DownloadOptions): Promise<TrainerResult<DownloadedWeights>>;
}

/** Checks one hyperparameter value against its spec; returns a message or undefined. */
export function checkHyperparameter(name: string, spec: HyperparameterSpec | undefined, value: HyperparameterValue): string | undefined {
  if (!spec) return `${name} is not accepted by this provider`;
  if (value === "auto") return spec.auto ? undefined : `${name} cannot be "auto" for this provider`;
  if (typeof value !== "number" || !Number.isFinite(value)) return `${name} must be a number${spec.auto ? ' or "auto"' : ""}`;
  if (spec.integer && !Number.isInteger(value)) return `${name} must be an integer, got ${value}`;
  if (value < spec.min || value > spec.max) return `${name} must be between ${spec.min} and ${spec.max}, got ${value}`;
  return undefined;
}

/** Shared `validateParams` body: every hyperparameter in range, suffix/seed allowed and well-formed. */
export function validateWithCapabilities(caps: TrainerCapabilities, params: TrainParams): TrainerResult<TrainParams> {
  const bad = (param: string, message: string) => fail<TrainParams>({ code: "invalid_params", message, retryable: false, param });
  if (!params.model || typeof params.model !== "string") return bad("model", "a base model is required");
  for (const [name, value] of Object.entries(params.hyperparameters ?? {})) {
    if (value === undefined) continue;
    const problem = checkHyperparameter(name, caps.hyperparameters[name as HyperparameterName], value);
    if (problem) return bad(name, problem);
  }
  if (params.suffix !== undefined) {
    if (!caps.suffix) return bad("suffix", "this provider does not accept a suffix");
    if (params.suffix.length > 64) return bad("suffix", `suffix must be at most 64 characters, got ${params.suffix.length}`);
  }
  if (params.seed !== undefined) {
    if (!caps.seed) return bad("seed", "this provider does not accept a seed");
    if (!Number.isInteger(params.seed) || params.seed < 0 || params.seed > 2147483647) return bad("seed", "seed must be an integer between 0 and 2147483647");
  }
  if (params.lora !== undefined) {
    if (!caps.lora) return bad("lora", "this provider does not take LoRA settings");
    const { r, alpha, dropout } = params.lora;
    if (r !== undefined && (!Number.isInteger(r) || r < 1 || r > 1024)) return bad("lora.r", `LoRA rank must be an integer between 1 and 1024, got ${r}`);
    if (alpha !== undefined && !(alpha > 0)) return bad("lora.alpha", `LoRA alpha must be positive, got ${alpha}`);
    if (dropout !== undefined && !(dropout >= 0 && dropout < 1)) return bad("lora.dropout", `LoRA dropout must be in [0, 1), got ${dropout}`);
  }
  if (params.maxContextLength !== undefined) {
    if (!caps.maxContextLength) return bad("maxContextLength", "this provider does not take a maximum context length");
    if (!Number.isInteger(params.maxContextLength) || params.maxContextLength < 1) return bad("maxContextLength", `the maximum context length must be a positive integer, got ${params.maxContextLength}`);
  }
  if (params.method !== undefined && !caps.methods.includes(params.method)) {
    return bad("method", `method must be one of ${caps.methods.join(", ")}, got "${params.method}"`);
  }
  return ok(params);
}
