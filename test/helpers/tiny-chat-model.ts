/**
 * A tiny random Llama model with a real byte-level tokenizer.json and a ChatML chat template: enough
 * for `generate`, `eval` and `export` to run on it, and the base model hosted-job tests pull adapters
 * for. Built in the test, so it needs no shared fixture.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseModelConfig } from "../../src/engine/io/config.js";
import { expectedTensorShapes } from "../../src/engine/io/model.js";
import { writeSafetensors } from "../../src/engine/io/safetensors.js";
import { writePeftAdapter } from "../../src/engine/io/peft.js";
import { loraParamShapes } from "../../src/engine/models/lora.js";
import { Rng } from "../../src/engine/train/rng.js";
import { tempDir } from "./fixtures.js";

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Writes the model folder and returns it. */
export async function writeTinyChatModel(dir: string, seed = 5): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let k = 0;
  for (let b = 0; b < 256; b++) vocab[printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + k++)] = b;
  const tokenizer = {
    version: "1.0",
    added_tokens: [
      { id: 256, content: "<|endoftext|>", special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 257, content: "<|im_start|>", special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 258, content: "<|im_end|>", special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|im_end|>", bos_token: null, pad_token: "<|endoftext|>", chat_template: CHATML }));
  const raw = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 259,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: "silu",
    tie_word_embeddings: true,
    bos_token_id: 256,
    eos_token_id: 258,
    torch_dtype: "float32",
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(raw, null, 2));
  const config = parseModelConfig(raw);
  const rng = new Rng(seed);
  const tensors = [...expectedTensorShapes(config)].map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = (rng.nextFloat() * 2 - 1) * 0.2;
    return { name, shape, data };
  });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  return dir;
}

/**
 * The files of a PEFT adapter for that model (what a provider's download holds), with non-zero B so it
 * changes the model's output; `baseName` is the provider's name for the base model.
 */
export async function tinyAdapterFiles(modelDir: string, baseName: string, opts: { hiddenSize?: number } = {}): Promise<Record<string, Buffer>> {
  const t = tempDir("tunekit-adapter-");
  try {
    const raw = JSON.parse(readFileSync(join(modelDir, "config.json"), "utf8"));
    const config = parseModelConfig({ ...raw, ...(opts.hiddenSize ? { hidden_size: opts.hiddenSize } : {}) });
    const spec = { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ["q", "v"] };
    let i = 0;
    const params = new Map(loraParamShapes(config, spec).map(({ name, shape }) => [name, Float32Array.from({ length: shape[0] * shape[1] }, () => 0.5 * Math.sin(++i))]));
    await writePeftAdapter(t.dir, { config, spec, params, baseModel: baseName });
    return {
      "adapter_config.json": readFileSync(join(t.dir, "adapter_config.json")),
      "adapter_model.safetensors": readFileSync(join(t.dir, "adapter_model.safetensors")),
    };
  } finally {
    t.cleanup();
  }
}
