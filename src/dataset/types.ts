/**
 * The canonical in-memory example: an OpenAI chat example plus where it came from. Every reader
 * converts to this; every error and warning points at `line`.
 */

export type Role = "system" | "developer" | "user" | "assistant" | "tool";

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** OpenAI content parts are accepted for text; other part types are kept as-is. */
export interface TextContentPart {
  type: "text";
  text: string;
}
export type ContentPart = TextContentPart | { type: string; [k: string]: unknown };

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  /** Assistant messages only: 0 = not trained on, 1 = trained on (default). */
  weight?: 0 | 1;
}

export interface ChatExample {
  messages: ChatMessage[];
  tools?: unknown[];
  parallel_tool_calls?: boolean;
}

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

/** Text of a message's content (text parts joined), "" for null. */
export function contentText(content: ChatMessage["content"]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((p) => (p.type === "text" && typeof (p as TextContentPart).text === "string" ? (p as TextContentPart).text : ""))
    .join("");
}
