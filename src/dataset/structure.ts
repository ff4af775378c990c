/**
 * Structural warnings about a valid chat example: things OpenAI accepts but that usually mean a
 * mistake in how the data was built (the same checks OpenAI's cookbook runs before a fine-tune).
 */
import type { ChatExample, DatasetFormat, DatasetIssue } from "./types.js";
import { issue } from "./formats/types.js";

/**
 * `missing_system` is only raised for formats where the author writes whole conversations (OpenAI chat,
 * ShareGPT); in Alpaca, prompt/completion, text and CSV data a system prompt is not part of the format.
 */
export function structureWarnings(ex: ChatExample, format: DatasetFormat, line: number): DatasetIssue[] {
  const out: DatasetIssue[] = [];
  const w = (code: string, message: string) => out.push(issue(line, code, message, "warning"));
  const msgs = ex.messages;
  if (format === "text") return out;
  const isSystem = (r: string) => r === "system" || r === "developer";
  if ((format === "openai-chat" || format === "sharegpt") && !msgs.some((m) => isSystem(m.role))) {
    w("missing_system", "no system message: the model learns behaviour without the instructions it will run with");
  }
  if (!msgs.some((m) => m.role === "user")) w("missing_user", "no user message");
  const firstNonSystem = msgs.findIndex((m) => !isSystem(m.role));
  for (let i = 1; i < msgs.length; i++) {
    const a = msgs[i - 1].role;
    const b = msgs[i].role;
    // Tool results come in runs; a block of system messages before the conversation is a way to write
    // instructions. Two system messages once the conversation has started are a mistake like any other.
    if (a === b && a !== "tool" && (!isSystem(a) || (firstNonSystem >= 0 && i - 1 > firstNonSystem))) {
      w("consecutive_same_role", `messages ${i} and ${i + 1} are both ${b}`);
      break;
    }
  }
  if (firstNonSystem >= 0 && msgs.slice(firstNonSystem).some((m) => isSystem(m.role))) {
    w("system_not_first", "a system message appears after the conversation started");
  }
  if (msgs.length > 0 && msgs[msgs.length - 1].role === "user") {
    w("ends_with_user", "the last message is from the user: it is not trained on");
  }
  return out;
}
