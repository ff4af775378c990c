import { test } from "node:test";
import assert from "node:assert/strict";
import { Hash53, hash53, fmix32, combine32, isSpaceCode } from "../../src/dataset/analysis/hash.js";
import { MINHASH_BINS, minhashSignature, minhashSignature8 } from "../../src/dataset/analysis/minhash.js";
import { SIGNATURE_BYTES, SignatureStore } from "../../src/dataset/analysis/near-duplicates.js";

// Texts with the cases the one-pass scanners must get right: whitespace runs of every kind, CRLF,
// accents, CJK, astral letters (surrogate pairs), emoji, digits, punctuation-only, empty.
const TEXTS = [
  "  Hello   World \n\t x ",
  "",
  "   ",
  "Ünïcödé TEXT\u00a0with\u2003odd\u3000spaces\ufeff",
  "日本語のテキスト です。 漢字",
  "emoji 😀 and 𝐀𝐁𝐂 math letters, ok",
  "Order 12345: the PRINTER jams; TL;DR: reboot it.\r\nNext step: call us",
  "...!!! ???",
  "Straße café naïve résumé ÉLAN",
  "one two",
  "Summarise the Colour of the centre: licence, catalogue, travelled; an apple a day. Summarize color center license catalog traveled",
];

test("Hash53.normalized equals hash53 of the regex-normalised text", () => {
  for (const s of TEXTS) {
    const plain = new Hash53();
    plain.normalized(s, false);
    assert.equal(plain.digest(), hash53(s.replace(/\s+/g, " ").trim()), JSON.stringify(s));
    const lower = new Hash53();
    lower.normalized(s, true);
    assert.equal(lower.digest(), hash53(s.replace(/\s+/g, " ").trim().toLowerCase()), JSON.stringify(s));
  }
  // Pieces fed one after another hash like their concatenation.
  const h = new Hash53();
  h.code(1);
  h.text("user");
  h.code(2);
  assert.equal(h.digest(), hash53("\u0001user\u0002"));
  assert.notEqual(new Hash53(1).digest(), new Hash53(2).digest());
});

test("isSpaceCode agrees with the \\s class on the BMP", () => {
  for (let c = 0; c < 0x10000; c++) assert.equal(isSpaceCode(c), /\s/.test(String.fromCharCode(c)), `U+${c.toString(16)}`);
});

// The straightforward reference: word strings from a regex over the lowercased text, spelling variants
// folded with string replacements, articles left out, each word hashed whole.
function canonicalWord(w: string): string {
  return w
    .replace(/z/g, "s")
    .replace(/our/g, "or")
    .replace(/^(.{2,}[tbgvc])re$/, "$1er")
    .replace(/nce$/, "nse")
    .replace(/gue$/, "g")
    .replace(/(.)\1+/gu, "$1");
}
const words = (text: string): string[] =>
  (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).map(canonicalWord).filter((w) => w !== "a" && w !== "an" && w !== "the");
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return fmix32(h);
}

/** The signature from word strings (the straightforward way), before densifying empty bins. */
function referenceBins(text: string): Uint32Array {
  const sig = new Uint32Array(MINHASH_BINS).fill(0xffffffff);
  const wh = words(text).map((w) => hash32(w));
  const add = (h: number) => {
    const bin = h >>> 26;
    if ((h & 0x03ffffff) < sig[bin]) sig[bin] = h & 0x03ffffff;
  };
  if (wh.length < 3) for (const x of wh) add(fmix32(x));
  else for (let i = 0; i + 2 < wh.length; i++) add(combine32(combine32(wh[i], wh[i + 1]), wh[i + 2]));
  return sig;
}

test("minhash scans words in one pass exactly as hashing the lowercased word strings does", () => {
  for (const s of TEXTS) {
    const ref = referenceBins(s);
    const sig = minhashSignature(s);
    const sig8 = minhashSignature8(s);
    assert.equal(sig8.length, MINHASH_BINS);
    let filled = 0;
    for (let b = 0; b < MINHASH_BINS; b++) {
      if (ref[b] === 0xffffffff) continue;
      filled++;
      assert.equal(sig[b], ref[b], `${JSON.stringify(s)} bin ${b}`);
    }
    for (let b = 0; b < MINHASH_BINS; b++) assert.equal(sig8[b], sig[b] & 0xff);
    assert.equal(filled > 0, words(s).length > 0, JSON.stringify(s));
  }
  // Case, punctuation, spelling variants and articles do not matter; word order does.
  assert.deepEqual(minhashSignature("The quick, brown fox!"), minhashSignature("the QUICK brown   fox"));
  assert.deepEqual(minhashSignature("Summarize the ticket below: The user cannot log in."), minhashSignature("Summarise the ticket below - User cannot log in!"));
  assert.deepEqual(minhashSignature("the colour of the theatre licence"), minhashSignature("color of theater license"));
  assert.notDeepEqual(minhashSignature("the user cannot log in"), minhashSignature("the user can log in"));
  assert.notDeepEqual(minhashSignature("the quick brown fox jumps"), minhashSignature("fox brown quick the jumps"));
});

test("SignatureStore keeps 8 bits per bin across blocks", () => {
  const store = new SignatureStore();
  const n = 10_000; // more than one block
  for (let i = 0; i < n; i++) store.push(Array.from({ length: SIGNATURE_BYTES }, (_, b) => i * 31 + b * 257), i % 70_000, (i * 7) % 100);
  assert.equal(store.length, n);
  for (const i of [0, 4095, 4096, 9999]) {
    const s = store.get(i);
    assert.equal(s.length, SIGNATURE_BYTES);
    for (let b = 0; b < SIGNATURE_BYTES; b++) {
      assert.equal(s[b], (i * 31 + b * 257) & 0xff);
      assert.equal(store.block(i)[store.offset(i) + b], s[b]);
    }
    assert.equal(store.shingles(i, 0), Math.min(i % 70_000, 65535));
    assert.equal(store.shingles(i, 1), (i * 7) % 100);
  }
});
