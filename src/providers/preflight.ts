/**
 * Checks before any upload or spend: preference (DPO) data is refused with a pointer, the dataset is
 * validated locally (refused when it has errors or is not OpenAI chat JSONL, the format hosted
 * fine-tuning takes), tokens are counted with the model's tokenizer where tunekit has it (o200k_base
 * otherwise, flagged as approximate) and capped at the per-example limit, and the billed tokens and
 * cost are estimated at the provider's price from the catalog.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { validateFile, type ValidationReport } from "../dataset/validate/index.js";
import { readDataset } from "../dataset/reader.js";
import { estimateHostedCost, type HostedCost } from "../dataset/analysis/cost.js";
import { countChatTokens } from "../tokenize/chatTokens.js";
import { getOpenAiTokenizer, openAiEncodingForModel } from "../tokenize/openai.js";
import { DEFAULT_EXAMPLE_TOKEN_LIMIT, fineTuneTokenLimit } from "../tokenize/limits.js";
import { trainingPrice } from "./catalog.js";

export interface FileCheck {
  file: string;
  report: ValidationReport;
  examples: number;
  /** Sum of per-example tokens, each capped at the limit. */
  tokens: number;
  /** Examples longer than the per-example limit (the provider truncates them). */
  overLimit: number;
  tokenLimit?: number;
  /** False when the model's own tokenizer is unknown and o200k_base was used instead. */
  exactTokens: boolean;
}

export interface Preflight {
  training: FileCheck;
  validation?: FileCheck;
  estimate: HostedCost;
  /** Where the price came from, when one is known. */
  priceSource?: string;
  /** Problems that must stop the job (errors, wrong format, too few examples, preference data). */
  blocking: string[];
  /** True when a file is preference (DPO) data (its validation errors say nothing useful then). */
  preference: boolean;
}

/**
 * True when the file's first record is preference data (OpenAI's DPO shape `input` /
 * `preferred_output` / `non_preferred_output`, or `chosen` / `rejected` pairs), which supervised
 * fine-tuning cannot take.
 */
export async function isPreferenceData(file: string): Promise<boolean> {
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8", end: 1 << 20 }), crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as Record<string, unknown>;
        return v !== null && typeof v === "object" && (("preferred_output" in v && "non_preferred_output" in v) || ("chosen" in v && "rejected" in v));
      } catch {
        return false;
      }
    }
    return false;
  } catch {
    return false; // unreadable: validation says why
  } finally {
    rl.close();
  }
}

export const PREFERENCE_DATA_POINTER =
  "is preference (DPO) data: tunekit fine-tunes with supervised examples only until preference tuning exists. Keep the preferred reply of each pair as the assistant message (OpenAI chat JSONL) to train on it, or run the DPO job in the provider's own tools";

async function checkFile(file: string, model: string): Promise<FileCheck> {
  const encoding = openAiEncodingForModel(model);
  const exact = encoding !== undefined;
  // OpenAI models: their tokenizer and limit; other hosted models: o200k_base and the default limit.
  const limit = exact ? fineTuneTokenLimit(model) : DEFAULT_EXAMPLE_TOKEN_LIMIT;
  const report = await validateFile(file, exact ? { model } : { model: "o200k_base", ...(limit !== undefined ? { tokenLimit: limit } : {}) });
  const tok = getOpenAiTokenizer(encoding ?? "o200k_base");
  let tokens = 0;
  let examples = 0;
  let overLimit = 0;
  if (report.errorCount === 0) {
    for await (const batch of readDataset(file).batches()) {
      for (const r of batch) {
        if (!r.example) continue;
        examples++;
        const n = countChatTokens(r.example.example, tok);
        if (limit !== undefined && n > limit) overLimit++;
        tokens += limit !== undefined ? Math.min(n, limit) : n;
      }
    }
  }
  return { file, report, examples, tokens, overLimit, ...(limit !== undefined ? { tokenLimit: limit } : {}), exactTokens: exact };
}

export async function preflightHostedData(args: {
  trainingFile: string;
  validationFile?: string;
  /** The provider whose price applies (default openai). */
  provider?: string;
  model: string;
  epochs?: number | "auto";
  minExamples?: number;
}): Promise<Preflight> {
  const blocking: string[] = [];
  for (const f of [args.trainingFile, args.validationFile]) {
    if (f && (await isPreferenceData(f))) blocking.push(`${f} ${PREFERENCE_DATA_POINTER}`);
  }
  const preference = blocking.length > 0;
  const training = await checkFile(args.trainingFile, args.model);
  const validation = args.validationFile ? await checkFile(args.validationFile, args.model) : undefined;
  if (blocking.length === 0) {
    for (const c of [training, validation]) {
      if (!c) continue;
      if (c.report.errorCount > 0) blocking.push(`${c.file} has ${c.report.errorCount} error${c.report.errorCount === 1 ? "" : "s"}`);
      else if (c.report.format !== "openai-chat") blocking.push(`${c.file} is ${c.report.format}, not OpenAI chat JSONL (convert it with \`tunekit convert\`)`);
    }
  }
  if (blocking.length === 0 && args.minExamples !== undefined && training.examples < args.minExamples) {
    blocking.push(`${training.file} has ${training.examples} examples; at least ${args.minExamples} are required`);
  }
  const price = trainingPrice(args.provider ?? "openai", args.model);
  const estimate = estimateHostedCost({
    examples: training.examples,
    datasetTokens: training.tokens,
    model: args.model,
    ...(typeof args.epochs === "number" ? { epochs: args.epochs } : {}),
    ...(price ? { pricePerMTok: price.perMTok, pricesAsOf: price.asOf } : {}),
  });
  return { training, ...(validation ? { validation } : {}), estimate, ...(price ? { priceSource: `${price.covers}, ${price.source}` } : {}), blocking, preference };
}
