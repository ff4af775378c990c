/**
 * The model families read config.json as transformers does (configs shaped like the released Qwen3,
 * Gemma 3 and SmolLM3 ones), refuse hybrids by name and refuse every field the engine does not
 * implement, naming it; the registry and each family file provide what the layout promises.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { FAMILIES, familyOf, REFUSED_FAMILIES } from "../../src/engine/models/families/index.js";
import { expectedTensorShapes } from "../../src/engine/models/tensors.js";
import { loraParamShapes, peftTensorName, resolveLoraTargets } from "../../src/engine/models/lora.js";
import { TunekitError } from "../../src/util/errors.js";

/** Shaped like Qwen/Qwen3-0.6B's config.json. */
const QWEN3_06B = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: "qwen3",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  use_sliding_window: false,
  vocab_size: 151936,
};

const GEMMA3_LAYER_TYPES = Array.from({ length: 18 }, (_, i) => ((i + 1) % 6 === 0 ? "full_attention" : "sliding_attention"));

/** Shaped like google/gemma-3-270m's config.json. */
const GEMMA3_270M = {
  architectures: ["Gemma3ForCausalLM"],
  model_type: "gemma3_text",
  _sliding_window_pattern: 6,
  attention_bias: false,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: 1,
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 640,
  intermediate_size: 2048,
  layer_types: GEMMA3_LAYER_TYPES,
  max_position_embeddings: 32768,
  num_attention_heads: 4,
  num_hidden_layers: 18,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: 512,
  torch_dtype: "bfloat16",
  use_bidirectional_attention: false,
  vocab_size: 262144,
};

/** Shaped like HuggingFaceTB/SmolLM3-3B's config.json. */
const SMOLLM3_3B = {
  architectures: ["SmolLM3ForCausalLM"],
  model_type: "smollm3",
  attention_bias: false,
  eos_token_id: 128012,
  hidden_act: "silu",
  hidden_size: 2048,
  intermediate_size: 11008,
  max_position_embeddings: 65536,
  mlp_bias: false,
  no_rope_layer_interval: 4,
  no_rope_layers: Array.from({ length: 36 }, (_, i) => ((i + 1) % 4 === 0 ? 0 : 1)),
  num_attention_heads: 16,
  num_hidden_layers: 36,
  num_key_value_heads: 4,
  pad_token_id: 128004,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 5000000,
  sliding_window: null,
  use_sliding_window: false,
  vocab_size: 128256,
};

const refusedNaming = (re: RegExp) => (e: unknown) => e instanceof TunekitError && e.code === "unsupported_architecture" && re.test(e.message);

test("families: Qwen3-0.6B's config reads as transformers reads it", () => {
  const c = parseModelConfig(QWEN3_06B);
  assert.equal(c.family, "qwen3");
  assert.equal(c.headDim, 128, "explicit head_dim");
  assert.notEqual(c.headDim, c.hiddenSize / c.numHeads);
  assert.equal(c.qkNorm, true);
  assert.equal(c.qkvBias || c.oBias, false);
  assert.equal(c.tieWordEmbeddings, true);
  assert.ok(c.layers.every((l) => l.rope?.theta === 1000000 && l.slidingWindow === undefined), "use_sliding_window false: no windows");
  const shapes = expectedTensorShapes(c);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.q_proj.weight"), [2048, 1024]);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.k_norm.weight"), [128]);
  assert.equal(shapes.has("lm_head.weight"), false);
  // Without head_dim the Qwen3 default is 128, not hidden/heads.
  const { head_dim: _drop, ...noHeadDim } = QWEN3_06B;
  assert.equal(parseModelConfig(noHeadDim).headDim, 128);
  // Sliding windows: use_sliding_window + layer_types, or the layers from max_window_layers on.
  const sw = parseModelConfig({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096, max_window_layers: 26 });
  assert.deepEqual(sw.layers.map((l) => l.slidingWindow ?? 0).slice(24), [0, 0, 4096, 4096]);
  const typed = parseModelConfig({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 64, layer_types: Array.from({ length: 28 }, (_, i) => (i % 2 ? "sliding_attention" : "full_attention")) });
  assert.deepEqual(typed.layers.slice(0, 4).map((l) => l.slidingWindow), [undefined, 64, undefined, 64]);
});

test("families: Gemma 3 270M's config reads as transformers reads it; the older and newer config forms too", () => {
  const c = parseModelConfig(GEMMA3_270M);
  assert.equal(c.family, "gemma3");
  assert.equal(c.norm, "rms_one_plus");
  assert.equal(c.activation, "gelu_tanh");
  assert.ok(c.qkNorm && c.sandwichNorms && c.tieWordEmbeddings);
  assert.equal(c.attentionScale, 1 / 16);
  assert.equal(c.embedScale, 25.25, "sqrt(640) = 25.298 rounded to bfloat16, as transformers casts it to the weights' dtype");
  const full = c.layers.filter((l) => l.slidingWindow === undefined);
  assert.equal(full.length, 3);
  assert.ok(full.every((l) => l.rope?.theta === 1000000 && !l.rope.scaling));
  assert.ok(c.layers[0].slidingWindow === 512 && c.layers[0].rope?.theta === 10000);
  assert.equal(c.layers[5].slidingWindow, undefined);
  const shapes = expectedTensorShapes(c);
  for (const n of ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"]) {
    assert.deepEqual(shapes.get(`model.layers.3.${n}.weight`), [640], n);
  }
  assert.deepEqual(shapes.get("model.layers.3.self_attn.q_norm.weight"), [256]);
  assert.deepEqual(shapes.get("model.layers.3.self_attn.q_proj.weight"), [1024, 640]);
  assert.equal(parseModelConfig({ ...GEMMA3_270M, torch_dtype: "float32" }).embedScale, Math.fround(Math.sqrt(640)));

  // Older configs: sliding_window_pattern instead of layer_types; rope_scaling applies to full layers only.
  const { layer_types: _lt, _sliding_window_pattern: _p, ...older } = GEMMA3_270M;
  const o = parseModelConfig({ ...older, sliding_window_pattern: 6, rope_scaling: { rope_type: "linear", factor: 8 } });
  assert.deepEqual(
    o.layers.map((l) => l.slidingWindow),
    c.layers.map((l) => l.slidingWindow),
  );
  assert.deepEqual(o.layers[5].rope, { theta: 1000000, scaling: { type: "linear", factor: 8 } });
  assert.deepEqual(o.layers[0].rope, { theta: 10000 });
  // Newer configs: rope_parameters per layer type.
  const n = parseModelConfig({
    ...GEMMA3_270M,
    rope_theta: undefined,
    rope_local_base_freq: undefined,
    rope_parameters: { sliding_attention: { rope_type: "default", rope_theta: 10000 }, full_attention: { rope_type: "linear", factor: 8, rope_theta: 1000000 } },
  });
  assert.deepEqual(n.layers[5].rope, { theta: 1000000, scaling: { type: "linear", factor: 8 } });
  assert.deepEqual(n.layers[4].rope, { theta: 10000 });
  // A multimodal checkpoint: its text_config with Gemma3TextConfig's defaults, weights under language_model.
  const mm = parseModelConfig({
    architectures: ["Gemma3ForConditionalGeneration"],
    model_type: "gemma3",
    eos_token_id: [1, 106],
    torch_dtype: "bfloat16",
    text_config: { hidden_size: 2560, intermediate_size: 10240, model_type: "gemma3_text", num_hidden_layers: 34, rope_scaling: { factor: 8.0, rope_type: "linear" }, sliding_window: 1024 },
    vision_config: { model_type: "siglip_vision_model" },
  });
  assert.equal(mm.vocabSize, 262208);
  assert.equal(mm.numHeads, 8);
  assert.equal(mm.numKvHeads, 4);
  assert.equal(mm.headDim, 256);
  assert.deepEqual(mm.eosTokenId, [1, 106]);
  assert.equal(mm.layers.filter((l) => l.slidingWindow === undefined).length, 5, "every 6th of 34 layers is full");
  assert.equal(mm.peftPrefix, "model.language_model.");
  assert.equal(mm.raw.model_type, "gemma3_text");
});

test("families: SmolLM3's config: NoPE layers by no_rope_layers (or the interval), tied by default", () => {
  const c = parseModelConfig(SMOLLM3_3B);
  assert.equal(c.family, "smollm3");
  assert.equal(c.tieWordEmbeddings, true, "transformers' default");
  assert.deepEqual(
    c.layers.slice(0, 8).map((l) => (l.rope ? 1 : 0)),
    [1, 1, 1, 0, 1, 1, 1, 0],
  );
  assert.equal(c.layers[0].rope?.theta, 5000000);
  const { no_rope_layers: _n, ...byInterval } = SMOLLM3_3B;
  assert.deepEqual(
    parseModelConfig({ ...byInterval, no_rope_layer_interval: 3 }).layers.slice(0, 6).map((l) => (l.rope ? 1 : 0)),
    [1, 1, 0, 1, 1, 0],
  );
  assert.throws(() => parseModelConfig({ ...SMOLLM3_3B, no_rope_layers: [1, 0] }), /no_rope_layers/);
});

test("families: hybrids are refused by name; unimplemented fields are refused naming the field", () => {
  for (const [raw, name] of [
    [{ architectures: ["Qwen3NextForCausalLM"], model_type: "qwen3_next" }, /Qwen3-Next/],
    [{ architectures: ["GraniteMoeHybridForCausalLM"], model_type: "granitemoehybrid" }, /Granite 4\.0 H/],
    [{ architectures: ["Lfm2ForCausalLM"], model_type: "lfm2" }, /LFM2/],
  ] as const) {
    assert.throws(() => parseModelConfig({ ...raw }), refusedNaming(name));
  }
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...GEMMA3_270M, final_logit_softcapping: 30 }, /final_logit_softcapping/],
    [{ ...GEMMA3_270M, attn_logit_softcapping: 50 }, /attn_logit_softcapping/],
    [{ ...GEMMA3_270M, use_bidirectional_attention: true }, /use_bidirectional_attention/],
    [{ ...GEMMA3_270M, hidden_activation: "gelu" }, /hidden_activation/],
    [{ ...GEMMA3_270M, layer_types: GEMMA3_LAYER_TYPES.map((t, i) => (i === 2 ? "chunked_attention" : t)) }, /layer_types/],
    [{ ...QWEN3_06B, rope_scaling: { rope_type: "yarn", factor: 4, original_max_position_embeddings: 32768 } }, /yarn.*"rope_scaling\.rope_type"/],
    [{ ...QWEN3_06B, rope_parameters: { rope_type: "dynamic", factor: 2, rope_theta: 1e6 } }, /dynamic.*"rope_parameters\.rope_type"/],
    [{ ...QWEN3_06B, partial_rotary_factor: 0.5 }, /partial_rotary_factor/],
    [{ ...SMOLLM3_3B, mlp_bias: true }, /mlp_bias/],
  ];
  for (const [raw, field] of cases) assert.throws(() => parseModelConfig(raw), refusedNaming(field), String(field));
});

test("registry: every family has one entry, its targets resolve to PEFT names, and its GGUF slot names an architecture", () => {
  assert.deepEqual(
    FAMILIES.map((f) => f.id),
    ["llama", "mistral", "qwen2", "qwen3", "qwen3_5", "gemma3", "smollm3"],
  );
  const seen = new Set<string>();
  for (const f of [...FAMILIES, ...REFUSED_FAMILIES]) {
    for (const a of f.architectures) {
      assert.ok(!seen.has(a), `${a} is claimed twice`);
      seen.add(a);
    }
  }
  const c = parseModelConfig(QWEN3_06B);
  assert.equal(familyOf(c).gguf?.architecture, "qwen3");
  assert.deepEqual(
    resolveLoraTargets(c, ["v_proj", "q"]).map((m) => m.peft),
    ["q_proj", "v_proj"],
  );
  assert.throws(() => resolveLoraTargets(c, ["qkv"]), (e: unknown) => e instanceof TunekitError && e.code === "unsupported_lora_target");
  const shapes = loraParamShapes(c, { r: 8, targets: "all-linear" });
  assert.equal(shapes.length, 28 * 7 * 2);
  assert.deepEqual(shapes[0], { name: "layers.0.self_attn.q_proj.lora_A", shape: [8, 1024] });
  assert.deepEqual(shapes[1], { name: "layers.0.self_attn.q_proj.lora_B", shape: [2048, 8] });
  assert.equal(peftTensorName(c, shapes[0].name), "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  const g = parseModelConfig(GEMMA3_270M);
  assert.equal(familyOf(g).gguf?.tensors.mlpOutNorm, "blk.{i}.post_ffw_norm");
});
