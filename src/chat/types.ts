/**
 * Chat messages and examples in OpenAI's chat format: the shape every layer shares. Dataset readers
 * convert every format to it, tokenizers and chat templates render it, the engine and the evaluation
 * generate from it.
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

/** Text of a message's content (text parts joined), "" for null. */
export function contentText(content: ChatMessage["content"]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((p) => (p.type === "text" && typeof (p as TextContentPart).text === "string" ? (p as TextContentPart).text : ""))
    .join("");
}
