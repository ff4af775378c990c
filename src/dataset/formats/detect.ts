/**
 * Which dataset format one JSON record is in, from its keys. Detection is per record so a file that
 * mixes formats can be reported line by line.
 */
import type { DatasetFormat } from "../types.js";
import { isPlainObject } from "./types.js";

/** The JSON (not CSV) formats, in detection order. */
export type JsonRecordFormat = Exclude<DatasetFormat, "csv">;

/** The record's format, or undefined when its keys match none (it is then checked as the file's format). */
export function detectRecordFormat(value: unknown): JsonRecordFormat | undefined {
  if (!isPlainObject(value)) return undefined;
  if ("messages" in value) return "openai-chat";
  if ("conversations" in value) return "sharegpt";
  if ("instruction" in value && ("output" in value || "input" in value)) return "alpaca";
  if ("prompt" in value && "completion" in value) return "prompt-completion";
  if ("text" in value && typeof value.text === "string") return "text";
  return undefined;
}
