/** Model shapes the benchmarks share (config.json fields, random weights). */

/** SmolLM2-135M: 30 layers, hidden 576, 9/3 heads, MLP 1536, vocab 49152, tied, f32. */
export const SMOLLM2_135M = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  hidden_act: "silu",
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: "float32",
};

/** Llama-3.2-1B: 16 layers, hidden 2048, 32/8 heads of 64, MLP 8192, vocab 128256, tied, BF16, llama3 rope scaling. */
export const LLAMA_1B = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: { rope_type: "llama3", factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  hidden_act: "silu",
  tie_word_embeddings: true,
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: "bfloat16",
};

/** Qwen3-4B: 36 layers, hidden 2560, 32/8 heads of 128, MLP 9728, vocab 151936, tied, BF16. */
export const QWEN3_4B = {
  architectures: ["Qwen3ForCausalLM"],
  model_type: "qwen3",
  vocab_size: 151936,
  hidden_size: 2560,
  intermediate_size: 9728,
  num_hidden_layers: 36,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 128,
  max_position_embeddings: 40960,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  use_sliding_window: false,
  hidden_act: "silu",
  bos_token_id: 1,
  eos_token_id: 2,
  torch_dtype: "bfloat16",
};
