/**
 * tunekit's BPE over tiktoken ranks (the counter's merge step) and its rank cache in $TUNEKIT_HOME/cache.
 * The counts through the whole fast counter are checked against gpt-tokenizer in openai.test.ts; here
 * the merge loop alone, on chunks of every kind, and the cache's behaviour.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import o200kApi from "gpt-tokenizer/encoding/o200k_base";
import cl100kApi from "gpt-tokenizer/encoding/cl100k_base";
import { loadRankTable, RankTable, type RankSource } from "../../src/tokenize/tiktokenRanks.js";
import { openAiSplitRegex } from "../../src/tokenize/openai.js";
import { tempDir } from "../helpers/fixtures.js";

const tmp = tempDir("tunekit-ranks-");
test.after(() => tmp.cleanup());

type Core = { bytePairRankDecoder: (string | number[])[]; bytePairEncode(s: string): number[] };
const coreOf = (api: unknown) => (api as { bytePairEncodingCoreProcessor: Core }).bytePairEncodingCoreProcessor;

const TEXT = [
  "Hello, world! It's 3.14159 o'clock; we'll see.\n\n  Indented\tcode() {}",
  "internationalization antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
  "Ünïcödé façade — naïve café, 東京タワー, Привет мир, مرحبا, 🙂🚀👩‍👩‍👧",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ==================== 0000000000 $$$$",
  "{\"json\": [1, 2, 3], \"key\": null}\r\n<|endoftext|> https://example.com/a?b=c#d",
  "\u0000\u0001\u007f \u00a0\u2028 \ud83d",
].join(" ");

for (const [name, api] of [["o200k_base", o200kApi], ["cl100k_base", cl100kApi]] as const) {
  test(`${name}: the merge loop makes as many tokens as gpt-tokenizer for every chunk`, () => {
    const core = coreOf(api);
    const table = RankTable.fromTokens(core.bytePairRankDecoder);
    const re = openAiSplitRegex(name);
    let chunks = 0;
    for (const m of TEXT.matchAll(re)) {
      const chunk = m[0];
      assert.equal(table.count(chunk), core.bytePairEncode(chunk).length, JSON.stringify(chunk));
      chunks++;
    }
    assert.ok(chunks > 50);
    // Every token's own bytes rank as that token.
    const enc = new TextEncoder();
    for (const r of [0, 1, 255, 1000, 50_000, 99_999]) {
      const t = core.bytePairRankDecoder[r];
      const bytes = typeof t === "string" ? enc.encode(t) : Uint8Array.from(t);
      assert.equal(table.rankOf(bytes, 0, bytes.length), r);
    }
  });
}

const tiny: RankSource = {
  // A byte-level vocabulary of four bytes and two merges.
  tokens: ["a", "b", "c", [0xff], "ab", "abc"],
  vocabularySize: 6,
  special: [["<|end|>", 6]],
};

test("the rank table is cached in $TUNEKIT_HOME/cache and read back without the source", () => {
  const home = join(tmp.dir, "home");
  const env = { TUNEKIT_HOME: home };
  let calls = 0;
  const first = loadRankTable("test-ranks", () => (calls++, tiny), env);
  assert.equal(calls, 1);
  const files = readdirSync(join(home, "cache"));
  assert.deepEqual(files, ["test-ranks.ranks"]);
  const second = loadRankTable("test-ranks", () => (calls++, tiny), env);
  assert.equal(calls, 1, "the second load must come from the cache");
  assert.deepEqual(second!.info, { vocabularySize: 6, special: [["<|end|>", 6]] });
  for (const t of [first!.table, second!.table]) {
    assert.equal(t.count("abc"), 1);
    assert.equal(t.count("abcab"), 2);
    assert.equal(t.count("cba"), 3);
    assert.equal(t.rankOf(Uint8Array.of(0xff), 0, 1), 3);
  }
  // Other data under another id does not reuse the file.
  loadRankTable("other-ranks", () => (calls++, tiny), env);
  assert.equal(calls, 2);
});

test("a damaged or truncated cache file is rebuilt, not trusted", () => {
  const home = join(tmp.dir, "home-damaged");
  const env = { TUNEKIT_HOME: home };
  loadRankTable("test-ranks", () => tiny, env);
  const file = join(home, "cache", "test-ranks.ranks");
  const good = readFileSync(file);
  for (const bad of [good.subarray(0, good.length - 3), Buffer.from("garbage"), Buffer.alloc(0)]) {
    writeFileSync(file, bad);
    let calls = 0;
    const r = loadRankTable("test-ranks", () => (calls++, tiny), env);
    assert.equal(calls, 1);
    assert.equal(r!.table.count("abcab"), 2);
    assert.deepEqual(readFileSync(file), good, "the rebuilt cache replaces the damaged one");
  }
});

test("TUNEKIT_CACHE=0 and an unwritable home still count, with no cache file", () => {
  const off = join(tmp.dir, "home-off");
  const r = loadRankTable("test-ranks", () => tiny, { TUNEKIT_HOME: off, TUNEKIT_CACHE: "0" });
  assert.equal(r!.table.count("abc"), 1);
  assert.equal(existsSync(off), false);
  if (process.getuid?.() === 0) return; // root writes anywhere: the read-only case cannot be made here
  const ro = join(tmp.dir, "home-ro");
  loadRankTable("x", () => tiny, { TUNEKIT_HOME: ro }); // creates the folders
  chmodSync(join(ro, "cache"), 0o500);
  try {
    const r2 = loadRankTable("test-ranks", () => tiny, { TUNEKIT_HOME: ro });
    assert.equal(r2!.table.count("abcab"), 2);
    assert.equal(existsSync(join(ro, "cache", "test-ranks.ranks")), false);
  } finally {
    chmodSync(join(ro, "cache"), 0o700);
  }
});

test("long chunks merge through a heap: the counts of gpt-tokenizer, and a 300,000-letter word in seconds, not a minute", () => {
  const core = coreOf(o200kApi);
  const table = RankTable.fromTokens(core.bytePairRankDecoder);
  let seed = 7;
  const rnd = (k: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % k);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const chunks = [
    "a".repeat(257),
    "ab".repeat(700),
    Array.from({ length: 3000 }, () => letters[rnd(26)]).join(""),
    Array.from({ length: 1200 }, () => letters[rnd(3)]).join(""),
    "é".repeat(400) + "ü".repeat(333),
    Array.from({ length: 900 }, () => String.fromCharCode(0x4e00 + rnd(50))).join(""),
  ];
  for (const chunk of chunks) assert.equal(table.count(chunk), core.bytePairEncode(chunk).length, `${chunk.slice(0, 20)}... (${chunk.length})`);
  const word = Array.from({ length: 300_000 }, () => letters[rnd(26)]).join("");
  const t0 = performance.now();
  const n = table.count(word);
  const seconds = (performance.now() - t0) / 1000;
  assert.ok(n > 50_000 && n < 300_000, `${n} tokens`);
  // The quadratic scan took 55 s here; the heap well under 1 s (a loaded CI machine gets the slack).
  assert.ok(seconds < 5, `${seconds.toFixed(2)} s for 300,000 letters`);
});
