/**
 * Plain data types shared across the engine: float32 tensors and the decoder description a model
 * family (models/families/) reads from config.json and the shared runtime (models/causal-lm.ts,
 * models/decoder.ts, generate/js-decoder.ts) builds from.
 */
import type { QuantizedMatrix } from "./quant/blockwise.js";

export interface Tensor {
  shape: number[];
  /** The values; empty when the tensor is quantized. */
  data: Float32Array;
  /**
   * A frozen weight kept block-quantized (quant/base.ts): W, and W^T for training's backward product
   * (a linear layer's whole; a training LM head's per vocabulary chunk, `chunksT`).
   */
  quantized?: { w: QuantizedMatrix; wt?: QuantizedMatrix; chunksT?: QuantizedMatrix[] };
  /** A quantized weight whose codes were handed to ONNX Runtime's sessions and dropped here (EngineOptions.handOverQuantizedCodes). */
  released?: true;
}

/** Rotary embedding of one layer (HF "rotate_half" layout). */
export interface RopeSpec {
  /** The base ("rope_theta"). */
  theta: number;
  /** Frequency scaling: llama3's smooth per-band scaling, or "linear" (positions divided by factor). */
  scaling?:
    | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number }
    | { type: "linear"; factor: number };
}

/** What differs between the layers of one model. */
export interface LayerSpec {
  /** The layer's rotary embedding; undefined: the layer has no position embedding (SmolLM3's NoPE layers). */
  rope?: RopeSpec;
  /** Sliding-window attention: query q sees key k only when q - k < slidingWindow. */
  slidingWindow?: number;
  /** The layer's token mixer: softmax attention (default) or Gated DeltaNet linear attention (Qwen3.5). */
  mixer?: "attention" | "linear_attention";
}

/** Gated DeltaNet layers' sizes (Qwen3.5's linear_* config fields). */
export interface LinearAttentionSpec {
  numKeyHeads: number;
  numValueHeads: number;
  keyHeadDim: number;
  valueHeadDim: number;
  /** Length of the causal depthwise convolution over q/k/v. */
  convKernel: number;
}

/**
 * Every tensor a decoder can have, by the job it does. The runtime knows each role's shape and use;
 * a family names them (`ModelConfig.tensorNames`), which is all that differs between checkpoints.
 */
export type TensorRole =
  | "embed"
  | "finalNorm"
  | "lmHead"
  | "attnNorm"
  | "q"
  | "k"
  | "v"
  | "o"
  | "qBias"
  | "kBias"
  | "vBias"
  | "oBias"
  | "qNorm"
  | "kNorm"
  | "attnOutNorm"
  | "mlpNorm"
  | "gate"
  | "up"
  | "down"
  | "mlpOutNorm"
  // Gated DeltaNet (linear-attention layers): input projections (q/k/v together, z, beta, decay
  // input a), the depthwise convolution, the decay parameters, the gated output norm, the output.
  | "linQkv"
  | "linZ"
  | "linB"
  | "linA"
  | "linConv"
  | "linDtBias"
  | "linALog"
  | "linNorm"
  | "linOut";

/** The linear layers LoRA can adapt. */
export type LinearRole = "q" | "k" | "v" | "o" | "gate" | "up" | "down" | "linQkv" | "linZ" | "linOut";

/**
 * A LoRA target of a family: the name users give (`--lora-targets q,v`), the linear layer it adapts,
 * and the module name PEFT writes in target_modules.
 */
export interface LoraModuleSpec {
  target: string;
  role: LinearRole;
  peft: string;
}

/**
 * A Hugging Face config.json reduced to the decoder it describes. Families build it (one file each in
 * models/families/); everything the shared runtime does follows from these fields.
 */
export interface ModelConfig {
  /** The family's id in the registry (models/families/index.ts), e.g. "llama", "qwen3", "gemma3". */
  family: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2; attention_bias elsewhere). */
  qkvBias: boolean;
  /** The output projection has a bias (attention_bias on Llama, Qwen3, Gemma 3). */
  oBias: boolean;
  /** Per-head RMSNorm on queries and keys before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Norms on the attention output and on the MLP output before each residual add (Gemma 3). */
  sandwichNorms: boolean;
  /** RMSNorm scales by w ("rms") or by 1 + w ("rms_one_plus", Gemma, stored as zero-centred weights). */
  norm: "rms" | "rms_one_plus";
  /** The gated MLP's activation: act(gate x) * (up x). */
  activation: "silu" | "gelu_tanh";
  /** Input embeddings are multiplied by this (Gemma: sqrt(hidden), rounded to the weights' dtype). */
  embedScale?: number;
  /** The query projection also yields a per-head output gate: o = attention * sigmoid(gate) (Qwen3.5). */
  attnOutputGate?: boolean;
  /** Rotary embedding on the first rotaryDim dims of each head only (partial rotary); default headDim. */
  rotaryDim?: number;
  /** Sizes of the linear-attention layers (layers whose mixer is "linear_attention"). */
  linearAttention?: LinearAttentionSpec;
  /** Attention logits scale (1/sqrt(head_dim) unless the family says otherwise). */
  attentionScale: number;
  /** One entry per layer. */
  layers: LayerSpec[];
  /**
   * Tensor names by role: the literal name for model-wide roles, a template with `{i}` (the layer
   * index) for per-layer roles. A role the model does not have is absent.
   */
  tensorNames: Partial<Record<TensorRole, string>>;
  /**
   * Where the tensors may also be found in a checkpoint (a multimodal checkpoint's text model):
   * names starting with `prefix` are looked up under each of `alternatives` in turn.
   */
  checkpointPrefixes?: { prefix: string; alternatives: string[] }[];
  /** The LoRA targets this family offers, in the order parameters are laid out. */
  lora: LoraModuleSpec[];
  /** The module path PEFT writes before "layers.N." (default "model."). */
  peftPrefix?: string;
  bosTokenId?: number;
  eosTokenId?: number | number[];
  /** The config.json of this decoder, written by merged export (the text model's for a multimodal checkpoint). */
  raw: Record<string, unknown>;
}
