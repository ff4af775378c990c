/**
 * The flat formats: Alpaca (`instruction`, `input`, `output`, optional `system` and `history`), legacy
 * OpenAI `{"prompt","completion"}`, and plain `{"text"}`.
 *
 * `{"text"}` becomes a single assistant message holding the whole text: every token of it is trained
 * on, which is what text data means. Readers keep `format: "text"` on the SourcedExample so the local
 * trainer can train on the raw text without wrapping it in a chat template.
 */
import type { DatasetIssue } from "../types.js";
import { describe, issue, type ConversionNote } from "./types.js";
import type { Candidate } from "./candidate.js";

type Err = (code: string, message: string) => void;

function dropExtra(value: Record<string, unknown>, known: string[], notes: ConversionNote[]): void {
  for (const k of Object.keys(value)) {
    if (!known.includes(k)) notes.push({ code: "dropped_field", message: `field "${k}" dropped` });
  }
}

/** A required (or optional) string field; reports a missing key or a wrong type. */
function stringField(value: Record<string, unknown>, key: string, err: Err, required: boolean): string | undefined {
  const v = value[key];
  if (v === undefined || v === null) {
    if (required) err("message_missing_key", `the record has no "${key}"`);
    return undefined;
  }
  if (typeof v !== "string") {
    err("invalid_content", `"${key}" must be a string, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function convertAlpaca(value: Record<string, unknown>, line: number): Candidate {
  const issues: DatasetIssue[] = [];
  const notes: ConversionNote[] = [];
  const err: Err = (code, message) => issues.push(issue(line, code, message));
  dropExtra(value, ["instruction", "input", "output", "system", "history"], notes);
  const instruction = stringField(value, "instruction", err, true);
  const input = stringField(value, "input", err, false);
  const output = stringField(value, "output", err, true);
  const system = stringField(value, "system", err, false);
  if (output !== undefined && output.trim() === "") err("missing_content", `"output" is empty: there is nothing to train on`);
  if (instruction !== undefined && instruction.trim() === "" && (input ?? "").trim() === "") {
    err("missing_content", `"instruction" and "input" are both empty`);
  }
  const messages: Record<string, unknown>[] = [];
  if (system !== undefined && system.trim() !== "") messages.push({ role: "system", content: system });
  const history = value.history;
  if (history !== undefined && history !== null) {
    if (!Array.isArray(history)) err("invalid_content", `"history" must be a list of [instruction, response] pairs, got ${describe(history)}`);
    else
      history.forEach((pair, i) => {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
          err("invalid_content", `history[${i}] must be a pair of strings [instruction, response]`);
          return;
        }
        messages.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] });
      });
  }
  if (issues.length > 0) return { issues, notes };
  // Same joining as LLaMA-Factory: the input follows the instruction on a new line.
  const user = input && input.trim() !== "" ? (instruction ? `${instruction}\n${input}` : input) : instruction!;
  messages.push({ role: "user", content: user }, { role: "assistant", content: output });
  return { candidate: { messages }, issues, notes };
}

export function convertPromptCompletion(value: Record<string, unknown>, line: number): Candidate {
  const issues: DatasetIssue[] = [];
  const notes: ConversionNote[] = [];
  const err: Err = (code, message) => issues.push(issue(line, code, message));
  dropExtra(value, ["prompt", "completion"], notes);
  const prompt = stringField(value, "prompt", err, true);
  const completion = stringField(value, "completion", err, true);
  if (completion !== undefined && completion.trim() === "") err("missing_content", `"completion" is empty: there is nothing to train on`);
  if (prompt !== undefined && prompt.trim() === "") err("missing_content", `"prompt" is empty`);
  if (issues.length > 0) return { issues, notes };
  return { candidate: { messages: [{ role: "user", content: prompt }, { role: "assistant", content: completion }] }, issues, notes };
}

export function convertText(value: Record<string, unknown>, line: number): Candidate {
  const issues: DatasetIssue[] = [];
  const notes: ConversionNote[] = [];
  const err: Err = (code, message) => issues.push(issue(line, code, message));
  dropExtra(value, ["text"], notes);
  const text = stringField(value, "text", err, true);
  if (text !== undefined && text.trim() === "") err("missing_content", `"text" is empty`);
  if (issues.length > 0) return { issues, notes };
  return { candidate: { messages: [{ role: "assistant", content: text }] }, issues, notes };
}
