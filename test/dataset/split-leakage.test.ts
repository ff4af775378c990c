import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { splitFile } from "../../src/dataset/split.js";
import { seededRandom } from "../../src/util/random.js";
import { findLeakage } from "../../src/dataset/leakage.js";
import { projectRoot, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const support = join(projectRoot, "examples", "support-tickets.jsonl");

/** 40 distinct examples plus a near-duplicate family (lines 41-44) and an exact copy (line 45), CRLF on some lines. */
function syntheticFile(dir: string): string {
  const lines: string[] = [];
  const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];
  for (let i = 0; i < 40; i++) {
    const body = Array.from({ length: 30 }, (_, j) => words[(i * 7 + j * (i % 5 + 1)) % words.length] + ((i * 31 + j) % 17)).join(" ");
    const reply = i % 4 === 0 ? JSON.stringify({ answer: `item ${i}` }) : `TL;DR: case ${i}.\nNext step: check ${body.slice(0, 20)}.`;
    lines.push(JSON.stringify({ messages: [{ role: "user", content: `Question ${i}: ${body}` }, { role: "assistant", content: reply }] }));
  }
  const family = "Our nightly export job writes the customer ledger to the shared bucket and since Tuesday the file is empty although the job reports success and the logs show eleven thousand rows processed without errors";
  for (let k = 0; k < 4; k++) {
    lines.push(JSON.stringify({ messages: [{ role: "user", content: family.replace("Tuesday", ["Tuesday", "Wednesday", "Thursday", "Friday"][k]) }, { role: "assistant", content: "TL;DR: empty export.\nNext step: check the bucket permissions." }] }));
  }
  lines.push(lines[7]);
  const text = lines.map((l, i) => l + (i % 9 === 3 ? "\r\n" : "\n")).join("");
  const file = join(dir, "data.jsonl");
  writeFileSync(file, text);
  return file;
}

test("seededRandom is deterministic and seed-dependent", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  const c = seededRandom(8);
  const xs = [a(), a(), a()];
  assert.deepEqual(xs, [b(), b(), b()]);
  assert.notDeepEqual(xs, [c(), c(), c()]);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});

test("split: deterministic, byte-for-byte, near-duplicate groups on one side, no leakage afterwards", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = syntheticFile(dir);
    const original = readFileSync(file, "utf8").split(/(?<=\n)/);
    const r1 = await splitFile(file, { outDir: join(dir, "a"), testFraction: 0.25, seed: 3 });
    await splitFile(file, { outDir: join(dir, "b"), testFraction: 0.25, seed: 3 });
    await splitFile(file, { outDir: join(dir, "c"), testFraction: 0.25, seed: 4 });
    const read = (d: string, f: string) => readFileSync(join(dir, d, f), "utf8");
    assert.equal(read("a", "train.jsonl"), read("b", "train.jsonl"));
    assert.equal(read("a", "test.jsonl"), read("b", "test.jsonl"));
    assert.notEqual(read("a", "test.jsonl"), read("c", "test.jsonl"));
    assert.equal(r1.train.examples + r1.test.examples, 45);
    assert.ok(Math.abs(r1.test.examples - 45 * 0.25) <= 4, `test size ${r1.test.examples}`);
    assert.equal(r1.preservedLines, true);
    // Every original line appears exactly once, byte-for-byte (CRLF kept).
    const out = [...read("a", "train.jsonl").split(/(?<=\n)/), ...read("a", "test.jsonl").split(/(?<=\n)/)].filter((l) => l.length > 0);
    assert.deepEqual([...out].sort(), [...original].sort());
    assert.ok(out.some((l) => l.endsWith("\r\n")));
    // The family (lines 41-44) and the exact copy pair (8, 45) each sit on one side.
    const testText = read("a", "test.jsonl");
    const famInTest = original.slice(40, 44).map((l) => testText.includes(l));
    assert.ok(famInTest.every((x) => x === famInTest[0]), `family split across sides: ${famInTest}`);
    assert.equal(testText.includes(original[7]), testText.includes(original[44]));
    assert.ok(r1.groups.count >= 2);
    const leak = await findLeakage(join(dir, "a", "train.jsonl"), join(dir, "a", "test.jsonl"));
    assert.deepEqual(leak.pairs, []);
    // No temp files left behind.
    assert.deepEqual(readdirSync(join(dir, "a")).sort(), ["test.jsonl", "train.jsonl"]);
  } finally {
    cleanup();
  }
});

test("split --stratify shape keeps the JSON share on both sides", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = syntheticFile(dir);
    const r = await splitFile(file, { outDir: join(dir, "s"), testFraction: 0.5, seed: 1, stratify: "shape" });
    const json = (f: string) => readFileSync(f, "utf8").trim().split("\n").filter((l) => l.includes('\\"answer\\"')).length;
    assert.equal(r.stratify, "shape");
    assert.equal(json(r.train.path) + json(r.test.path), 10);
    assert.ok(Math.abs(json(r.train.path) - json(r.test.path)) <= 2, `json train ${json(r.train.path)} test ${json(r.test.path)}`);
  } finally {
    cleanup();
  }
});

test("split refuses a file with invalid records and writes nothing", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, readFileSync(support, "utf8").split("\n").slice(0, 20).join("\n") + "\n{not json\n");
    const res = await runCli(["split", file, "-o", join(dir, "out"), "--json"]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stdout + res.stderr, /invalid/);
    assert.equal(existsSync(join(dir, "out", "train.jsonl")), false);
    assert.equal(existsSync(join(dir, "out", "test.jsonl")), false);
  } finally {
    cleanup();
  }
});

test("leakage finds exact and near copies (CLI, --json schema, exit 1)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const lines = readFileSync(support, "utf8").trim().split("\n");
    const train = join(dir, "train.jsonl");
    const test = join(dir, "test.jsonl");
    writeFileSync(train, lines.slice(0, 50).join("\n") + "\n");
    const edited = JSON.parse(lines[10]);
    const u = edited.messages.find((m: { role: string }) => m.role === "user");
    u.content = u.content.replace(/\.$/, "") + " Thanks.";
    writeFileSync(test, [lines[3], JSON.stringify(edited), ...lines.slice(50)].join("\n") + "\n");
    const res = await runCli(["leakage", train, test, "--json"]);
    assert.equal(res.code, 1, res.stderr);
    const out = JSON.parse(res.stdout);
    const exact = out.pairs.filter((p: { kind: string }) => p.kind === "exact");
    const near = out.pairs.filter((p: { kind: string }) => p.kind === "near");
    assert.deepEqual(exact, [{ trainLine: 4, testLine: 1, similarity: 1, kind: "exact" }]);
    assert.equal(near.length, 1);
    assert.equal(near[0].trainLine, 11);
    assert.equal(near[0].testLine, 2);
    assert.ok(near[0].similarity >= 0.8 && near[0].similarity <= 1);
    assert.equal(near[0].reply, 1, "the reply is the same; the prompt has one more word");
    assert.equal(out.leakedTestExamples, 2);
    const clean = await runCli(["leakage", train, join(projectRoot, "examples", "policy-facts.jsonl")]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /no leakage/);
  } finally {
    cleanup();
  }
});

test("split CLI on the bundled support set, then leakage finds nothing", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const res = await runCli(["split", support, "--test", "0.2", "--seed", "11", "-o", dir, "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout);
    assert.equal(r.train.examples + r.test.examples, 66);
    assert.equal(r.test.examples, 13);
    const leak = await runCli(["leakage", join(dir, "train.jsonl"), join(dir, "test.jsonl"), "--json"]);
    assert.equal(leak.code, 0, leak.stdout);
    assert.deepEqual(JSON.parse(leak.stdout).pairs, []);
    const usage = await runCli(["split", support, "--test", "1.5", "-o", dir]);
    assert.equal(usage.code, 2);
  } finally {
    cleanup();
  }
});

// test/data/leakage/: 24 training tickets under one instruction template; the test file holds 8 new
// tickets under the same template and 5 planted copies of training rows: line 2 is exact, lines 4, 6, 8
// and 10 have "Summarize" -> "Summarise", ":" -> " -", "The user" -> "User", "." -> "!" (line 8 also
// drops a word) and the training reply unchanged.
const leakData = join(projectRoot, "test", "data", "leakage");
const PLANTED = [
  { testLine: 2, trainLine: 3 },
  { testLine: 4, trainLine: 1 },
  { testLine: 6, trainLine: 8 },
  { testLine: 8, trainLine: 12 },
  { testLine: 10, trainLine: 16 },
];

test("leakage finds copies with spelling, punctuation and small word edits, and not rows that only share the template", async () => {
  const res = await runCli(["leakage", join(leakData, "train.jsonl"), join(leakData, "test.jsonl"), "--json"]);
  assert.equal(res.code, 1, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.deepEqual(
    out.pairs.map((p: { testLine: number; trainLine: number }) => ({ testLine: p.testLine, trainLine: p.trainLine })),
    PLANTED,
    "all five planted pairs, and nothing else",
  );
  assert.equal(out.leakedTestExamples, 5);
  for (const p of out.pairs.filter((x: { kind: string }) => x.kind === "near")) {
    assert.equal(p.reply, 1, `line ${p.testLine}: the reply is the training reply`);
    assert.ok(p.similarity >= 0.7, `line ${p.testLine}: similarity ${p.similarity}`);
  }
  // The template alone never makes a pair, even at a far lower threshold.
  const loose = JSON.parse((await runCli(["leakage", join(leakData, "train.jsonl"), join(leakData, "test.jsonl"), "--json", "--threshold", "0.4"])).stdout);
  assert.deepEqual([...new Set(loose.pairs.map((p: { testLine: number }) => p.testLine))], PLANTED.map((p) => p.testLine));
  const human = await runCli(["leakage", join(leakData, "train.jsonl"), join(leakData, "test.jsonl")]);
  assert.match(human.stdout, /test\.jsonl:4: near duplicate \(similarity [0-9.]+: prompt [0-9.]+, reply 1\.00\) of .*train\.jsonl:1/);
});

test("split keeps edited copies on one side, and its halves pass leakage", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const train = readFileSync(join(leakData, "train.jsonl"), "utf8").trim().split("\n");
    const test = readFileSync(join(leakData, "test.jsonl"), "utf8").trim().split("\n");
    const file = join(dir, "all.jsonl");
    writeFileSync(file, [...train, ...test].join("\n") + "\n");
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await splitFile(file, { outDir: join(dir, `s${seed}`), testFraction: 0.3, seed });
      const testText = readFileSync(r.test.path, "utf8");
      for (const p of PLANTED) {
        const a = testText.includes(train[p.trainLine - 1] + "\n");
        const b = testText.includes(test[p.testLine - 1] + "\n");
        assert.equal(a, b, `seed ${seed}: training line ${p.trainLine} and its copy (test line ${p.testLine}) on different sides`);
      }
      assert.ok(r.groups.count >= 5, `seed ${seed}: ${r.groups.count} groups`);
      const leak = await findLeakage(r.train.path, r.test.path);
      assert.deepEqual(leak.pairs, [], `seed ${seed}`);
    }
  } finally {
    cleanup();
  }
});

test("a templated file (one instruction wrapper, short reviews, one-word labels) has no near duplicates and splits clean", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(leakData, "templated.jsonl");
    const v = await runCli(["validate", file, "--json"]);
    assert.equal(v.code, 0, v.stderr);
    const report = JSON.parse(v.stdout);
    assert.deepEqual(report.stats.duplicates, { exact: 0, near: 0, nearGroups: 0, conflicting: 0 });
    const r = await splitFile(file, { outDir: dir, testFraction: 0.5, seed: 3 });
    assert.equal(r.groups.count, 0, "no example is tied to another");
    const leak = await findLeakage(r.train.path, r.test.path, { threshold: 0.5 });
    assert.deepEqual(leak.pairs, []);
  } finally {
    cleanup();
  }
});
