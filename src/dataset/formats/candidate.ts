/**
 * Non-OpenAI formats convert in two steps: a format-specific mapping to an OpenAI-shaped object (the
 * candidate), then the same strict OpenAI checks every chat record gets. So every format reports the
 * same error codes for the same problems.
 */
import type { DatasetIssue } from "../types.js";
import type { ConversionNote } from "./types.js";

export interface Candidate {
  /** The OpenAI-shaped object, absent when the mapping itself failed. */
  candidate?: Record<string, unknown>;
  issues: DatasetIssue[];
  notes: ConversionNote[];
}
