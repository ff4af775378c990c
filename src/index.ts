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
