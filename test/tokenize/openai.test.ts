import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import o200kApi from "gpt-tokenizer/encoding/o200k_base";
import cl100kApi from "gpt-tokenizer/encoding/cl100k_base";
import {
  getOpenAiTokenizer,
  openAiEncodingForModel,
  openAiSplitRegex,
  openAiTokenizerForModel,
  type OpenAiEncodingName,
} from "../../src/tokenize/openai.js";
import { nextCl100k, nextO200k } from "../../src/tokenize/openaiPretokenize.js";
import { countChatTokens, countChatTokensDetailed } from "../../src/tokenize/chatTokens.js";
import { fineTuneTokenLimit } from "../../src/tokenize/limits.js";
import { TunekitError } from "../../src/util/errors.js";
import type { ChatExample } from "../../src/dataset/types.js";
import { sharedFixturesDir } from "../helpers/fixtures.js";
import { seededRandom } from "../../src/util/random.js";

/** Deterministic PRNG so a failure reproduces. */
const rng = seededRandom;

// Pieces chosen to hit every branch of the pre-tokenisation regexes: contractions in both cases,
// leading punctuation, runs of spaces/tabs/newlines/CR, '/', digits, camelCase, ALLCAPS, and (for
// the fallback) non-ASCII letters, marks, emoji, non-ASCII spaces.
const ASCII_PIECES = [
  "hello", " world", "Hello", "HTML", "Parser", "McDonald", "don't", "DON'T", "we'll", "they'RE", "I've", "'s", "'S",
  "'ll", "'x", "' ", "it's", "x'", "''", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\r", "\v", "\f",
  "123", "4567", "3.14", "1,000,000", "(", ")", "!", "?!", "...", "/", "//", "/\n", "a/b", " /", "-", "--", "_", "__init__",
  "#", "@user", "$5", "%", "&&", "{\"a\": 1}", "<|endoftext|>", "<|im_start|>", "\u0000", "\u001b[0m", "~", "`code`",
  "x", "Q", "aB", "Ab", "ABc", "e.g.", "U.S.A.", "snake_case", "kebab-case", "CamelCaseWord", "end.",
];
const UNICODE_PIECES = [
  "café", "naïve", "Ünïcödé", "日本語", "中文字符", "한국어", "Привет", "ΕΛΛΗΝΙΚΆ", "مرحبا", "עברית", "हिन्दी", "🙂", "👩‍💻",
  "e\u0301", "\u00a0", "\u2028", "\u3000", "٣٤٥", "½", "Ⅻ", "ǅ", "ʰ", "—", "“quoted”", "…", "\ud83d", "ﬁ",
];

function randomText(r: () => number, unicode: boolean): string {
  const n = 1 + Math.floor(r() * 40);
  let s = "";
  for (let i = 0; i < n; i++) {
    const pool = unicode && r() < 0.3 ? UNICODE_PIECES : ASCII_PIECES;
    s += pool[Math.floor(r() * pool.length)];
  }
  return s;
}

/** Every string value in the real datasets (when present): realistic text of many kinds. */
function realTexts(): string[] {
  const dir = join(sharedFixturesDir, "datasets");
  if (!existsSync(dir)) {
    process.stderr.write(`\n*** SKIPPING part of the corpus: shared fixture missing: ${dir} ***\n`);
    return [];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  const files: string[] = [];
  const list = (d: string): void => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      if (f.isDirectory()) list(join(d, f.name));
      else if (/\.(jsonl|json)$/.test(f.name)) files.push(join(d, f.name));
    }
  };
  list(dir);
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".jsonl")) {
      for (const line of text.split("\n")) {
        try {
          walk(JSON.parse(line));
        } catch {
          // broken lines are other tests' business
        }
      }
    } else {
      try {
        walk(JSON.parse(text));
      } catch {
        /* not ours */
      }
    }
  }
  return out;
}

const apis = { o200k_base: o200kApi, cl100k_base: cl100kApi } as const;
const scanners = { o200k_base: nextO200k, cl100k_base: nextCl100k } as const;

let corpusCache: string[] | undefined;
function corpus(): string[] {
  if (corpusCache !== undefined) return corpusCache;
  const r = rng(12345);
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) texts.push(randomText(r, false));
  for (let i = 0; i < 1500; i++) texts.push(randomText(r, true));
  corpusCache = texts.concat(realTexts());
  return corpusCache;
}

for (const enc of ["o200k_base", "cl100k_base"] as OpenAiEncodingName[]) {
  test(`${enc}: the ASCII scanner splits exactly like the regex`, () => {
    const re = new RegExp(openAiSplitRegex(enc).source, "gu");
    const scan = scanners[enc];
    let checked = 0;
    for (const s of corpus()) {
      if (/[^\x00-\x7f]/.test(s)) {
        // Non-ASCII text must make the scanner give up (it never guesses).
        let i = 0;
        let gaveUp = false;
        while (i < s.length) {
          const e = scan(s, i, s.length);
          if (e < 0) {
            gaveUp = true;
            break;
          }
          i = e;
        }
        assert.ok(gaveUp, `scanner did not give up on non-ASCII text ${JSON.stringify(s)}`);
        continue;
      }
      const expected = [...s.matchAll(re)].map((m) => m[0]);
      const got: string[] = [];
      for (let i = 0; i < s.length; ) {
        const e = scan(s, i, s.length);
        assert.ok(e > i, `scanner returned ${e} at ${i} for ${JSON.stringify(s)}`);
        got.push(s.slice(i, e));
        i = e;
      }
      assert.deepEqual(got, expected, `split differs for ${JSON.stringify(s)}`);
      checked++;
    }
    assert.ok(checked > 2000);
  });

  test(`${enc}: fast count() equals gpt-tokenizer's count on a large varied corpus`, () => {
    const tok = getOpenAiTokenizer(enc);
    const api = apis[enc];
    let total = 0;
    const texts = corpus();
    // Twice: the second pass goes through the caches.
    for (let pass = 0; pass < 2; pass++) {
      for (const s of texts) {
        const expected = api.countTokens(s, { disallowedSpecial: new Set() });
        const got = tok.count(s);
        if (got !== expected) assert.equal(got, expected, `count differs for ${JSON.stringify(s)}`);
        total += got;
      }
    }
    assert.ok(total > 10_000);
  });
}

test("known encodings: 'hello world' in cl100k_base and o200k_base", () => {
  // Values published in tiktoken's README / widely cited: cl100k [15339, 1917], o200k [24912, 2375].
  assert.deepEqual(getOpenAiTokenizer("cl100k_base").encode("hello world"), [15339, 1917]);
  assert.deepEqual(getOpenAiTokenizer("o200k_base").encode("hello world"), [24912, 2375]);
});

test("encode/decode round trip, special tokens only when allowed", () => {
  const tok = getOpenAiTokenizer("o200k_base");
  const s = "Ünïcödé 🙂 and <|endoftext|> as text";
  assert.equal(tok.decode(tok.encode(s)), s);
  const asText = tok.encode("<|endoftext|>");
  assert.ok(asText.length > 1);
  assert.deepEqual(tok.encode("<|endoftext|>", { allowSpecial: true }), [tok.eosTokenId]);
  assert.equal(tok.count("<|endoftext|>"), asText.length);
  assert.equal(tok.decode([tok.eosTokenId!, ...tok.encode("hi")], { skipSpecialTokens: true }), "hi");
  assert.equal(tok.tokenToId("<|endoftext|>"), 199999);
  assert.equal(tok.idToToken(tok.tokenToId("hello")!), "hello");
  assert.deepEqual(tok.stopTokenIds, [199999]);
});

test("model names map to encodings", () => {
  for (const m of ["gpt-4o", "gpt-4o-mini-2024-07-18", "gpt-4.1-nano", "gpt-5", "o1", "o3-mini", "o4-mini", "chatgpt-4o-latest", "ft:gpt-4o-mini-2024-07-18:acme::abc123"])
    assert.equal(openAiEncodingForModel(m), "o200k_base", m);
  for (const m of ["gpt-4", "gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo-0125", "text-embedding-3-small"])
    assert.equal(openAiEncodingForModel(m), "cl100k_base", m);
  assert.equal(openAiEncodingForModel("llama-3"), undefined);
  assert.throws(() => openAiTokenizerForModel("claude-3"), (e: unknown) => e instanceof TunekitError && e.code === "unknown_model");
  assert.equal(openAiTokenizerForModel("o200k_base").name, "o200k_base");
});

test("fine-tuning per-example limits", () => {
  assert.equal(fineTuneTokenLimit("gpt-4o-mini-2024-07-18"), 65_536);
  assert.equal(fineTuneTokenLimit("gpt-4o-2024-08-06"), 65_536);
  assert.equal(fineTuneTokenLimit("gpt-3.5-turbo-0125"), 16_385);
  assert.equal(fineTuneTokenLimit("gpt-3.5-turbo-0613"), 4_096);
  assert.equal(fineTuneTokenLimit("gpt-4.1-mini-2025-04-14"), 65_536);
  assert.equal(fineTuneTokenLimit("ft:gpt-4o-mini-2024-07-18:acme::x1"), 65_536);
  assert.equal(fineTuneTokenLimit("llama"), undefined);
});

// The example of OpenAI's cookbook "How to count tokens with tiktoken"; the notebook prints 129 prompt
// tokens for gpt-3.5-turbo / gpt-4 (cl100k_base) and 124 for gpt-4o / gpt-4o-mini (o200k_base), which
// matched the API's usage.prompt_tokens there.
const cookbookExample: ChatExample = {
  messages: [
    { role: "system", content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English." },
    { role: "system", name: "example_user", content: "New synergies will help drive top-line growth." },
    { role: "system", name: "example_assistant", content: "Things working well together will increase revenue." },
    { role: "system", name: "example_user", content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage." },
    { role: "system", name: "example_assistant", content: "Let's talk later when we're less busy about how to do better." },
    { role: "user", content: "This late pivot means we don't have time to boil the ocean for the client deliverable." },
  ],
};

test("countChatTokens reproduces the cookbook's numbers", () => {
  assert.equal(countChatTokens(cookbookExample, getOpenAiTokenizer("cl100k_base")), 129);
  assert.equal(countChatTokens(cookbookExample, getOpenAiTokenizer("o200k_base")), 124);
});

test("countChatTokens: rule by rule", () => {
  const tok = getOpenAiTokenizer("o200k_base");
  const c = (s: string) => tok.count(s);
  const ex: ChatExample = {
    messages: [
      { role: "user", content: "What is the weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "c1", content: '{"temp": 21}' },
      { role: "assistant", content: "It is 21 °C.", weight: 0 },
      { role: "assistant", content: "Sunny, 21 °C." },
    ],
  };
  const expected =
    3 +
    (3 + c("user") + c("What is the weather in Paris?")) +
    (3 + c("assistant") + 3 + c("get_weather") + c('{"city":"Paris"}')) +
    (3 + c("tool") + c('{"temp": 21}')) +
    (3 + c("assistant") + c("It is 21 °C.")) +
    (3 + c("assistant") + c("Sunny, 21 °C."));
  const d = countChatTokensDetailed(ex, tok);
  assert.equal(d.total, expected);
  assert.equal(d.assistant, 3 + c("get_weather") + c('{"city":"Paris"}') + c("It is 21 °C.") + c("Sunny, 21 °C."));
  assert.equal(d.trainedAssistant, d.assistant - c("It is 21 °C."));

  const withTools: ChatExample = {
    ...ex,
    messages: [{ role: "system", content: "Be brief." }, ...ex.messages],
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Current weather",
          parameters: { type: "object", properties: { city: { type: "string", description: "City name" } }, required: ["city"] },
        },
      },
    ],
  };
  const defs = "namespace functions {\n\n// Current weather\ntype get_weather = (_: {\n// City name\ncity: string,\n}) => any;\n\n} // namespace functions";
  const base = countChatTokens({ messages: withTools.messages }, tok);
  assert.equal(countChatTokens(withTools, tok), base + c(defs) + 9 + 1);
});
