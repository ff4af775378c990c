/**
 * tunekit's library API. Everything the CLI does is available from here with types; the CLI is a thin
 * layer over these functions.
 */
export { TunekitError, EXIT, isTunekitError } from "./util/errors.js";
export { writeFileAtomic, withAtomicWriter, AtomicWriter } from "./util/fs.js";
export { VERSION } from "./version.js";
export * from "./tokenize/index.js";
export { readDataset, DatasetReader, type ReadOptions, type DatasetRecord } from "./dataset/reader.js";
export { validateFile, type ValidateOptions, type ValidationReport, type ReportIssue, type DatasetAnalysis } from "./dataset/validate.js";
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
  trainingPricePerMTok,
  TRAINING_PRICES_PER_MTOK,
  PRICES_AS_OF,
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
