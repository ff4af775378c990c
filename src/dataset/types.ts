/**
 * The canonical in-memory example: an OpenAI chat example (chat/types.ts) plus where it came from.
 * Every reader converts to this; every error and warning points at `line`.
 */
import type { ChatExample } from "../chat/types.js";

export { contentText, type ChatExample, type ChatMessage, type ContentPart, type Role, type TextContentPart, type ToolCall } from "../chat/types.js";

export type DatasetFormat = "openai-chat" | "prompt-completion" | "alpaca" | "sharegpt" | "text" | "csv";

/** An example with its provenance. */
export interface SourcedExample {
  example: ChatExample;
  /** Path as given by the user. */
  file: string;
  /** 1-based physical line where the record starts (for JSON array files: where the element starts). */
  line: number;
  /** 0-based index among the file's records. */
  index: number;
  /** The format this record was read as. */
  format: DatasetFormat;
}

export type Severity = "error" | "warning";

/** One finding about a dataset; `code` values are stable and documented in docs/json.md. */
export interface DatasetIssue {
  line: number;
  code: string;
  message: string;
  severity: Severity;
  /** Optional extra data, e.g. the fact-injection spans or the line of the duplicate. */
  details?: Record<string, unknown>;
}
