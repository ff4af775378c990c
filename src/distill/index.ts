export { distill, DROP_REASONS, DEFAULT_JUDGE_RUBRIC } from "./distill.js";
export type { DistillOptions, DistillReport, DistillEstimate, DistillProgress, DropReason, DroppedPrompt, ModelInfo } from "./distill.js";
export type { CallStats } from "./caller.js";
export { readPrompts, withSystem } from "./prompts.js";
export type { DistillPrompt, PromptFile, PromptFileFormat, ReadPromptsOptions } from "./prompts.js";
export { resolveAnswerFormat, checkAnswer } from "./format.js";
export { readSchemaFile } from "../shape/schema-file.js";
export type { AnswerFormat } from "./format.js";
