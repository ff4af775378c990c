/**
 * Held-out examples as evaluation items: the conversation up to the last assistant reply is the
 * prompt, that reply is the reference. Read through the dataset reader, so every format it accepts
 * works and every problem points at a line.
 */
import { readDataset } from "../dataset/reader.js";
import { contentText, type ChatExample, type ChatMessage } from "../dataset/types.js";
import { TunekitError } from "../util/errors.js";

export interface EvalItem {
  /** "line 12" style id, unique within the file. */
  id: string;
  line?: number;
  prompt: ChatMessage[];
  reference: string;
}

export function itemFromExample(ex: ChatExample, id: string, line?: number): EvalItem | undefined {
  let last = -1;
  for (let i = ex.messages.length - 1; i >= 0; i--) {
    if (ex.messages[i].role === "assistant" && !ex.messages[i].tool_calls?.length) {
      last = i;
      break;
    }
  }
  if (last <= 0) return undefined;
  return { id, ...(line !== undefined ? { line } : {}), prompt: ex.messages.slice(0, last), reference: contentText(ex.messages[last].content) };
}

export async function readEvalItems(file: string, options: { limit?: number } = {}): Promise<EvalItem[]> {
  const items: EvalItem[] = [];
  for await (const rec of readDataset(file)) {
    const err = rec.issues.find((i) => i.severity === "error");
    if (err) {
      throw new TunekitError("bad_eval_data", `${err.message}`, {
        file,
        line: err.line,
        exitCode: 1,
        hint: `run \`tunekit validate ${file}\` to see every problem`,
      });
    }
    if (!rec.example) continue;
    const item = itemFromExample(rec.example.example, `line ${rec.line}`, rec.line);
    if (!item) {
      throw new TunekitError("no_reference", "this example has no assistant reply after a prompt to compare against", {
        file,
        line: rec.line,
        exitCode: 1,
        hint: "every held-out example needs a user message followed by the expected assistant reply",
      });
    }
    items.push(item);
    if (options.limit !== undefined && items.length >= options.limit) break;
  }
  if (items.length === 0) {
    throw new TunekitError("empty_eval_data", `${file} has no examples`, { file, exitCode: 1 });
  }
  return items;
}

/** The prompt a model sees: its own system prompt (when it has one) replaces the example's. */
export function promptFor(item: EvalItem, system: string | undefined): ChatMessage[] {
  if (system === undefined) return item.prompt;
  return [{ role: "system", content: system }, ...item.prompt.filter((m) => m.role !== "system" && m.role !== "developer")];
}

/** The last user message's text, for judges and side-by-side views. */
export function questionOf(item: EvalItem): string {
  for (let i = item.prompt.length - 1; i >= 0; i--) if (item.prompt[i].role === "user") return contentText(item.prompt[i].content);
  return "";
}

/** The prompt with `context` (e.g. retrieved documents) put before the last user message's text. */
export function withContext(prompt: ChatMessage[], context: string): ChatMessage[] {
  if (!context) return prompt;
  let i = prompt.length - 1;
  while (i >= 0 && prompt[i].role !== "user") i--;
  if (i < 0) return [...prompt, { role: "user", content: context }];
  const out = [...prompt];
  out[i] = { ...out[i], content: `${context}\n${contentText(out[i].content)}` };
  return out;
}
