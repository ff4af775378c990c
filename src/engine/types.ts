/** Plain data types shared across the engine: float32 tensors and the normalised model config. */

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type Architecture = "llama" | "mistral" | "qwen2";

/** A Hugging Face config.json reduced to what a Llama-family decoder needs. */
export interface ModelConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** llama3 rope scaling, when present. */
  ropeScaling?: { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2). */
  attentionBias: boolean;
  /** Mistral sliding window, if any (positions farther back are not attended). */
  slidingWindow?: number;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  /** The raw config.json, kept for export. */
  raw: Record<string, unknown>;
}
