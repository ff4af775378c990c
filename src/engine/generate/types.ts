/**
 * What generation needs from a model: start a sequence from prompt ids (prefill, returning the
 * next-token logits) and extend it one token at a time through its KV cache. The ONNX Runtime model
 * (models/llama.ts) and the plain-JS reference decoder (js-decoder.ts) both provide it.
 */
import type { ModelConfig } from "../types.js";

export interface DecoderSequence {
  /** Tokens the sequence holds so far (prompt + generated). */
  readonly length: number;
  /** Appends one token; returns the logits [vocab] for the token after it. */
  next(id: number): Promise<Float32Array>;
  /** Frees the KV cache. */
  release(): void;
}

export interface DecoderModel {
  readonly config: ModelConfig;
  /** Longest sequence (prompt + generated) the model can hold. */
  readonly maxContext: number;
  /** Processes `ids` as a new sequence; returns the logits [vocab] for the next token and the sequence. */
  prefill(ids: number[]): Promise<{ logits: Float32Array; seq: DecoderSequence }>;
  dispose?(): Promise<void> | void;
}
