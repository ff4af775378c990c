/** Public API of the providers area (re-exported from src/index.ts). */
export type {
  Trainer,
  TrainerCapabilities,
  TrainerError,
  TrainerResult,
  TrainerEvent,
  TrainParams,
  TrainingData,
  TrainingOutput,
  PreparedData,
  PreparedFile,
  PrepareOptions,
  JobSnapshot,
  Checkpoint,
  HyperparameterSpec,
  HyperparameterName,
  HyperparameterValue,
  EventsOptions,
  UploadCache,
  Usage,
  Cost,
  Notice,
  ProviderEstimate,
  DownloadedWeights,
  DownloadOptions,
} from "./types.js";
export { validateWithCapabilities, checkHyperparameter } from "./types.js";
export { OpenAITrainer, createOpenAITrainer, openaiCapabilities, isFineTuningClosed, type OpenAITrainerOptions } from "./openai/trainer.js";
export { createAzureTrainer, AZURE_DEFAULT_API_VERSION } from "./azure/trainer.js";
export { TogetherTrainer, createTogetherTrainer, togetherCapabilities, type TogetherTrainerOptions } from "./together/trainer.js";
export { FireworksTrainer, createFireworksTrainer, fireworksCapabilities, type FireworksTrainerOptions } from "./fireworks/trainer.js";
export { LocalTrainer, createLocalTrainer, localCapabilities, type LocalTrainerOptions } from "./local/trainer.js";
export { createHostedTrainer, trainerForJob, HOSTED_PROVIDERS, type CreateTrainerOptions } from "./registry.js";
export {
  PROVIDER_CATALOG,
  providerInfo,
  trainingPrice,
  trainingCost,
  inferencePrice,
  fineTunedInferencePrice,
  knownRetirement,
  type ProviderId,
  type ProviderInfo,
} from "./catalog.js";
export type { TrainingPrice, InferencePrice, Retirement } from "./prices.js";
export {
  submitTraining,
  quoteTraining,
  resumeLocalTraining,
  type TrainingRequest,
  type Quote,
  type QuoteOutcome,
  type SubmitOptions,
  type SubmitOutcome,
  type SubmitProgress,
  type SubmitStage,
} from "./submit.js";
export { followJob, type FollowUpdate, type FollowOptions, type FollowOutcome } from "./follow.js";
export { preflightHostedData, isPreferenceData, type Preflight, type FileCheck } from "./preflight.js";
export { pullJob, type PullOutcome, type PullOptions } from "./pull.js";
export { httpRequest, httpJson, retryAfterMs } from "./http.js";
