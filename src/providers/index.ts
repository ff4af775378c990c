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
} from "./types.js";
export { validateWithCapabilities, checkHyperparameter } from "./types.js";
export { OpenAITrainer, createOpenAITrainer, openaiCapabilities, type OpenAITrainerOptions } from "./openai/trainer.js";
export { TogetherTrainer, createTogetherTrainer, togetherCapabilities, type TogetherTrainerOptions } from "./together/trainer.js";
export { LocalTrainer, createLocalTrainer, localCapabilities, type LocalTrainerOptions } from "./local/trainer.js";
export { createHostedTrainer, trainerForJob, HOSTED_PROVIDERS, type CreateTrainerOptions } from "./registry.js";
export { startHostedJob, type StartOutcome } from "./run.js";
export { followJob, type FollowUpdate, type FollowOptions, type FollowOutcome } from "./follow.js";
export { preflightHostedData, type Preflight, type FileCheck } from "./preflight.js";
