import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, truncateSync, statSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile, readSafetensors, writeSafetensors } from "../../src/engine/io/safetensors.js";
import { parseModelConfig, readModelConfig } from "../../src/engine/io/config.js";
import { expectedTensorShapes, loadModel } from "../../src/engine/io/model.js";
import { TunekitError } from "../../src/util/errors.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";

/** A hand-built safetensors file (independent of our writer). */
function rawSafetensors(header: Record<string, unknown>, data: Uint8Array, headerLenOverride?: number): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? h.length));
  return Buffer.concat([len, h, data]);
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TunekitError, `expected TunekitError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test("safetensors: reads F32, F16 and BF16 written by hand", async () => {
  const t = tempDir();
  try {
    const f32 = new Float32Array([1.5, -2, 3.25]);
    const f16 = Buffer.alloc(4);
    f16.writeUInt16LE(0x3c00, 0); // 1.0
    f16.writeUInt16LE(0xc100, 2); // -2.5
    const bf16 = Buffer.alloc(4);
    bf16.writeUInt16LE(0x3fc0, 0); // 1.5
    bf16.writeUInt16LE(0xc040, 2); // -3.0
    const data = Buffer.concat([Buffer.from(f32.buffer), f16, bf16]);
    const file = join(t.dir, "a.safetensors");
    writeFileSync(
      file,
      rawSafetensors(
        {
          __metadata__: { format: "pt" },
          a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
          b: { dtype: "F16", shape: [1, 2], data_offsets: [12, 16] },
          c: { dtype: "BF16", shape: [2], data_offsets: [16, 20] },
        },
        data,
      ),
    );
    const { tensors, metadata } = await readSafetensors(file);
    assert.deepEqual(metadata, { format: "pt" });
    assert.deepEqual([...tensors.get("a")!.data], [1.5, -2, 3.25]);
    assert.deepEqual(tensors.get("b")!.shape, [1, 2]);
    assert.deepEqual([...tensors.get("b")!.data], [1, -2.5]);
    assert.deepEqual([...tensors.get("c")!.data], [1.5, -3]);
  } finally {
    t.cleanup();
  }
});

test("safetensors: writer round-trips F32 exactly and F16/BF16 to nearest, atomically", async () => {
  const t = tempDir();
  try {
    const file = join(t.dir, "w.safetensors");
    const x = new Float32Array([0.1, -1e-3, 65504, 3.14159, 0]);
    await writeSafetensors(
      file,
      [
        { name: "x", shape: [5], data: x },
        { name: "h", shape: [5], data: x, dtype: "F16" },
        { name: "b", shape: [5], data: x, dtype: "BF16" },
      ],
      { note: "hi" },
    );
    assert.deepEqual(readdirSync(t.dir), ["w.safetensors"], "no temp file left");
    // Header is 8-byte aligned, as the reference implementation pads it.
    const len = Number(readFileSync(file).readBigUInt64LE(0));
    assert.equal((8 + len) % 8, 0);
    const { tensors, metadata } = await readSafetensors(file);
    assert.equal(metadata.note, "hi");
    assert.deepEqual([...tensors.get("x")!.data], [...x]);
    const h = tensors.get("h")!.data;
    const b = tensors.get("b")!.data;
    for (let i = 0; i < x.length; i++) {
      assert.ok(Math.abs(h[i] - x[i]) <= Math.abs(x[i]) * 2 ** -11 + 1e-7, `f16 ${h[i]} vs ${x[i]}`);
      assert.ok(Math.abs(b[i] - x[i]) <= Math.abs(x[i]) * 2 ** -8, `bf16 ${b[i]} vs ${x[i]}`);
    }
    await assert.rejects(writeSafetensors(join(t.dir, "bad.safetensors"), [{ name: "x", shape: [4], data: x }]));
    assert.deepEqual(readdirSync(t.dir), ["w.safetensors"], "failed write leaves nothing");
  } finally {
    t.cleanup();
  }
});

test("safetensors: corrupt files are refused with clear errors", async () => {
  const t = tempDir();
  try {
    const data = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const cases: [string, Buffer, RegExp][] = [
      ["tiny", Buffer.from([1, 2, 3]), /only 3 bytes/],
      ["hugeheader", rawSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data, 1e12), /header length/],
      ["notjson", Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{nope"), data]), /not valid JSON/],
      ["lies", rawSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [0, 64] } }, data), /needs 16 bytes but its offsets span 64/],
      ["outside", rawSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }, data), /truncated/],
      [
        "overlap",
        rawSafetensors(
          { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } },
          data,
        ),
        /overlap/,
      ],
      ["dtype", rawSafetensors({ a: { dtype: "Q4", shape: [4], data_offsets: [0, 16] } }, data), /unknown dtype/],
      ["shape", rawSafetensors({ a: { dtype: "F32", shape: [-4], data_offsets: [0, 16] } }, data), /invalid shape/],
    ];
    for (const [name, bytes, re] of cases) {
      const f = join(t.dir, `${name}.safetensors`);
      writeFileSync(f, bytes);
      await rejectsWith(SafetensorsFile.open(f), "corrupt_safetensors", re);
    }
    // Truncation of a valid file is caught by the offset check.
    const good = join(t.dir, "good.safetensors");
    writeFileSync(good, rawSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data));
    truncateSync(good, statSync(good).size - 3);
    await rejectsWith(SafetensorsFile.open(good), "corrupt_safetensors", /truncated/);
    await rejectsWith(SafetensorsFile.open(join(t.dir, "missing.safetensors")), "file_not_found");
  } finally {
    t.cleanup();
  }
});

const tinyConfig = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 10,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
  tie_word_embeddings: true,
};

test("config: Llama/Mistral/Qwen2 normalise; others are refused naming what is supported", () => {
  const c = parseModelConfig(tinyConfig);
  assert.equal(c.family, "llama");
  assert.equal(c.headDim, 4);
  assert.equal(c.numKvHeads, 1);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.qkvBias, false);
  assert.equal(c.oBias, false);
  assert.equal(c.rmsNormEps, 1e-6);
  assert.deepEqual(c.layers, [{ rope: { theta: 10000 } }]);
  const biased = parseModelConfig({ ...tinyConfig, attention_bias: true });
  assert.ok(biased.qkvBias && biased.oBias, "Llama's attention_bias puts biases on q, k, v and o");
  const q = parseModelConfig({ ...tinyConfig, architectures: ["Qwen2ForCausalLM"], sliding_window: 4096, use_sliding_window: false, tie_word_embeddings: false });
  assert.equal(q.family, "qwen2");
  assert.equal(q.qkvBias, true, "Qwen2 always has q/k/v bias");
  assert.equal(q.oBias, false);
  assert.equal(q.layers[0].slidingWindow, undefined);
  assert.equal(q.tieWordEmbeddings, false);
  const m = parseModelConfig({ ...tinyConfig, architectures: ["MistralForCausalLM"], sliding_window: 4096, head_dim: 6 });
  assert.equal(m.layers[0].slidingWindow, 4096);
  assert.equal(m.headDim, 6);
  const l3 = parseModelConfig({
    ...tinyConfig,
    rope_scaling: { rope_type: "llama3", factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    eos_token_id: [128001, 128009],
  });
  assert.deepEqual(l3.layers[0].rope?.scaling, { type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.deepEqual(l3.eosTokenId, [128001, 128009]);
  const noArch = parseModelConfig({ ...tinyConfig, architectures: undefined, model_type: "llama" });
  assert.equal(noArch.family, "llama");
  for (const bad of [{ architectures: ["GPT2LMHeadModel"] }, { architectures: ["PhiForCausalLM"] }, { architectures: undefined, model_type: "gemma" }]) {
    assert.throws(
      () => parseModelConfig({ ...tinyConfig, ...bad }),
      (e: unknown) => e instanceof TunekitError && e.code === "unsupported_architecture" && /LlamaForCausalLM/.test(e.hint ?? ""),
    );
  }
  assert.throws(() => parseModelConfig({ ...tinyConfig, rope_scaling: { type: "yarn", factor: 4 } }), /yarn/);
  assert.throws(() => parseModelConfig({ ...tinyConfig, num_key_value_heads: 3 }), /multiple/);
  assert.throws(() => parseModelConfig({ ...tinyConfig, hidden_size: "8" }), /hidden_size/);
});

function tinyWeights(cfg: typeof tinyConfig, seed = 1): { name: string; shape: number[]; data: Float32Array }[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const c = parseModelConfig(cfg);
  return [...expectedTensorShapes(c)].map(([name, shape]) => ({
    name,
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, rnd),
  }));
}

test("loadModel: single file and sharded index, shape validation, missing files", async () => {
  const t = tempDir();
  try {
    const single = join(t.dir, "single");
    mkdirSync(single);
    writeFileSync(join(single, "config.json"), JSON.stringify(tinyConfig));
    const ws = tinyWeights(tinyConfig);
    await writeSafetensors(join(single, "model.safetensors"), ws);
    const m = await loadModel(single);
    assert.equal(m.weights.size, ws.length);
    assert.deepEqual([...m.weights.get("model.norm.weight")!.data], [...ws.find((w) => w.name === "model.norm.weight")!.data]);
    assert.equal(m.dtype, "F32");

    // Sharded: two shards + index, stored as BF16.
    const sharded = join(t.dir, "sharded");
    mkdirSync(sharded);
    writeFileSync(join(sharded, "config.json"), JSON.stringify(tinyConfig));
    const half = Math.ceil(ws.length / 2);
    const weightMap: Record<string, string> = {};
    const shards = [ws.slice(0, half), ws.slice(half)];
    for (let i = 0; i < 2; i++) {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      await writeSafetensors(join(sharded, name), shards[i].map((w) => ({ ...w, dtype: "BF16" as const })));
      for (const w of shards[i]) weightMap[w.name] = name;
    }
    writeFileSync(join(sharded, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const s = await loadModel(sharded);
    assert.equal(s.dtype, "BF16");
    assert.equal(s.files.length, 2);
    const a = s.weights.get("model.embed_tokens.weight")!.data;
    const b = m.weights.get("model.embed_tokens.weight")!.data;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(b[i]) / 128);

    // A missing shard.
    const lost = join(sharded, "model-00002-of-00002.safetensors");
    const saved = readFileSync(lost);
    const { rmSync } = await import("node:fs");
    rmSync(lost);
    await rejectsWith(loadModel(sharded), "missing_model_file", /model-00002-of-00002/);
    writeFileSync(lost, saved);

    // config.json that disagrees with the weights: shape mismatch names the tensor and both shapes.
    writeFileSync(join(single, "config.json"), JSON.stringify({ ...tinyConfig, intermediate_size: 16 }));
    await rejectsWith(loadModel(single), "tensor_shape_mismatch", /model\.layers\.0\.mlp\.gate_proj\.weight.*\[12, 8\].*\[16, 8\]/);
    // Untied config but no lm_head.
    writeFileSync(join(single, "config.json"), JSON.stringify({ ...tinyConfig, tie_word_embeddings: false }));
    await rejectsWith(loadModel(single), "missing_tensor", /lm_head\.weight/);
    writeFileSync(join(single, "config.json"), "{not json");
    await rejectsWith(loadModel(single), "invalid_model_config", /not valid JSON/);

    const empty = join(t.dir, "empty");
    mkdirSync(empty);
    await rejectsWith(loadModel(empty), "missing_model_file", /config\.json/);
    writeFileSync(join(empty, "config.json"), JSON.stringify(tinyConfig));
    writeFileSync(join(empty, "pytorch_model.bin"), "x");
    await rejectsWith(loadModel(empty), "missing_model_file", /model\.safetensors/);
    await rejectsWith(loadModel(join(t.dir, "nope")), "model_not_found");
    await rejectsWith(readModelConfig(join(t.dir, "nope", "config.json")), "missing_model_file");
  } finally {
    t.cleanup();
  }
});

test("loadModel: the real stories260K loads with the right shapes", { skip: !sharedFixture("models", "stories260K") }, async () => {
  const m = await loadModel(sharedFixture("models", "stories260K")!);
  assert.equal(m.config.numLayers, 5);
  assert.equal(m.config.numKvHeads, 4);
  assert.equal(m.config.tieWordEmbeddings, true);
  assert.deepEqual(m.weights.get("model.layers.0.self_attn.k_proj.weight")!.shape, [32, 64]);
  assert.equal(m.weights.size, 1 + 5 * 9 + 1);
  const e = m.weights.get("model.embed_tokens.weight")!.data;
  assert.ok(e.some((v) => v !== 0) && e.every(Number.isFinite));
});
