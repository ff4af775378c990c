import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readDataset, arrayElementLines, type DatasetRecord } from "../../src/dataset/reader.js";
import { LineSplitter, firstInvalidUtf8, type RawLine } from "../../src/dataset/lines.js";
import { parseJson, exceedsDepth } from "../../src/dataset/json-parse.js";
import { CsvParser } from "../../src/dataset/csv.js";
import { tempDir } from "../helpers/fixtures.js";

const chat = (u: string, a: string) => JSON.stringify({ messages: [{ role: "user", content: u }, { role: "assistant", content: a }] });

async function readAll(path: string, opts = {}): Promise<DatasetRecord[]> {
  const out: DatasetRecord[] = [];
  for await (const r of readDataset(path, opts)) out.push(r);
  return out;
}

function withFile(name: string, data: string | Buffer, fn: (path: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const t = tempDir("tunekit-reader-");
    try {
      const p = join(t.dir, name);
      writeFileSync(p, data);
      await fn(p);
    } finally {
      t.cleanup();
    }
  };
}

test("LineSplitter: lines across chunk boundaries, CRLF, BOM, unterminated last line", () => {
  const s = new LineSplitter("x", 1000);
  const lines: RawLine[] = [];
  const data = Buffer.from("\uFEFFab\r\ncd\n\nef", "utf8");
  // Feed one byte at a time: the worst case for boundaries (BOM split too).
  for (const b of data) s.push(Buffer.from([b]), (l) => lines.push(l), () => assert.fail("nothing is too long"));
  s.end((l) => lines.push(l), () => {});
  assert.deepEqual(
    lines.map((l) => [l.line, l.bytes.toString(), l.unterminated]),
    [
      [1, "ab", false],
      [2, "cd", false],
      [3, "", false],
      [4, "ef", true],
    ],
  );
});

test("LineSplitter: a line over the limit is skipped without keeping its bytes", () => {
  const s = new LineSplitter("x", 10);
  const got: string[] = [];
  const chunk = Buffer.from("x".repeat(7));
  s.push(Buffer.from("ok\n"), (l) => got.push(`line ${l.line} ${l.bytes}`), (k) => got.push(`skip ${k.line} ${k.byteLength}`));
  for (let i = 0; i < 5; i++) s.push(chunk, (l) => got.push(`line ${l.line} ${l.bytes}`), (k) => got.push(`skip ${k.line} ${k.byteLength}`));
  s.push(Buffer.from("\nend\n"), (l) => got.push(`line ${l.line} ${l.bytes}`), (k) => got.push(`skip ${k.line} ${k.byteLength}`));
  s.end(() => {}, () => {});
  assert.deepEqual(got, ["line 1 ok", "skip 2 35", "line 3 end"]);
});

test("firstInvalidUtf8 finds the first bad byte and accepts valid multi-byte text", () => {
  assert.equal(firstInvalidUtf8(Buffer.from("héllo €𝄞", "utf8")), -1);
  assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xe9, 0x63])), 2); // Latin-1 é
  assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0xaf])), 1); // overlong
  assert.equal(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82])), 1); // truncated sequence
  assert.equal(firstInvalidUtf8(Buffer.from([0xed, 0xa0, 0x80])), 0); // surrogate
});

test("parseJson reports a 1-based column and refuses deep nesting", () => {
  const r = parseJson('{"a": 1,}');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.code, "invalid_json");
    assert.equal(r.column, 9);
  }
  const end = parseJson('{"a": ');
  assert.ok(!end.ok && end.column === 7 && /end of input/.test(end.message));
  const deep = parseJson("[".repeat(100_000) + "]".repeat(100_000));
  assert.ok(!deep.ok && deep.code === "too_deep");
  assert.equal(exceedsDepth({ a: [[1]] }, 3), false);
  assert.equal(exceedsDepth({ a: [[[1]]] }, 3), true);
});

test("CsvParser: quotes, doubled quotes, separators and newlines inside fields", () => {
  const p = new CsvParser(",");
  const lines = ['q,a', '"hello, world","say ""hi""', 'and bye"', "plain,row"];
  const recs = lines.map((l, i) => p.pushLine(l, i + 1)).filter((r) => r !== undefined);
  assert.deepEqual(recs, [
    { line: 1, fields: ["q", "a"] },
    { line: 2, fields: ["hello, world", 'say "hi"\nand bye'] },
    { line: 4, fields: ["plain", "row"] },
  ]);
  assert.equal(p.finish(), undefined);
  const open = new CsvParser(",");
  open.pushLine('"never closed', 1);
  assert.match(open.finish()!.error, /unclosed quote/);
});

test("arrayElementLines finds each element's first line, ignoring brackets inside strings", () => {
  const text = '[\n  {"a": "[,]"},\n  {\n    "b": "x\\"]"\n  }, 3\n]';
  assert.deepEqual(arrayElementLines(text), [2, 3, 5]);
});

test(
  "JSONL with BOM, CRLF and blank lines: examples keep physical line numbers",
  withFile("d.jsonl", "\uFEFF" + chat("hi", "hello") + "\r\n\r\n" + chat("a", "b") + "\r\n", async (p) => {
    const recs = await readAll(p);
    assert.deepEqual(
      recs.map((r) => [r.line, r.example?.index, r.issues.map((i) => i.code)]),
      [
        [1, 0, ["missing_system"]],
        [2, undefined, ["blank_line"]],
        [3, 1, ["missing_system"]],
      ],
    );
    assert.equal(recs[0].example!.format, "openai-chat");
    assert.equal(recs[0].example!.example.messages[1].content, "hello");
  }),
);

test(
  "a JSON array file (Alpaca) is read with each element's start line",
  withFile(
    "alpaca.json",
    JSON.stringify([{ instruction: "Add", input: "2 and 3", output: "5" }, { instruction: "Name a colour", input: "", output: "Blue" }], null, 2),
    async (p) => {
      const recs = await readAll(p);
      assert.deepEqual(recs.map((r) => r.line), [2, 7]);
      assert.deepEqual(recs[0].example!.example.messages, [
        { role: "user", content: "Add\n2 and 3" },
        { role: "assistant", content: "5" },
      ]);
      assert.equal(recs[1].example!.format, "alpaca");
    },
  ),
);

test(
  "JSONL whose lines are arrays is not mistaken for a JSON array file",
  withFile("arr.jsonl", "[1,2]\n[3]\n", async (p) => {
    const recs = await readAll(p);
    assert.deepEqual(recs.map((r) => [r.line, r.issues[0].code]), [
      [1, "not_an_object"],
      [2, "not_an_object"],
    ]);
  }),
);

test(
  "a broken JSON array file reports the line and column of the problem",
  withFile("bad.json", '[\n  {"text": "a"},\n  {"text": "b",}\n]\n', async (p) => {
    const recs = await readAll(p);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].line, 3);
    assert.equal(recs[0].issues[0].code, "invalid_json");
    assert.match(recs[0].issues[0].message, /column 16/);
  }),
);

test(
  "CSV with an explicit column mapping, a multi-line quoted field and line numbers",
  withFile("qa.csv", 'question,answer,notes\r\n"What is 2+2?","4",x\r\n"Two\r\nlines","ok ""quoted""",y\r\nlast,row,z\r\n', async (p) => {
    const recs = await readAll(p, { columns: "user=question,assistant=answer" });
    assert.deepEqual(recs.map((r) => r.line), [2, 3, 5]);
    assert.deepEqual(recs[1].example!.example.messages, [
      { role: "user", content: "Two\nlines" },
      { role: "assistant", content: 'ok "quoted"' },
    ]);
    assert.equal(recs[0].example!.format, "csv");
  }),
);

test(
  "CSV columns are found by name without a mapping; a short row is an error at its line",
  withFile("p.csv", "prompt,completion\nhi,hello\nonly-one-field\n", async (p) => {
    const recs = await readAll(p);
    assert.equal(recs[0].example!.example.messages[0].content, "hi");
    assert.equal(recs[1].line, 3);
    assert.equal(recs[1].issues[0].code, "invalid_csv");
  }),
);

test(
  "CSV errors point at the line to fix: an unclosed quote at the line it opens, bad UTF-8 at its line; a stray quote loses no row",
  withFile("e.csv", Buffer.concat([Buffer.from('user,assistant\n"ab"c,d\nx,y\nbad \xff byte,z\n', "latin1"), Buffer.from('w,v\n"never closed,q\nmore,rows\n')]), async (p) => {
    const recs = await readAll(p);
    const byLine = new Map(recs.map((r) => [r.line, r]));
    assert.equal(byLine.get(2)!.example!.example.messages[0].content, "abc", "a quote after a closing quote is kept as text");
    assert.equal(byLine.get(3)!.example!.example.messages[0].content, "x", "the row after it is read");
    assert.equal(byLine.get(4)!.issues[0].code, "invalid_utf8");
    assert.equal(byLine.get(5)!.example!.example.messages[0].content, "w");
    const unclosed = byLine.get(6)!.issues[0];
    assert.equal(unclosed.code, "invalid_csv");
    assert.match(unclosed.message, /unclosed quote/);
  }),
);

test(
  "CSV without recognisable columns asks for --columns",
  withFile("x.csv", "foo,bar\n1,2\n", async (p) => {
    await assert.rejects(readAll(p), (e: Error & { code?: string }) => e.code === "csv_mapping_needed" && /--columns/.test((e as { hint?: string }).hint ?? ""));
  }),
);

test(
  "tiny chunks give the same records as one big read",
  withFile("c.jsonl", [chat("é€", "𝄞 ok"), "", chat("x", "y"), "{bad"].join("\n"), async (p) => {
    const a = await readAll(p);
    const b = await readAll(p, { chunkBytes: 3 });
    assert.deepEqual(b, a);
    assert.equal(a[3].issues[0].code, "invalid_json");
    assert.match(a[3].issues[0].message, /truncated/);
  }),
);

test("BoundedIntStats: exact like describeNumbers within capacity, bounded sample beyond it", async () => {
  const { BoundedIntStats } = await import("../../src/dataset/validate/quick-analysis.js");
  const { describeNumbers } = await import("../../src/util/distribution.js");
  const vals = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 1000);
  const exact = new BoundedIntStats(10_000);
  const sampled = new BoundedIntStats(1000);
  for (const v of vals) {
    exact.push(v);
    sampled.push(v);
  }
  assert.deepEqual(exact.describe(), describeNumbers(vals));
  const d = sampled.describe();
  const want = describeNumbers(vals);
  assert.deepEqual([d.count, d.min, d.max, d.sum, d.mean], [want.count, want.min, want.max, want.sum, want.mean]);
  assert.ok(Math.abs(d.median - want.median) < 60, `median ${d.median} vs ${want.median}`);
  assert.ok(Math.abs(d.p95 - want.p95) < 30);
});

test(
  "a Latin-1 JSON array file: one invalid_utf8 error at the line of the first bad byte",
  withFile("latin.json", Buffer.from('[\n  {"text": "ok"},\n  {"text": "caf\u00e9"}\n]\n', "latin1"), async (p) => {
    const recs = await readAll(p);
    assert.deepEqual(recs.map((r) => [r.line, r.issues.map((i) => i.code)]), [[3, ["invalid_utf8"]]]);
    assert.match(recs[0].issues[0].message, /0xE9/);
  }),
);
