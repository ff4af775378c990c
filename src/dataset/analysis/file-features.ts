/**
 * Reads a dataset file (through the dataset reader) into the compact per-example columns that
 * split and leakage need: line, hashes, reply shape signature and MinHash signature. Keeps the first
 * errors so callers can refuse a broken file with a precise message.
 */
import { readDataset, type ReadOptions } from "../reader.js";
import type { DatasetFormat, DatasetIssue } from "../types.js";
import { extractFeatures } from "./features.js";
import { SignatureStore } from "./near-duplicates.js";

export interface FileFeatures {
  file: string;
  format: DatasetFormat;
  /** Bytes of the file (for progress). */
  bytes: number;
  lines: number[];
  exact: number[];
  prompt: number[];
  shapes: string[];
  signatures: SignatureStore;
  /** Records with errors (at most the first 20 are kept) and their count. */
  errors: DatasetIssue[];
  errorCount: number;
}

export interface ReadFeaturesOptions extends ReadOptions {
  onProgress?: (p: { bytesRead: number; totalBytes: number; examples: number }) => void;
}

export async function readFileFeatures(file: string, options: ReadFeaturesOptions = {}): Promise<FileFeatures> {
  const reader = readDataset(file, options);
  const out: FileFeatures = {
    file,
    format: "openai-chat",
    bytes: 0,
    lines: [],
    exact: [],
    prompt: [],
    shapes: [],
    signatures: new SignatureStore(),
    errors: [],
    errorCount: 0,
  };
  for await (const batch of reader.batches()) {
    for (const r of batch) {
      const errs = r.issues.filter((i) => i.severity === "error");
      if (errs.length > 0) {
        out.errorCount++;
        if (out.errors.length < 20) out.errors.push(errs[0]);
      }
      if (!r.example) continue;
      const f = extractFeatures(r.example, { similarityOnly: true });
      out.lines.push(f.line);
      out.exact.push(f.exactHash);
      out.prompt.push(f.promptHash);
      out.shapes.push(f.shape);
      out.signatures.push(f.minhash, f.promptShingles, f.replyShingles);
    }
    options.onProgress?.({ bytesRead: reader.bytesRead, totalBytes: reader.totalBytes, examples: out.lines.length });
  }
  out.format = reader.format ?? "openai-chat";
  out.bytes = reader.totalBytes;
  return out;
}
