/**
 * GGUF exports checked by llama.cpp itself (node-llama-cpp's prebuilt CPU build): every file loads,
 * and llama.cpp computes what tunekit computes.
 *
 * Tolerances. F32 files: llama.cpp's greedy continuation equals tunekit's token for token (32 tokens),
 * and teacher-forced along tunekit's greedy sequence every next-token probability agrees within 1e-4
 * (measured: about 2e-6); llama.cpp runs here with an F32 KV cache and without flash attention, which
 * otherwise round attention through F16 (about 1e-3 in probability, measured). Quantized files, on the
 * real trained stories260K: the most likely next token agrees with tunekit's F32 model at >= 95% of 64
 * teacher-forced positions for F16 and BF16 and >= 90% for Q8_0, and probabilities within 0.005 (F16),
 * 0.02 (BF16), 0.08 (Q8_0) (measured: 64 of 64 for each; 1e-3, 1e-2, 3e-2).
 * Gemma 3's GELU: ggml's CPU build reads GELU from an F16 lookup table, so Gemma 3 files agree
 * within 3e-3 (measured: 6e-4). Qwen3.5 (qwen35, Gated DeltaNet layers) agrees within 3e-4 (measured:
 * 1.1e-4 over these ~30 positions): the difference starts at the other families' 1e-6 and grows with the
 * position (about 2e-4 by 140 tokens, unchanged by the norm epsilon). Against the float64 PyTorch
 * reference (scripts/reference/qwen35_reference.py's forward) over those 140 tokens, tunekit was within
 * 3.4e-5 and llama.cpp within 1.8e-4: the difference is mostly llama.cpp's float32 delta-rule kernels. Tiny random models have weights scaled so the two best logits differ
 * by more than 1e-3 at every greedy step (checked), so equal tokens are not luck.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { JinjaTemplateChatWrapper, readGgufFileInfo, type ChatHistoryItem, type LlamaModel } from "node-llama-cpp";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { exportGguf, exportGgufAdapter } from "../../src/export/gguf/export.js";
import { kv, writeGguf } from "../../src/export/gguf/container.js";
import { GGML_TYPE, encodeRows } from "../../src/export/gguf/tensor-data.js";
import { chatTemplateFor, encodeChatPrompt, PLAIN_CHAT_TEMPLATE_JINJA } from "../../src/tokenize/chatTemplate.js";
import type { ChatMessage } from "../../src/chat/types.js";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import {
  argmax,
  CHATML_TEMPLATE,
  chatTemplateFixture,
  familyConfigs,
  maxProbDiff,
  SMOLLM2_TEMPLATE,
  tunekitGreedy,
  tunekitTeacherForced,
  writeModelFolder,
  writeRun,
} from "../helpers/gguf-models.js";
import { llamaGreedy, llamaTeacherForced, loadGguf } from "../helpers/llama-cpp.js";
import { chatmlTokenizerFiles, gemmaStyleTokenizerFiles } from "../helpers/test-tokenizers.js";

const tmp = tempDir("tunekit-gguf-llama-");
test.after(() => tmp.cleanup());

const GREEDY = 32;

/** Exported file vs tunekit: greedy tokens, margins, and teacher-forced probabilities. */
async function compare(gen: TextGenerator, gguf: string, prompt: string, opts: { lora?: string; tolerance?: number } = {}): Promise<{ tokens: number[]; model: LlamaModel }> {
  const ids = gen.promptIds(prompt, { raw: true });
  const tk = await tunekitGreedy(gen, ids, GREEDY);
  assert.ok(Math.min(...tk.margins) > 1e-3, `tunekit's greedy margins are too small to compare (${Math.min(...tk.margins)})`);
  const model = await loadGguf(gguf);
  const ll = await llamaGreedy(model, ids, GREEDY, opts.lora ? { lora: opts.lora } : {});
  assert.deepEqual(ll, tk.tokens, `llama.cpp's greedy tokens differ from tunekit's for ${gguf}`);
  if (!opts.lora) {
    const tf = await llamaTeacherForced(model, ids, tk.tokens);
    const worst = Math.max(...tf.probs.map((p, i) => maxProbDiff(tk.logits[i], p)));
    assert.ok(worst <= (opts.tolerance ?? 1e-4), `next-token probabilities differ by up to ${worst} (${gguf})`);
  }
  return { tokens: tk.tokens, model };
}

test("stories260K (SentencePiece-style vocabulary): the f32 GGUF from `tunekit export --model` gives tunekit's greedy tokens and tokenization", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const out = join(tmp.dir, "stories-f32.gguf");
  const r = await runCli(["export", "--model", stories, "--gguf", out, "--dtype", "f32"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /model written to .*stories-f32\.gguf: GGUF f32, .*architecture llama/);
  assert.match(r.stdout, /tokenizer llama \(pre-tokenizer default\), chat template: tunekit's plain template/);

  const gen = await TextGenerator.load(stories, { threads: 2 });
  try {
    const { tokens, model } = await compare(gen, out, "Once upon a time");
    // `tunekit generate --raw` prints the same text llama.cpp's tokens decode to.
    const cli = await runCli(["generate", "--model", stories, "--raw", "--prompt", "Once upon a time", "--max-tokens", String(GREEDY)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.replace(/\n$/, ""), gen.tokenizer.decode(tokens));
    assert.equal(model.detokenize(tokens as never), gen.tokenizer.decode(tokens));
    // llama.cpp's tokenizer splits text as tunekit's does (SentencePiece merges from the BPE merge ranks).
    for (const text of ["Once upon a time, there was a little girl named Lily.", "  two  spaces\nand a newline", "Numbers 12345 and ümlauts, 日本, 🦙!", "x"]) {
      assert.deepEqual([...model.tokenize(text)], gen.tokenizer.encode(text), `tokenization of ${JSON.stringify(text)}`);
    }
    // Metadata a reader other than tunekit's sees.
    const info = await readGgufFileInfo(out);
    const md = info.metadata as unknown as { tokenizer: { ggml: Record<string, unknown>; chat_template: string }; general: Record<string, unknown> };
    assert.equal(md.tokenizer.ggml.model, "llama");
    assert.equal(md.tokenizer.ggml.add_bos_token, true);
    assert.equal(md.tokenizer.chat_template, PLAIN_CHAT_TEMPLATE_JINJA);
    assert.equal(md.general.file_type, 0);
    await model.dispose();
  } finally {
    await gen.dispose();
  }
});

test("stories260K: f16, bf16 and q8_0 GGUFs stay within the stated tolerance of tunekit's f32 model", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const gen = await TextGenerator.load(stories, { threads: 2 });
  try {
    const ids = gen.promptIds("Lily and Tom went to the park. They", { raw: true });
    const ref = await tunekitGreedy(gen, ids, 64);
    const bounds = { f16: { agree: 0.95, dp: 0.005 }, bf16: { agree: 0.95, dp: 0.02 }, q8_0: { agree: 0.9, dp: 0.08 } } as const;
    for (const dtype of ["f16", "bf16", "q8_0"] as const) {
      const out = join(tmp.dir, `stories-${dtype}.gguf`);
      await exportGguf({ model: stories }, out, { dtype });
      const info = await readGgufFileInfo(out);
      const types = new Set(info.fullTensorInfo!.map((x) => x.ggmlType));
      assert.ok(types.has({ f16: GGML_TYPE.F16, bf16: GGML_TYPE.BF16, q8_0: GGML_TYPE.Q8_0 }[dtype] as never), `${dtype}: tensor types ${[...types]}`);
      const model = await loadGguf(out);
      const tf = await llamaTeacherForced(model, ids, ref.tokens);
      await model.dispose();
      const agree = tf.argmax.filter((x, i) => x === ref.tokens[i]).length / ref.tokens.length;
      const worst = Math.max(...tf.probs.map((p, i) => maxProbDiff(ref.logits[i], p)));
      assert.ok(agree >= bounds[dtype].agree, `${dtype}: top-1 agreement ${agree}`);
      assert.ok(worst <= bounds[dtype].dp, `${dtype}: probabilities differ by up to ${worst}`);
    }
  } finally {
    await gen.dispose();
  }
});

/** A SmolLM2-shaped model (9 / 3 heads, tied, rope 100000) with the real SmolLM2 tokenizer and its chat template. */
async function smolModel(dir: string): Promise<string | undefined> {
  const tokDir = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (!tokDir) return undefined;
  const tokenizer = JSON.parse(readFileSync(join(tokDir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(readFileSync(join(tokDir, "config.json"), "utf8"));
  const raw = { ...config, hidden_size: 144, intermediate_size: 384, num_hidden_layers: 2, num_attention_heads: 9, num_key_value_heads: 3, torch_dtype: "float32" };
  const tc = { bos_token: "<|im_start|>", eos_token: "<|im_end|>", pad_token: "<|im_end|>", unk_token: "<|endoftext|>", add_prefix_space: false, chat_template: SMOLLM2_TEMPLATE };
  await writeModelFolder(dir, raw, { tokenizerJson: tokenizer, tokenizerConfig: tc }, 5);
  return dir;
}

let smol: { model: string; run: string; rsRun: string } | undefined;
async function smolRuns(): Promise<typeof smol> {
  if (smol) return smol;
  const model = await smolModel(join(tmp.dir, "smol"));
  if (!model) return undefined;
  const gen = await TextGenerator.load(model, { threads: 1 });
  const config = gen.config;
  await gen.dispose();
  const run = join(tmp.dir, "smol-run");
  await writeRun(run, model, config, { r: 8, alpha: 16, targets: "all-linear" });
  const rsRun = join(tmp.dir, "smol-rs-run");
  await writeRun(rsRun, model, config, { r: 4, alpha: 8, rslora: true, targets: ["q", "k", "v", "o"] }, 13);
  smol = { model, run, rsRun };
  return smol;
}

test("SmolLM2-shaped model with the real SmolLM2 tokenizer (BPE): `tunekit export RUN --gguf` merges the adapter; llama.cpp gives tunekit's tokens", async (t) => {
  const s = await smolRuns();
  if (!s) return t.skip("SmolLM2 tokenizer fixture missing");
  const out = join(tmp.dir, "smol-merged-f32.gguf");
  const r = await runCli(["export", s.run, "--gguf", out, "--dtype", "f32", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.merged, true);
  assert.deepEqual(j.tokenizer, { model: "gpt2", pre: "smollm" });
  const gen = await TextGenerator.load(s.model, { adapter: join(s.run, "adapter"), threads: 2 });
  try {
    const { model } = await compare(gen, out, "The capital of France is");
    // Special tokens and text split as tunekit splits them.
    for (const text of ["<|im_start|>user\nWhat's 2+2? Answer in 12 words.<|im_end|>\n<|im_start|>assistant\n", "  indented\n\n\tcode();", "naïve café 3.14159"]) {
      assert.deepEqual([...model.tokenize(text, true)], gen.tokenizer.encode(text, { allowSpecial: true }), `tokenization of ${JSON.stringify(text)}`);
    }
    await model.dispose();
  } finally {
    await gen.dispose();
  }
  // The adapter changes the output: the base model's file gives other tokens.
  const baseOut = join(tmp.dir, "smol-base-f32.gguf");
  await exportGguf({ model: s.model }, baseOut, { dtype: "f32" });
  const base = await TextGenerator.load(s.model, { threads: 2 });
  try {
    const ids = base.promptIds("The capital of France is", { raw: true });
    const m = await loadGguf(baseOut);
    const tuned = await loadGguf(out);
    assert.notDeepEqual(await llamaGreedy(m, ids, GREEDY), await llamaGreedy(tuned, ids, GREEDY));
    await m.dispose();
    await tuned.dispose();
  } finally {
    await base.dispose();
  }
});

test("base GGUF + --gguf-adapter in llama.cpp gives the merged GGUF's greedy tokens (LoRA and rsLoRA)", async (t) => {
  const s = await smolRuns();
  if (!s) return t.skip("SmolLM2 tokenizer fixture missing");
  const baseOut = join(tmp.dir, "smol-base-for-lora.gguf");
  await exportGguf({ model: s.model }, baseOut, { dtype: "f32" });
  const gen = await TextGenerator.load(s.model, { threads: 1 });
  const ids = gen.promptIds("Write a haiku about autumn", { raw: true });
  await gen.dispose();
  for (const run of [s.run, s.rsRun]) {
    const adapterOut = join(tmp.dir, `${run.split("/").pop()}-lora.gguf`);
    const r = await runCli(["export", run, "--gguf-adapter", adapterOut]);
    assert.equal(r.code, 0, r.stderr);
    const info = await readGgufFileInfo(adapterOut);
    const md = info.metadata as unknown as { general: Record<string, unknown>; adapter: { type: string; lora: { alpha: number } } };
    assert.equal(md.general.type, "adapter");
    assert.equal(md.adapter.type, "lora");
    if (run === s.rsRun) assert.ok(Math.abs(md.adapter.lora.alpha - 8 * Math.sqrt(4)) < 1e-5, `rsLoRA alpha ${md.adapter.lora.alpha}`);
    else assert.equal(md.adapter.lora.alpha, 16);
    const mergedOut = join(tmp.dir, `${run.split("/").pop()}-merged.gguf`);
    await exportGguf({ runDir: run }, mergedOut, { dtype: "f32" });
    const merged = await loadGguf(mergedOut);
    const base = await loadGguf(baseOut);
    const viaMerged = await llamaGreedy(merged, ids, GREEDY);
    const viaAdapter = await llamaGreedy(base, ids, GREEDY, { lora: adapterOut });
    const plain = await llamaGreedy(base, ids, GREEDY);
    await merged.dispose();
    await base.dispose();
    assert.deepEqual(viaAdapter, viaMerged, `${run}: base + adapter differs from the merged file`);
    assert.notDeepEqual(plain, viaMerged, `${run}: the adapter should change the output`);
  }
});

test("every family tunekit loads exports a GGUF llama.cpp runs as tunekit does (f32)", async () => {
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const gm = gemmaStyleTokenizerFiles(chatTemplateFixture("gemma3-format.jinja"));
  const archs: Record<string, string> = { llama: "llama", mistral: "llama", qwen2: "qwen2", qwen3: "qwen3", gemma3: "gemma3", "gemma3-multimodal": "gemma3", smollm3: "smollm3", qwen35: "qwen35", "qwen35-multimodal": "qwen35" };
  for (const [family, raw] of Object.entries(familyConfigs(bl.size, gm.size))) {
    const gemma = family.startsWith("gemma3");
    // The multimodal Gemma 3 checkpoint stores its text model as transformers < 4.52 did, beside a vision tower;
    // Qwen3.5's under model.language_model, beside a vision tower and a multi-token-prediction head.
    const one = (name: string) => ({ name, shape: [8], data: new Float32Array(8).fill(1) });
    const multimodal = family === "gemma3-multimodal"
      ? { stored: (n: string) => n.replace(/^model\./, "language_model.model.").replace(/^lm_head\./, "language_model.lm_head."), extra: [one("vision_tower.vision_model.post_layernorm.weight")] }
      : family === "qwen35-multimodal"
        ? { stored: (n: string) => n.replace(/^model\./, "model.language_model."), extra: [one("model.visual.merger.norm.weight"), one("mtp.norm.weight")] }
        : {};
    const m = await writeModelFolder(join(tmp.dir, `fam-${family}`), raw, gemma ? gm : bl, 7, multimodal);
    const out = join(tmp.dir, `fam-${family}.gguf`);
    const r = await exportGguf({ model: m.dir }, out, { dtype: "f32" });
    assert.equal(r.architecture, archs[family]);
    if (family.endsWith("-multimodal")) assert.ok(r.notes.some((n) => /vision tower \(1 tensors\)/.test(n)), r.notes.join("; "));
    if (family === "qwen35-multimodal") assert.ok(r.notes.some((n) => /multi-token-prediction head \(1 tensors\)/.test(n)), r.notes.join("; "));
    const gen = await TextGenerator.load(m.dir, { threads: 2 });
    const tolerance = gemma ? 3e-3 : family.startsWith("qwen35") ? 3e-4 : 1e-4;
    try {
      const { model } = await compare(gen, out, "the model says hello to the user, and then", { tolerance });
      // Teacher-forced along a varied text too (greedy output of a random model repeats itself).
      const ids = gen.promptIds("the", { raw: true });
      const text = gen.tokenizer.encode(" model says hello to the user, and then the user answers 42 times.");
      const mine = await tunekitTeacherForced(gen, ids, text);
      const theirs = await llamaTeacherForced(model, ids, text);
      const worst = Math.max(...theirs.probs.map((p, i) => maxProbDiff(mine[i], p)));
      assert.ok(worst <= tolerance, `${family}: teacher-forced probabilities differ by up to ${worst}`);
      if (process.env.TUNEKIT_TEST_VERBOSE) console.log(`${family}: teacher-forced probabilities differ by up to ${worst}`);
      assert.deepEqual(theirs.argmax, mine.map(argmax), `${family}: teacher-forced argmax`);
      await model.dispose();
    } finally {
      await gen.dispose();
    }
  }
});

test("Qwen3.5 (qwen35): a run's merged GGUF gives tunekit's greedy tokens with the adapter, and base GGUF + --gguf-adapter gives the merged GGUF's", async () => {
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const m = await writeModelFolder(join(tmp.dir, "q35-lora"), familyConfigs(bl.size, 0).qwen35, bl, 7);
  const run = join(tmp.dir, "q35-run");
  // all-linear: the Gated DeltaNet's in_proj_qkv, in_proj_z and out_proj too, whose value heads llama.cpp reorders.
  await writeRun(run, m.dir, m.config, { r: 4, alpha: 8, targets: "all-linear" });
  const mergedOut = join(tmp.dir, "q35-merged.gguf");
  const baseOut = join(tmp.dir, "q35-base.gguf");
  const adapterOut = join(tmp.dir, "q35-lora.gguf");
  await exportGguf({ runDir: run }, mergedOut, { dtype: "f32" });
  await exportGguf({ model: m.dir }, baseOut, { dtype: "f32" });
  const md = (await readGgufFileInfo(baseOut)).metadata as unknown as { qwen35: Record<string, unknown> & { ssm: Record<string, unknown>; rope: Record<string, unknown> } };
  assert.deepEqual(md.qwen35.ssm, { conv_kernel: 4, state_size: 16, group_count: 2, time_step_rank: 4, inner_size: 64 });
  assert.equal(md.qwen35.full_attention_interval, 4);
  assert.equal(md.qwen35.rope.dimension_count, 8);
  const a = await exportGgufAdapter(run, adapterOut);
  assert.equal(a.architecture, "qwen35");
  const names = new Set((await readGgufFileInfo(adapterOut)).fullTensorInfo!.map((x) => x.name));
  for (const n of ["blk.0.attn_qkv.weight.lora_a", "blk.0.attn_gate.weight.lora_b", "blk.0.ssm_out.weight.lora_a", "blk.3.attn_q.weight.lora_b"]) assert.ok(names.has(n), `${n} missing from the adapter`);
  const gen = await TextGenerator.load(m.dir, { adapter: join(run, "adapter"), threads: 2 });
  try {
    const { tokens, model: merged } = await compare(gen, mergedOut, "the model says hello to the user, and then", { tolerance: 3e-4 });
    await merged.dispose();
    const ids = gen.promptIds("the model says hello to the user, and then", { raw: true });
    const base = await loadGguf(baseOut);
    const viaAdapter = await llamaGreedy(base, ids, GREEDY, { lora: adapterOut });
    const plain = await llamaGreedy(base, ids, GREEDY);
    await base.dispose();
    assert.deepEqual(viaAdapter, tokens, "base + adapter differs from the merged file");
    assert.notDeepEqual(plain, tokens, "the adapter should change the output");
  } finally {
    await gen.dispose();
  }
});

test("Qwen3.5 (qwen35): f16, bf16 and q8_0 GGUFs load in llama.cpp and keep tunekit's f32 top-1 token", async () => {
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const m = await writeModelFolder(join(tmp.dir, "q35-quant"), familyConfigs(bl.size, 0).qwen35, bl, 7);
  const gen = await TextGenerator.load(m.dir, { threads: 1 });
  try {
    const ids = gen.promptIds("the model says hello to the user, and then", { raw: true });
    const ref = await tunekitGreedy(gen, ids, GREEDY);
    for (const dtype of ["f16", "bf16", "q8_0"] as const) {
      const out = join(tmp.dir, `q35-${dtype}.gguf`);
      await exportGguf({ model: m.dir }, out, { dtype });
      const info = await readGgufFileInfo(out);
      const conv = info.fullTensorInfo!.find((x) => x.name === "blk.0.ssm_conv1d.weight")!;
      assert.equal(conv.ggmlType, GGML_TYPE.F32 as never, `${dtype}: ggml's ssm_conv needs an F32 kernel`);
      const model = await loadGguf(out);
      const tf = await llamaTeacherForced(model, ids, ref.tokens);
      await model.dispose();
      const agree = tf.argmax.filter((x, i) => x === ref.tokens[i]).length / ref.tokens.length;
      // Same bounds as stories260K's (measured on this model: 32/32, 32/32, 31/32).
      assert.ok(agree >= (dtype === "q8_0" ? 0.9 : 0.95), `${dtype}: top-1 agreement ${agree}`);
    }
  } finally {
    await gen.dispose();
  }
});

test("a tokenizer with Qwen3.5's split regex is written as pre-tokenizer qwen35, and llama.cpp splits text as tunekit does", async () => {
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  // Merges across a letter and its combining mark (e + U+0301, bytes CC 81), which only Qwen3.5's split keeps together.
  const bpe = bl.tokenizerJson.model as { vocab: Record<string, number>; merges: string[] };
  const byteChar = (b: number) => Object.keys(bpe.vocab).find((k) => bpe.vocab[k] === b)!;
  const [e, cc, x81] = [byteChar(0x65), byteChar(0xcc), byteChar(0x81)];
  const model = { ...bpe, vocab: { ...bpe.vocab, [e + cc]: bl.size, [e + cc + x81]: bl.size + 1 }, merges: [`${e} ${cc}`, `${e + cc} ${x81}`] };
  const tokenizerJson = { ...bl.tokenizerJson, model, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false }, { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false }] } };
  const m = await writeModelFolder(join(tmp.dir, "q35-tok"), familyConfigs(bl.size + 2, 0).qwen35, { ...bl, tokenizerJson }, 7);
  const out = join(tmp.dir, "q35-tok.gguf");
  const r = await exportGguf({ model: m.dir }, out, { dtype: "f32" });
  assert.deepEqual(r.tokenizer, { model: "gpt2", pre: "qwen35" });
  const gen = await TextGenerator.load(m.dir, { threads: 1 });
  const llama = await loadGguf(out);
  try {
    assert.ok(gen.tokenizer.encode("cafe\u0301").includes(bl.size + 1), "the merged e + U+0301 token is used");
    // Combining marks (decomposed accents, Devanagari, Thai) are where Qwen3.5's split differs from Qwen2's.
    for (const text of ["cafe\u0301 re\u0301sume\u0301, na\u0308ive", "नमस्ते दुनिया", "สวัสดีครับ 123 ok", "I'll say 'RE you sure? x\u0301\u0302!"]) {
      assert.deepEqual([...llama.tokenize(text)], gen.tokenizer.encode(text), `tokenization of ${JSON.stringify(text)}`);
    }
  } finally {
    await llama.dispose();
    await gen.dispose();
  }
});

/** node-llama-cpp's chat history for a conversation ending with a user turn (the model's reply is next). */
function chatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const h: ChatHistoryItem[] = messages.map((m) =>
    m.role === "assistant" ? { type: "model", response: [String(m.content)] } : m.role === "system" ? { type: "system", text: String(m.content) } : { type: "user", text: String(m.content) },
  );
  h.push({ type: "model", response: [] });
  return h;
}

test("the chat template stored in the GGUF renders a conversation to the tokens tunekit's renderer gives", async (t) => {
  const s = await smolRuns();
  if (!s) return t.skip("SmolLM2 tokenizer fixture missing");
  const out = join(tmp.dir, "smol-chat.gguf");
  await exportGguf({ runDir: s.run }, out, { dtype: "q8_0" });
  const info = await readGgufFileInfo(out);
  const stored = (info.metadata as unknown as { tokenizer: { chat_template: string } }).tokenizer.chat_template;
  assert.equal(stored, SMOLLM2_TEMPLATE);
  const model = await loadGguf(out);
  const gen = await TextGenerator.load(s.model, { threads: 1 });
  try {
    const wrapper = new JinjaTemplateChatWrapper({ template: stored });
    const conversations: ChatMessage[][] = [
      [{ role: "user", content: "Hi!" }],
      [
        { role: "system", content: "Answer in one line." },
        { role: "user", content: "What is GGUF?" },
        { role: "assistant", content: "A file format for llama.cpp." },
        { role: "user", content: "Who reads it?" },
      ],
    ];
    for (const c of conversations) {
      const state = wrapper.generateContextState({ chatHistory: chatHistory(c) });
      const theirs = [...state.contextText.tokenize(model.tokenizer)];
      const mine = encodeChatPrompt(gen.tokenizer, chatTemplateFor(gen.tokenizer), c);
      assert.deepEqual(theirs, mine, `conversation ${JSON.stringify(c)}`);
    }
  } finally {
    await gen.dispose();
    await model.dispose();
  }
});

test("a GGUF llama.cpp refuses fails with llama.cpp's own message", async () => {
  // A llama file whose rotary dimension does not match its head size: llama.cpp's loader refuses it.
  const out = join(tmp.dir, "bad-nrot.gguf");
  const tokens = ["<unk>", "<s>", "</s>", ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`)];
  const md = [
    kv.str("general.architecture", "llama"),
    kv.u32("llama.context_length", 64),
    kv.u32("llama.embedding_length", 32),
    kv.u32("llama.block_count", 1),
    kv.u32("llama.feed_forward_length", 32),
    kv.u32("llama.attention.head_count", 2),
    kv.f32("llama.attention.layer_norm_rms_epsilon", 1e-5),
    kv.u32("llama.rope.dimension_count", 8),
    kv.str("tokenizer.ggml.model", "llama"),
    kv.strings("tokenizer.ggml.tokens", tokens),
    kv.i32s("tokenizer.ggml.token_type", tokens.map((_, i) => (i < 3 ? 3 : 6))),
  ];
  const mat = (name: string, rows: number, cols: number) => ({ name, dims: [cols, rows], type: GGML_TYPE.F32, produce: (w: (b: Uint8Array) => Promise<void>) => w(encodeRows(GGML_TYPE.F32, new Float32Array(rows * cols).fill(0.01), cols)) });
  const vec = (name: string, n: number) => ({ name, dims: [n], type: GGML_TYPE.F32, produce: (w: (b: Uint8Array) => Promise<void>) => w(encodeRows(GGML_TYPE.F32, new Float32Array(n).fill(1), n)) });
  await writeGguf(out, md, [
    mat("token_embd.weight", tokens.length, 32),
    vec("blk.0.attn_norm.weight", 32),
    mat("blk.0.attn_q.weight", 32, 32),
    mat("blk.0.attn_k.weight", 32, 32),
    mat("blk.0.attn_v.weight", 32, 32),
    mat("blk.0.attn_output.weight", 32, 32),
    vec("blk.0.ffn_norm.weight", 32),
    mat("blk.0.ffn_gate.weight", 32, 32),
    mat("blk.0.ffn_up.weight", 32, 32),
    mat("blk.0.ffn_down.weight", 32, 32),
    vec("output_norm.weight", 32),
  ]);
  await assert.rejects(loadGguf(out), (e: Error) => /llama\.cpp refused/.test(e.message) && /invalid n_rot: 8, expected 16/.test(e.message));
  assert.ok(existsSync(out));
});
