import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer as PkgTokenizer } from "@huggingface/tokenizers";
import { HfTokenizer, loadTokenizerFromDir } from "../../src/tokenize/hf.js";
import { translateOniguruma } from "../../src/tokenize/hf/patterns.js";
import { StreamDecoder } from "../../src/tokenize/streamDecode.js";
import { TunekitError } from "../../src/util/errors.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";

// ------------------------------------------------------------------------------------------------
// Varied text used by the cross-checks below.
const VARIED = [
  "Hello world",
  "Once upon a time, there was a little girl named Lily.",
  "  two  spaces and\ttabs\n\nnew lines\r\nCRLF",
  "don't DON'T we'll they're I've it's",
  "12345 3.14159 1,000,000 0x1F",
  "café naïve Ünïcödé résumé",
  "日本語のテキスト 中文 한국어",
  "Привет, мир! Ελληνικά",
  "emoji 🙂👩‍💻🎉 and flags 🇫🇷",
  "e\u0301 combining, \u00a0nbsp, \u2028 line sep",
  "code: function f(x) { return x * 2; } // comment",
  '{"json": [1, 2, {"a": null}], "s": "q\\"uote"}',
  "URL https://example.com/a/b?c=d&e=f#g",
  "<|im_start|> written as text <|im_end|>",
  "",
  " ",
  "\n",
  "trailing space ",
  "MixedCASE camelCase snake_case kebab-case",
  "a".repeat(500),
];

// ------------------------------------------------------------------------------------------------
// Always-run tests: tiny tokenizers built here.

/** A byte-level BPE over the 256 byte characters with three merges. */
function tinyByteLevel(): HfTokenizer {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const vocab: Record<string, number> = {};
  let extra = 0;
  for (let b = 0; b < 256; b++) vocab[printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++)] = b;
  vocab["Ġt"] = 256;
  vocab["he"] = 257;
  vocab["Ġthe"] = 258;
  return new HfTokenizer({
    name: "tiny-bl",
    tokenizerJson: {
      added_tokens: [
        { id: 259, content: "<|end|>", special: true },
        { id: 260, content: "<x>", special: false },
      ],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
      post_processor: null,
      decoder: { type: "ByteLevel" },
      model: { type: "BPE", vocab, merges: ["Ġ t", "h e", "Ġt he"], byte_fallback: false, unk_token: null },
    },
    tokenizerConfig: { eos_token: "<|end|>" },
  });
}

test("tiny byte-level BPE: merges, bytes, added tokens, special only when allowed", () => {
  const t = tinyByteLevel();
  // " the" -> Ġt + he -> Ġthe (rank 2); "the" -> t + he (no Ġ)
  assert.deepEqual(t.encode(" the"), [258]);
  assert.deepEqual(t.encode("the"), ["t".charCodeAt(0), 257]);
  // é is two UTF-8 bytes C3 A9, each its own byte token (C3 and A9 are printable Latin-1).
  assert.deepEqual(t.encode("é"), [0xc3, 0xa9]);
  assert.deepEqual(t.encode("a<|end|>", { allowSpecial: true }), [97, 259]);
  assert.equal(t.encode("a<|end|>").length, 8); // as plain text
  assert.deepEqual(t.encode("a<x>b"), [97, 260, 98]); // non-special added tokens always match
  assert.equal(t.decode(t.encode("héllo the 🙂")), "héllo the 🙂");
  assert.equal(t.decode([97, 259, 98], { skipSpecialTokens: true }), "ab");
  assert.equal(t.eosTokenId, 259);
  assert.deepEqual(t.stopTokenIds, [259]);
  assert.equal(t.count(" the the"), 2);
});

/** A SentencePiece-style BPE (Metaspace normaliser, byte fallback) with a few merges. */
function tinySentencePiece(): HfTokenizer {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  let id = 259;
  for (const tok of ["▁", "a", "b", "c", "▁a", "▁ab", "bc"]) vocab[tok] = id++;
  return new HfTokenizer({
    name: "tiny-sp",
    tokenizerJson: {
      added_tokens: [
        { id: 0, content: "<unk>", special: true },
        { id: 1, content: "<s>", special: true },
        { id: 2, content: "</s>", special: true },
      ],
      normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
      pre_tokenizer: null,
      post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
      decoder: {
        type: "Sequence",
        decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }],
      },
      model: { type: "BPE", vocab, merges: [["▁", "a"], ["▁a", "b"], ["b", "c"]], byte_fallback: true, fuse_unk: true, unk_token: "<unk>" },
    },
    tokenizerConfig: { bos_token: "<s>", eos_token: "</s>", add_bos_token: true, add_eos_token: false },
  });
}

test("tiny SentencePiece-style BPE: prefix space, merge order, byte fallback, BOS", () => {
  const t = tinySentencePiece();
  const v = (s: string) => t.tokenToId(s)!;
  // "abc" -> "▁abc": ▁+a (rank 0) -> ▁a; ▁a+b (rank 1) vs b+c (rank 2): ▁ab wins, then c stays.
  assert.deepEqual(t.encode("abc"), [v("▁ab"), v("c")]);
  assert.deepEqual(t.encode("abc", { addSpecialTokens: true }), [1, v("▁ab"), v("c")]);
  // "é" is not in the vocabulary: bytes C3 A9 -> <0xC3> <0xA9> (ids 3 + byte)
  assert.deepEqual(t.encode("é"), [v("▁"), 3 + 0xc3, 3 + 0xa9]);
  assert.equal(t.decode(t.encode("abc é bc")), "abc é bc");
  assert.equal(t.decode([1, ...t.encode("ab")], { skipSpecialTokens: true }), "ab");
  assert.equal(t.bosTokenId, 1);
  assert.equal(t.eosTokenId, 2);
});

test("Metaspace pre-tokenizer (newer Llama/Mistral files) encodes like the Prepend+Replace normaliser", () => {
  const a = tinySentencePiece();
  const json = {
    added_tokens: [
      { id: 0, content: "<unk>", special: true },
      { id: 1, content: "<s>", special: true },
      { id: 2, content: "</s>", special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "first" },
    model: {
      type: "BPE",
      vocab: Object.fromEntries((a as unknown as { vocab: Map<string, number> }).vocab),
      merges: [["▁", "a"], ["▁a", "b"], ["b", "c"]],
      byte_fallback: true,
      unk_token: "<unk>",
    },
  };
  const b = new HfTokenizer({ name: "meta", tokenizerJson: json });
  for (const s of ["abc", "abc ab bc", "é b"]) assert.deepEqual(b.encode(s), a.encode(s), s);
  // Unlike the legacy Prepend normaliser, Metaspace adds no "▁" to text that already starts with a space.
  assert.deepEqual(b.encode(" a"), [b.tokenToId("▁a")!]);
  assert.deepEqual(a.encode(" a"), [a.tokenToId("▁")!, a.tokenToId("▁a")!]);
  // And the independent @huggingface/tokenizers implementation agrees on both files.
  const pkgB = new PkgTokenizer({ ...json, post_processor: null }, {});
  for (const s of ["abc", " a", "abc ab bc", "é b", "  x"]) assert.deepEqual(b.encode(s), pkgB.encode(s, { add_special_tokens: false }).ids, s);
  assert.equal(b.decode(b.encode("abc ab")), "abc ab");
  // "first": text after a special token at the start gets no prefix space.
  assert.deepEqual(b.encode("<s>ab", { allowSpecial: true }), [1, b.tokenToId("a")!, b.tokenToId("b")!]);
});

test("streaming decode returns only complete characters", () => {
  const t = tinySentencePiece();
  const ids = t.encode("a é 🙂 bc");
  const s = new StreamDecoder(t);
  const pieces = ids.map((id) => s.push(id));
  const all = pieces.join("") + s.flush();
  assert.equal(all, "a é 🙂 bc");
  for (const p of pieces) assert.ok(!p.includes("\uFFFD"), `partial character leaked: ${JSON.stringify(p)}`);
  // The 4 bytes of 🙂 arrive one by one: three pushes return "" and the fourth the emoji.
  assert.ok(pieces.filter((p) => p === "").length >= 3);
  // An incomplete character at the very end is flushed as U+FFFD, never lost silently.
  const s2 = new StreamDecoder(t);
  for (const id of t.encode("🙂").slice(0, 2)) s2.push(id);
  assert.ok(s2.flush().includes("\uFFFD"));
});

test("Oniguruma patterns of real tokenizers translate to JavaScript", () => {
  // Llama 3's split pattern.
  const llama3 = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
  const re = new RegExp(translateOniguruma(llama3), "gu");
  assert.deepEqual("I'LL don't 12345".match(re), ["I", "'LL", " don", "'t", " ", "123", "45"]);
  assert.throws(() => translateOniguruma("(?i:a.b)"), TunekitError);
});

test("loadTokenizerFromDir: clear errors for missing folder / file / unsupported model", () => {
  const { dir, cleanup } = tempDir();
  return (async () => {
    await assert.rejects(loadTokenizerFromDir(join(dir, "nope")), (e: unknown) => e instanceof TunekitError && e.code === "model_not_found");
    await assert.rejects(loadTokenizerFromDir(dir), (e: unknown) => e instanceof TunekitError && e.code === "missing_tokenizer");
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({ model: { type: "WordPiece", vocab: {} } }));
    await assert.rejects(loadTokenizerFromDir(dir), (e: unknown) => e instanceof TunekitError && e.code === "unsupported_tokenizer");
    writeFileSync(join(dir, "tokenizer.json"), "{ truncated");
    await assert.rejects(loadTokenizerFromDir(dir), (e: unknown) => e instanceof TunekitError && e.code === "invalid_json");
  })().finally(cleanup);
});

// ------------------------------------------------------------------------------------------------
// Real tokenizers from the shared fixtures.

/**
 * An independent encoder in the style of llama2.c's run.c, over its own tokenizer file tok512.bin
 * (vocabulary with merge scores; "▁" stored as a space): dummy-prefix space, one token per UTF-8
 * character (byte fallback: id = byte + 3), then repeatedly merge the adjacent pair whose
 * concatenation is in the vocabulary with the highest score (leftmost on ties).
 */
function llama2cEncoder(tokBin: string): (text: string) => number[] {
  const buf = readFileSync(tokBin);
  let off = 4; // max_token_length
  const vocab: string[] = [];
  const scores: number[] = [];
  while (off < buf.length) {
    scores.push(buf.readFloatLE(off));
    const len = buf.readInt32LE(off + 4);
    vocab.push(buf.subarray(off + 8, off + 8 + len).toString("utf8"));
    off += 8 + len;
  }
  const lookup = new Map<string, number>();
  vocab.forEach((s, i) => {
    if (!lookup.has(s)) lookup.set(s, i);
  });
  return (text: string) => {
    const tokens: number[] = [];
    if (text.length > 0) tokens.push(lookup.get(" ")!);
    for (const ch of text) {
      const id = lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const b of Buffer.from(ch, "utf8")) tokens.push(b + 3);
    }
    for (;;) {
      let best = -Infinity;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const id = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]]);
        if (id !== undefined && scores[id] > best) {
          best = scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return tokens;
  };
}

/** Sentences from the real datasets (when present) for bulk cross-checks. */
function realSentences(limit: number): string[] {
  const f = sharedFixture("datasets", "real", "allyarc-oai", "train.jsonl");
  if (!f) return [];
  const out: string[] = [];
  for (const line of readFileSync(f, "utf8").split("\n")) {
    if (!line) continue;
    for (const m of JSON.parse(line).messages) if (typeof m.content === "string") out.push(m.content);
    if (out.length >= limit) break;
  }
  return out;
}

test("stories260K: ids equal an independent llama2.c-style encoder over tok512.bin", async (t) => {
  const dir = sharedFixture("models", "stories260K");
  const bin = sharedFixture("models", "stories260K-llama2c", "tok512.bin");
  if (!dir || !bin) return t.skip("shared fixtures missing (see notice above)");
  const tok = await loadTokenizerFromDir(dir);
  const ref = llama2cEncoder(bin);
  const texts = [...VARIED, ...realSentences(400)];
  for (const s of texts) assert.deepEqual(tok.encode(s), ref(s), `ids differ for ${JSON.stringify(s.slice(0, 80))}`);
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.bosTokenId, 1);
  assert.equal(tok.eosTokenId, 2);
  assert.deepEqual(tok.encode("Once", { addSpecialTokens: true }).slice(0, 1), [1]); // add_bos_token: true
  assert.equal(tok.chatTemplate, undefined);
  for (const s of VARIED) assert.equal(tok.decode(tok.encode(s)), s, `round trip of ${JSON.stringify(s)}`);
  // The story the model starts with from BOS, as the fixtures README gives it.
  assert.equal(tok.decode(tok.encode("Once upon a time, there was a little girl named Lily.")), "Once upon a time, there was a little girl named Lily.");
});

test("SmolLM2: special ids, hand-checked encodings, round trips, agreement with @huggingface/tokenizers", async (t) => {
  const dir = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (!dir) return t.skip("shared fixture missing (see notice above)");
  const tok = await loadTokenizerFromDir(dir);
  const raw = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const vocab = raw.model.vocab as Record<string, number>;
  assert.equal(tok.vocabSize, 49_152);
  assert.equal(tok.tokenToId("<|endoftext|>"), 0);
  assert.equal(tok.tokenToId("<|im_start|>"), 1);
  assert.equal(tok.tokenToId("<|im_end|>"), 2);
  // No tokenizer_config.json in the fixture: BOS/EOS come from config.json (bos 1, eos 2).
  assert.equal(tok.eosTokenId, 2);
  assert.ok(tok.stopTokenIds.includes(2));
  assert.ok(tok.stopTokenIds.includes(0)); // <|endoftext|> also stops generation
  // Hand-checked: byte-level pieces "Hello", "Ġworld" are whole vocabulary entries; the Digits
  // pre-tokenizer isolates each digit; "\n" is the byte character "Ċ".
  assert.deepEqual(tok.encode("Hello world"), [vocab["Hello"], vocab["Ġworld"]]);
  assert.deepEqual(tok.encode("2024"), ["2", "0", "2", "4"].map((d) => vocab[d]));
  assert.deepEqual(tok.encode("<|im_start|>user\nHi<|im_end|>", { allowSpecial: true }), [1, vocab["user"], vocab["Ċ"], vocab["Hi"], 2]);
  assert.ok(tok.encode("<|im_start|>").length > 1, "special token text is plain text unless allowed");
  for (const s of VARIED) assert.equal(tok.decode(tok.encode(s)), s, `round trip of ${JSON.stringify(s)}`);
  // An independent implementation (the pure-JS @huggingface/tokenizers package) agrees on every text.
  const pkg = new PkgTokenizer(raw, {});
  for (const s of [...VARIED, ...realSentences(300)]) {
    assert.deepEqual(tok.encode(s, { allowSpecial: true }), pkg.encode(s, { add_special_tokens: false }).ids, `ids differ for ${JSON.stringify(s.slice(0, 80))}`);
  }
  // Streaming decode of a text whose emoji spans several byte-level tokens.
  const ids = tok.encode("ok 🙂👩‍💻 done");
  const sd = new StreamDecoder(tok);
  const parts = ids.map((id) => sd.push(id));
  assert.equal(parts.join("") + sd.flush(), "ok 🙂👩‍💻 done");
  for (const p of parts) assert.ok(!p.includes("\uFFFD"));
});

test("stories260K also agrees with @huggingface/tokenizers", async (t) => {
  const dir = sharedFixture("models", "stories260K");
  if (!dir) return t.skip("shared fixture missing (see notice above)");
  const tok = await loadTokenizerFromDir(dir);
  const pkg = new PkgTokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")), JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
  for (const s of [...VARIED, ...realSentences(100)])
    assert.deepEqual(tok.encode(s, { addSpecialTokens: true }), pkg.encode(s).ids, `ids differ for ${JSON.stringify(s.slice(0, 80))}`);
});
