/**
 * tunekit's library API. Everything the CLI does is available from here with types; the CLI is a thin
 * layer over these functions.
 */
export { TunekitError, EXIT, isTunekitError } from "./util/errors.js";
export { writeFileAtomic, withAtomicWriter, AtomicWriter } from "./util/fs.js";
export { VERSION } from "./version.js";
export * from "./tokenize/index.js";
export { readDataset, DatasetReader, type ReadOptions, type DatasetRecord } from "./dataset/reader.js";
export { validateFile, type ValidateOptions, type ValidationReport, type ReportIssue, type DatasetAnalysis } from "./dataset/validate/index.js";
export { convertFile, type ConvertOptions, type ConvertReport } from "./dataset/convert.js";
export { detectRecordFormat } from "./dataset/formats/detect.js";
export { recordToExample } from "./dataset/formats/index.js";
export type { ConversionNote } from "./dataset/formats/types.js";
export type { NoteSummary } from "./dataset/notes.js";
export {
  inferReplyShape,
  conformsToShape,
  replyShapeSignature,
  inferJsonSchema,
  validateJsonSchema,
  parseJsonReply,
  inferLineTemplate,
  matchLineTemplate,
  lineTemplateFromExample,
  guessLanguage,
  type ReplyShape,
  type ShapeCheck,
  type JsonSchema,
  type SchemaValidation,
  type LineTemplate,
} from "./shape/index.js";
export {
  analyzeExamples,
  createDatasetAnalysis,
  extractFeatures,
  createFeatureContext,
  DatasetAggregator,
  detectFactInjection,
  estimateHostedCost,
  defaultEpochs,
  type ExampleFeatures,
  type FeatureContext,
  type FeatureOptions,
  type DatasetStats,
  type AnalysisResult,
  type FactCheck,
  type FactSpan,
  type HostedCost,
} from "./dataset/analysis/index.js";
export {
  openStore,
  Store,
  isTerminalStatus,
  TERMINAL_STATUSES,
  openDatabase,
  migrate,
  migrations,
  tunekitHome,
  databasePath,
  type JobKind,
  type JobStatus,
  type JobError,
  type JobRecord,
  type NewJob,
  type JobPatch,
  type StoredEvent,
  type MetricPoint,
  type StoredCheckpoint,
  type StatusChange,
  type UploadedFile,
  type Migration,
  type OpenDatabaseOptions,
} from "./store/index.js";
export * from "./providers/index.js";
// Model IO, hub, generation
export { resolveModelDir, type ResolveOptions, type DownloadProgress } from "./hub/resolve.js";
export { parseHubId } from "./hub/types.js";
export { hubCacheDir } from "./hub/env.js";
export { findCachedSnapshot } from "./hub/cache.js";
export { SafetensorsFile, readSafetensors, writeSafetensors, type TensorToWrite, type TensorInfo } from "./engine/io/safetensors.js";
export { parseModelConfig, readModelConfig, SUPPORTED_ARCHITECTURES_TEXT } from "./engine/io/config.js";
export { loadModel, expectedTensorShapes, type LoadedModel, type LoadModelOptions } from "./engine/io/model.js";
export { readPeftAdapter, writePeftAdapter, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type PeftAdapter } from "./engine/io/peft.js";
export { TextGenerator, type Prompt, type GeneratorOptions, type PromptOptions } from "./engine/generate/generator.js";
export { generateFromIds, generateBatchFromIds, GENERATION_DEFAULTS, type GenerationParams, type GenerationResult, type FinishReason } from "./engine/generate/generate.js";
export { SeededRng, sampleToken, type SamplingParams } from "./engine/generate/sampling.js";
export * from "./rag/index.js";
// Evaluation and reports
export { evaluate, type EvalOptions, type EvalResult, type EvalModel, type ModelResult, type ExampleResult, type Comparison, type RetentionResult } from "./eval/evaluate.js";
export { readEvalItems, itemFromExample, promptFor, withContext, type EvalItem } from "./eval/items.js";
export { exactMatch, tokenF1, chrF, lengthRatio, type ChrfOptions } from "./eval/similarity.js";
export { factualAccuracy, extractSpecifics, type Specific, type SpecificKind, type FactualResult } from "./eval/factual.js";
export { inferFormatPlan, scoreFormat, describeFormatPlan, type FormatPlan, type FormatScores } from "./eval/format.js";
export { seededRandom } from "./util/random.js";
export { pairedBootstrap, verdictText, type PairedInterval, type Verdict, type BootstrapOptions } from "./eval/bootstrap.js";
export { summarizeUsage, breakEven, lookupPrice, type ModelEconomics, type BreakEven } from "./eval/economics.js";
export { parseGate, checkGates, type Gate, type GateResult } from "./eval/gates.js";
export { readLossCurves, curvesFromRecords, analyzeOverfitting, type LossCurves, type LossPoint, type OverfitAnalysis } from "./eval/overfit.js";
export { RETENTION_SET, type RetentionItem, type RetentionCategory } from "./eval/retention-set.js";
export { checkRetention, type RetentionCheck } from "./eval/retention-checks.js";
export { judgeReply, type JudgeVerdict } from "./eval/judge.js";
export { PER_EXAMPLE_METRICS, AGGREGATE_METRICS, ALL_METRIC_NAMES, type PerExampleMetric } from "./eval/metrics.js";
export { createEndpointRunner, type EndpointRunnerOptions } from "./eval/runner/endpoint.js";
export { createLocalRunner, createRunRunner, type LocalRunnerOptions } from "./eval/runner/local.js";
export { createRunner, type CreatedRunner, type CreateRunnerOptions } from "./eval/runner/create.js";
export { parseModelSpec, parseModelSpecs, type ModelSpec, type ModelSource } from "./eval/runner/spec.js";
export { GenerationCache, withCache } from "./eval/runner/cache.js";
export type { ModelRunner, Generation, GenerationParams as EvalGenerationParams, Price } from "./eval/runner/types.js";
// Distillation: training data from a teacher model's answers.
export {
  distill,
  readPrompts,
  resolveAnswerFormat,
  checkAnswer,
  DROP_REASONS,
  DEFAULT_JUDGE_RUBRIC,
  type DistillOptions,
  type DistillReport,
  type DistillEstimate,
  type DistillProgress,
  type DropReason,
  type DroppedPrompt,
  type CallStats,
  type DistillPrompt,
  type PromptFileFormat,
  type AnswerFormat,
} from "./distill/index.js";
export { checkJsonSchema, type SchemaCheck } from "./shape/json-schema.js";
export { renderHtml, type HtmlOptions } from "./report/html.js";
export { renderMarkdown } from "./report/markdown.js";
export { renderTerminal } from "./report/terminal.js";
export { writeReport } from "./report/write.js";
export { computeStats, type StatsReport, type StatsOptions } from "./dataset/analysis/stats-file.js";
export { splitFile, type SplitOptions, type SplitReport } from "./dataset/split.js";
export { findLeakage, type LeakageReport, type LeakagePair, type LeakageOptions } from "./dataset/leakage.js";
export { adviseFile, type AdviceReport, type AdviseOptions, type Recommendation } from "./advise/advise.js";
// Engine core: graph builder, autodiff, the model families and their training/inference on ONNX Runtime
export {
  createTrainStep,
  createInferenceModel,
  type EngineOptions,
  type TrainBatch,
  type TrainStep,
  type TrainStepResult,
  type InferenceModel,
  type KvCache,
} from "./engine/models/causal-lm.js";
export {
  mergeLora,
  loraWeights,
  loraParamShapes,
  loraScaling,
  loraSites,
  resolveLoraTargets,
  peftTensorName,
  parseLoraTensorName,
  type LoraSpec,
  type LoraTarget,
  type LoraWeights,
  type LoraSite,
} from "./engine/models/lora.js";
export { FAMILIES, REFUSED_FAMILIES, familyFor, familyOf } from "./engine/models/families/index.js";
export type { ModelFamily, RefusedFamily, GgufNames } from "./engine/models/family.js";
export type { ModelConfig, LayerSpec, RopeSpec, TensorRole, LinearRole, LoraModuleSpec, Tensor } from "./engine/types.js";
export { Graph, type Value } from "./engine/graph/graph.js";
export { gradients } from "./engine/graph/autodiff.js";
export type { RuntimeOptions } from "./engine/runtime/session.js";
// Local LoRA training and export (engine/train, export).
export { train, resumeTraining, type TrainRequest, type TrainResult, type TrainRunEvent, type TrainCallbacks } from "./engine/train/train-run.js";
export { DEFAULT_TRAIN_OPTIONS } from "./engine/train/defaults.js";
export type { TrainOptions, TrainEvent } from "./engine/train/loop.js";
export type { TrainStepEngine } from "./engine/train/engine.js";
export { readRunRecord, type RunRecord } from "./engine/train/run-dir.js";
export { exportMerged, type MergedExport } from "./export/merged.js";
export { exportOllama, ollamaModelName, type OllamaExport } from "./export/ollama.js";
export { ollamaTemplateFor, modelfileText, type OllamaTemplate, type OllamaFormat } from "./export/ollama-template.js";
export { exportGguf, exportGgufAdapter, type GgufSource, type GgufExportOptions, type GgufExportResult, type GgufAdapterResult } from "./export/gguf/export.js";
export { GGUF_DTYPES, type GgufDtype } from "./export/gguf/tensors.js";
// GGUF files run by llama.cpp (node-llama-cpp, an optional peer dependency loaded on first use).
export { GgufGenerator, type GgufGeneratorOptions } from "./llamacpp/generator.js";
