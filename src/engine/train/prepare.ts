/**
 * Data for a training run: validate the files first (refuse on errors, never train on a broken
 * dataset), read the examples, hold some out (a --validation file or a leak-free --test-split),
 * tokenize with assistant-only masks, cut to --max-seq-len without ever dropping a reply silently,
 * and refuse a dataset that leaves nothing to learn (an all-zero mask).
 */
import { validateFile, type ValidationReport } from "../../dataset/validate/index.js";
import { readDataset } from "../../dataset/reader.js";
import type { SourcedExample } from "../../dataset/types.js";
import { TunekitError } from "../../util/errors.js";
import { trainedTargets, truncateExamples, type TokenizedExample, type TruncationReport } from "./batches.js";

/** Validates `file` and throws a TunekitError (exit 1) naming the first errors when it has any. */
export async function requireValidDataset(file: string, what = "dataset"): Promise<ValidationReport> {
  const report = await validateFile(file, { analysis: false });
  if (report.errorCount > 0) {
    const first = report.errors.slice(0, 5).map((e) => `  line ${e.line}: ${e.message} [${e.code}]`);
    throw new TunekitError(
      "invalid_dataset",
      `the ${what} ${file} has ${report.errorCount} error${report.errorCount === 1 ? "" : "s"}; refusing to train on it:\n${first.join("\n")}`,
      { file, line: report.errors[0]?.line, hint: `run \`tunekit validate ${file}\` for the full list, fix them, then train`, exitCode: 1 },
    );
  }
  if (report.examples === 0) {
    throw new TunekitError("empty_dataset", `the ${what} ${file} has no examples`, { file, hint: "pass a JSONL file of chat examples", exitCode: 1 });
  }
  return report;
}

/** All valid examples of a file, in file order. */
export async function readExamples(file: string): Promise<SourcedExample[]> {
  const out: SourcedExample[] = [];
  for await (const batch of readDataset(file).batches()) for (const r of batch) if (r.example) out.push(r.example);
  return out;
}

/** Tokenizes one chat example for training (assistant-only loss mask aligned with ids). */
export type ExampleTokenizer = (example: SourcedExample) => TokenizedExample;

export interface PreparedSet {
  examples: TokenizedExample[];
  truncation: TruncationReport;
  /** Assistant target tokens in total. */
  targetTokens: number;
  /** Where the examples are whose system prompt the chat template drops. */
  systemDropped: { file: string; line: number }[];
}

/**
 * Tokenizes and truncates a set. Refuses (exit 1) when no assistant token is left to learn from, which
 * catches all-`weight: 0` datasets and templates that lose the assistant spans.
 */
export function prepareSet(examples: SourcedExample[], tokenize: ExampleTokenizer, maxSeqLen: number, what: string, file: string): PreparedSet {
  const tokenized = examples.map((ex) => ({ ...tokenize(ex), line: ex.line }));
  const { kept, report } = truncateExamples(tokenized, maxSeqLen);
  const targetTokens = kept.reduce((s, ex) => s + trainedTargets(ex.lossMask), 0);
  if (targetTokens === 0) {
    throw new TunekitError(
      "empty_loss_mask",
      report.skipped > 0
        ? `every assistant reply in the ${what} is past --max-seq-len ${maxSeqLen}: nothing would be learned`
        : `the ${what} has no assistant tokens to train on (every assistant message has weight 0, or there are none): nothing would be learned`,
      { file, hint: report.skipped > 0 ? "raise --max-seq-len" : "give assistant messages weight 1 (or drop the weight field)", exitCode: 1 },
    );
  }
  const systemDropped = examples.filter((_, i) => tokenized[i].systemDropped).map((ex) => ({ file: ex.file, line: ex.line }));
  return { examples: kept, truncation: report, targetTokens, systemDropped };
}
