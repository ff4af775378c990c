/**
 * Checks before any upload or spend: the dataset is validated locally (refused when it has errors or is
 * not OpenAI chat JSONL, the format hosted fine-tuning takes), tokens are counted with the model's
 * tokenizer and capped at its per-example limit, and the billed tokens and cost are estimated
 * (epochs x tokens; OpenAI's default epoch rule when epochs are "auto").
 */
import { validateFile, type ValidationReport } from "../dataset/validate/index.js";
import { readDataset } from "../dataset/reader.js";
import { estimateHostedCost, type HostedCost } from "../dataset/analysis/cost.js";
import { countChatTokens } from "../tokenize/chatTokens.js";
import { getOpenAiTokenizer, openAiEncodingForModel } from "../tokenize/openai.js";
import { fineTuneTokenLimit } from "../tokenize/limits.js";

export interface FileCheck {
  file: string;
  report: ValidationReport;
  examples: number;
  /** Sum of per-example tokens, each capped at the model's limit. */
  tokens: number;
  /** Examples longer than the model's per-example limit (the provider truncates them). */
  overLimit: number;
  tokenLimit?: number;
  /** False when the model's own tokenizer is unknown and o200k_base was used instead. */
  exactTokens: boolean;
}

export interface Preflight {
  training: FileCheck;
  validation?: FileCheck;
  estimate: HostedCost;
  /** Problems that must stop the job (errors, wrong format, too few examples). */
  blocking: string[];
}

async function checkFile(file: string, model: string): Promise<FileCheck> {
  const encoding = openAiEncodingForModel(model);
  const exact = encoding !== undefined;
  // The validator counts tokens (and checks limits) only for models it has a tokenizer for.
  const report = await validateFile(file, exact ? { model } : {});
  const tok = getOpenAiTokenizer(encoding ?? "o200k_base");
  const limit = exact ? fineTuneTokenLimit(model) : undefined;
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
  model: string;
  epochs?: number | "auto";
  minExamples?: number;
}): Promise<Preflight> {
  const training = await checkFile(args.trainingFile, args.model);
  const validation = args.validationFile ? await checkFile(args.validationFile, args.model) : undefined;
  const blocking: string[] = [];
  for (const c of [training, validation]) {
    if (!c) continue;
    if (c.report.errorCount > 0) blocking.push(`${c.file} has ${c.report.errorCount} error${c.report.errorCount === 1 ? "" : "s"}`);
    else if (c.report.format !== "openai-chat") blocking.push(`${c.file} is ${c.report.format}, not OpenAI chat JSONL (convert it with \`tunekit convert\`)`);
  }
  if (training.report.errorCount === 0 && args.minExamples !== undefined && training.examples < args.minExamples) {
    blocking.push(`${training.file} has ${training.examples} examples; at least ${args.minExamples} are required`);
  }
  const estimate = estimateHostedCost({
    examples: training.examples,
    datasetTokens: training.tokens,
    model: args.model,
    ...(typeof args.epochs === "number" ? { epochs: args.epochs } : {}),
  });
  return { training, ...(validation ? { validation } : {}), estimate, blocking };
}
