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
