/**
 * What generation needs from a model: process a batch of prompts (prefill, returning each row's
 * next-token logits) and extend every row by one token at a time through a KV cache. The ONNX Runtime
 * model (backend.ts over models/causal-lm.ts) and the plain-JS reference decoder (js-decoder.ts) provide it.
 */
import type { ModelConfig } from "../types.js";

export interface DecoderBatch {
  /** Positions the batch's cache holds (the longest row, including any padding). */
  readonly length: number;
  /** Appends one token per row; returns each row's logits [vocab] for the token after it. */
  next(tokens: number[]): Promise<Float32Array[]>;
  /** Frees the KV cache. */
  release(): void;
}

export interface DecoderModel {
  readonly config: ModelConfig;
  /** Longest sequence (prompt + generated, padding included) the model can hold. */
  readonly maxContext: number;
  /** Processes prompts (rows may differ in length); returns each row's next-token logits [vocab]. */
  start(rows: number[][]): Promise<{ logits: Float32Array[]; batch: DecoderBatch }>;
  dispose?(): Promise<void> | void;
}
