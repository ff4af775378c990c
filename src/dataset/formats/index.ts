/**
 * One entry point for every JSON record format: detect (done by the caller), map to OpenAI chat, check.
 */
import { checkOpenAIChat } from "./openai-chat.js";
import { convertShareGPT } from "./sharegpt.js";
import { convertAlpaca, convertPromptCompletion, convertText } from "./simple.js";
import type { Candidate } from "./candidate.js";
import { describe, isPlainObject, issue, type RecordResult } from "./types.js";
import type { DatasetFormat } from "../types.js";

export { detectRecordFormat, type JsonRecordFormat } from "./detect.js";
export type { RecordResult, ConversionNote } from "./types.js";

const EXPECTED: Record<DatasetFormat, string> = {
  "openai-chat": `"messages"`,
  sharegpt: `"conversations"`,
  alpaca: `"instruction" and "output"`,
  "prompt-completion": `"prompt" and "completion"`,
  text: `"text"`,
  csv: "columns",
};

/** The formats converted to an OpenAI chat candidate first (OpenAI chat is checked as it is). */
const CONVERTERS: Partial<Record<DatasetFormat, (value: Record<string, unknown>, line: number) => Candidate>> = {
  sharegpt: convertShareGPT,
  alpaca: convertAlpaca,
  "prompt-completion": convertPromptCompletion,
  text: convertText,
};

/** Maps one parsed record in `format` to a checked ChatExample (absent when the record has errors). */
export function recordToExample(value: unknown, format: DatasetFormat, line: number): RecordResult {
  if (format === "openai-chat") return checkOpenAIChat(value, line);
  if (!isPlainObject(value)) {
    return { issues: [issue(line, "not_an_object", `expected a JSON object with ${EXPECTED[format]}, got ${describe(value)}`)], notes: [] };
  }
  const convert = CONVERTERS[format];
  if (!convert) throw new Error(`recordToExample: ${format} records are not JSON`);
  return finishCandidate(convert(value, line), format, line);
}

/** Runs the OpenAI checks on a converted candidate, saying that the problem is in the converted form. */
export function finishCandidate(c: Candidate, format: DatasetFormat, line: number): RecordResult {
  if (c.issues.length > 0 || !c.candidate) return { issues: c.issues, notes: c.notes };
  const r = checkOpenAIChat(c.candidate, line);
  return {
    ...(r.example ? { example: r.example } : {}),
    issues: r.issues.map((i) => ({ ...i, message: `${i.message} (after conversion from ${format})` })),
    notes: c.notes,
  };
}
