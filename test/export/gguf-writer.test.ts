/**
 * The GGUF writer's parts without llama.cpp's runtime: F16 / BF16 / Q8_0 encoding against their
 * definitions, the container read back by node-llama-cpp's own GGUF reader, the rotary row
 * permutation, and the pre-tokenizer name llama.cpp's converter would choose.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { readGgufFileInfo } from "node-llama-cpp";
import { kv, writeGguf } from "../../src/export/gguf/container.js";
import { decodeRows, encodeRows, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, GGML_TYPE } from "../../src/export/gguf/tensor-data.js";
import { permuteRopeRows } from "../../src/export/gguf/tensors.js";
import { choosePreTokenizer } from "../../src/export/gguf/pre-tokenizer.js";
import { HfTokenizer, loadTokenizerFromDir } from "../../src/tokenize/hf.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { CHATML_TEMPLATE } from "../helpers/gguf-models.js";
import { chatmlTokenizerFiles } from "../helpers/test-tokenizers.js";

const tmp = tempDir("tunekit-gguf-writer-");
test.after(() => tmp.cleanup());

test("f32 -> f16 rounds to nearest even over every half value and every midpoint", () => {
  for (let h = 0; h < 0x10000; h++) {
    const exp = (h >> 10) & 0x1f;
    if (exp === 31 && (h & 0x3ff) !== 0) continue; // NaN
    const x = f16BitsToF32(h);
    assert.equal(f32ToF16Bits(x), h, `round trip of 0x${h.toString(16)}`);
    // The midpoint to the next larger magnitude rounds to whichever of the two is even.
    if (exp < 30 || (exp === 30 && (h & 0x3ff) !== 0x3ff)) {
      const next = f16BitsToF32(h + 1);
      const mid = (x + next) / 2;
      if (Math.fround(mid) === mid) assert.equal(f32ToF16Bits(mid), h % 2 === 0 ? h : h + 1, `midpoint after 0x${h.toString(16)}`);
    }
  }
  assert.equal(f32ToF16Bits(65520), 0x7c00); // halfway to the next power: overflows to infinity
  assert.equal(f32ToF16Bits(65519), 0x7bff);
  assert.equal(f32ToF16Bits(2 ** -25), 0); // half the smallest subnormal: ties to even (zero)
  assert.equal(f32ToF16Bits(2 ** -25 * 1.0001), 1);
  assert.equal(f32ToF16Bits(-Infinity), 0xfc00);
  assert.equal(f32ToF16Bits(NaN) & 0x7e00, 0x7e00);
});

test("f32 -> bf16 rounds to nearest even and keeps NaN a NaN", () => {
  assert.equal(f32ToBf16Bits(1), 0x3f80);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie, 0x3f80 is even
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, rounds up to even
  assert.equal(f32ToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.equal(f32ToBf16Bits(-2.5), 0xc020);
  assert.ok((f32ToBf16Bits(NaN) & 0x7f80) === 0x7f80 && (f32ToBf16Bits(NaN) & 0x7f) !== 0);
});

test("Q8_0 is ggml's reference quantizer: an F16 scale max|x|/127 and round-half-away-from-zero int8", () => {
  const x = new Float32Array(32);
  x[0] = 127;
  x[1] = 2.5;
  x[2] = -2.5;
  x[3] = 0.49;
  x[4] = -127;
  const bytes = encodeRows(GGML_TYPE.Q8_0, x, 32);
  assert.equal(bytes.length, 34);
  const dv = new DataView(bytes.buffer);
  assert.equal(f16BitsToF32(dv.getUint16(0, true)), 1);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((i) => dv.getInt8(1 + i)), [127, 3, -3, 0, -127, 0]);
  // Random rows: the error is at most half a step (plus the scale's F16 rounding).
  const r = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 7)));
  const back = decodeRows(GGML_TYPE.Q8_0, encodeRows(GGML_TYPE.Q8_0, r, 128), 128);
  for (let b = 0; b < 8; b++) {
    const block = r.subarray(b * 32, b * 32 + 32);
    const d = Math.max(...block.map(Math.abs)) / 127;
    for (let j = 0; j < 32; j++) assert.ok(Math.abs(back[b * 32 + j] - block[j]) <= d * 0.5 + Math.abs(block[j]) * 1e-3);
  }
  assert.throws(() => encodeRows(GGML_TYPE.Q8_0, new Float32Array(48), 48), /multiple of 32/);
});

test("the container reads back in node-llama-cpp's GGUF reader: metadata of every type, tensors at aligned offsets", async () => {
  const out = join(tmp.dir, "container.gguf");
  const md = [
    kv.str("general.architecture", "llama"),
    kv.u32("test.u32", 4000000000),
    kv.i32("test.i32", -7),
    kv.f32("test.f32", 0.25),
    kv.bool("test.bool", true),
    kv.str("test.unicode", "naïve 🦙 \n tab\t"),
    kv.strings("test.strings", ["a", "", "ß"]),
    kv.i32s("test.i32s", [1, -2, 3]),
    kv.f32s("test.f32s", [0.5, -1.5]),
  ];
  const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
  const b = Float32Array.from({ length: 64 }, (_, i) => i / 8);
  await writeGguf(out, md, [
    { name: "a.weight", dims: [3, 2], type: GGML_TYPE.F32, produce: (w) => w(encodeRows(GGML_TYPE.F32, a, 3)) },
    { name: "b.weight", dims: [32, 2], type: GGML_TYPE.F16, produce: (w) => w(encodeRows(GGML_TYPE.F16, b, 32)) },
  ]);
  const info = await readGgufFileInfo(out);
  assert.equal(info.version, 3);
  const m = info.metadata as unknown as { test: Record<string, unknown>; general: Record<string, unknown> };
  assert.deepEqual(
    { ...m.test },
    { u32: 4000000000, i32: -7, f32: 0.25, bool: true, unicode: "naïve 🦙 \n tab\t", strings: ["a", "", "ß"], i32s: [1, -2, 3], f32s: [0.5, -1.5] },
  );
  const tensors = info.fullTensorInfo!;
  assert.deepEqual(tensors.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType]), [["a.weight", [3, 2], 0], ["b.weight", [32, 2], 1]]);
  // Data starts at an aligned offset; each tensor's bytes are where the info says.
  const bytes = readFileSync(out);
  for (const [t, n, type, want] of [[tensors[0], 3, GGML_TYPE.F32, a], [tensors[1], 32, GGML_TYPE.F16, b]] as const) {
    const off = Number(t.fileOffset);
    assert.equal(off % 32, 0);
    const got = decodeRows(type, bytes.subarray(off, off + (type === GGML_TYPE.F32 ? 4 : 2) * want.length), n);
    assert.deepEqual([...got], [...want]);
  }
});

test("the rotary permutation moves each head's second half between the first half's rows, as llama.cpp's layout needs", () => {
  // 2 heads of 4 rows, 1 column: per head rows [0 1 | 2 3] become [0 2 1 3].
  const rows = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual([...permuteRopeRows(rows, 8, 1, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
  // Columns move with their row.
  const m = Float32Array.from({ length: 8 }, (_, i) => i);
  assert.deepEqual([...permuteRopeRows(m, 4, 2, 1)], [0, 1, 4, 5, 2, 3, 6, 7]);
});

test("the pre-tokenizer name is llama.cpp's: by the converter's hash for known tokenizers, by the exact regex otherwise", async (t) => {
  const smol = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (smol) {
    const tok = await loadTokenizerFromDir(smol);
    const tj = JSON.parse(readFileSync(join(smol, "tokenizer.json"), "utf8"));
    assert.deepEqual(choosePreTokenizer(tok, tj), { name: "smollm", by: "hash", hash: "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249" });
  } else t.diagnostic("SmolLM2 tokenizer fixture missing: its hash was not checked");
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const tj = bl.tokenizerJson;
  const tok = (json: Record<string, unknown>) => new HfTokenizer({ name: "t", tokenizerJson: json, tokenizerConfig: bl.tokenizerConfig });
  assert.equal(choosePreTokenizer(tok(tj), tj).name, "gpt-2");
  const llama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const split = (regex: string) => ({ ...tj, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false }, { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] } });
  assert.deepEqual(choosePreTokenizer(tok(split(llama3Regex)), split(llama3Regex)).name, "llama-bpe");
  assert.equal(choosePreTokenizer(tok(split(llama3Regex.replace("{1,3}", "{1,2}"))), split(llama3Regex.replace("{1,3}", "{1,2}"))).name, undefined);
  const qwen35Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  assert.equal(choosePreTokenizer(tok(split(qwen35Regex)), split(qwen35Regex)).name, "qwen35");
});
