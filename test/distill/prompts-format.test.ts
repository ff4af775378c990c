import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readPrompts, withSystem } from "../../src/distill/prompts.js";
import { checkAnswer, resolveAnswerFormat } from "../../src/distill/format.js";
import { checkJsonSchema } from "../../src/shape/json-schema.js";
import { tempDir } from "../helpers/fixtures.js";
import { runCli } from "../helpers/cli.js";

function file(name: string, text: string | Buffer): { path: string; cleanup: () => void } {
  const t = tempDir("tunekit-prompts-");
  const path = join(t.dir, name);
  writeFileSync(path, text);
  return { path, cleanup: t.cleanup };
}

const code = (c: string) => (e: Error & { code?: string }) => e.code === c;

test("chat JSONL: a trailing assistant reply becomes the reference; prompt-only records and {prompt} lines work", async () => {
  const f = file(
    "p.jsonl",
    [
      JSON.stringify({ messages: [{ role: "system", content: "S" }, { role: "user", content: "u1" }, { role: "assistant", content: "r1" }] }),
      "",
      JSON.stringify({ messages: [{ role: "user", content: "u2" }] }),
      JSON.stringify({ messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "u3" }] }),
      JSON.stringify({ prompt: "u4", completion: "r4" }),
    ].join("\n"),
  );
  try {
    const r = await readPrompts(f.path);
    assert.equal(r.format, "jsonl");
    assert.deepEqual(
      r.prompts.map((p) => [p.line, p.messages.map((m) => m.content).join("|"), p.reference]),
      [
        [1, "S|u1", "r1"],
        [3, "u2", undefined],
        [4, "a|b|u3", undefined],
        [5, "u4", "r4"],
      ],
    );
  } finally {
    f.cleanup();
  }
});

test("bad lines are refused together, with their lines, before any call", async () => {
  const f = file(
    "p.jsonl",
    [
      JSON.stringify({ messages: [{ role: "user", content: "fine" }] }),
      "{not json",
      JSON.stringify({ messages: [{ role: "system", content: "only a system prompt" }] }),
      JSON.stringify({ messages: [{ role: "user", content: "x" }], tools: [{ type: "function", function: { name: "f" } }] }),
      JSON.stringify({ text: "what" }),
    ].join("\n") + "\n",
  );
  try {
    await assert.rejects(readPrompts(f.path), (e: Error & { code?: string; line?: number; exitCode?: number }) => {
      assert.equal(e.code, "invalid_prompts");
      assert.equal(e.line, 2);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /4 lines are not usable prompts/);
      assert.match(e.message, /line 2: invalid JSON at column 2/);
      assert.match(e.message, /line 3: the prompt must end with a user message/);
      assert.match(e.message, /line 4: prompts with tools are not supported/);
      assert.match(e.message, /line 5: expected \{"messages"/);
      return true;
    });
  } finally {
    f.cleanup();
  }
});

test("text: one prompt per line, blank lines skipped; empty files and invalid UTF-8 are refused", async () => {
  const f = file("p.txt", "first prompt\r\n\n  \nsecond {json-looking} prompt\n");
  const empty = file("e.txt", "\n  \n");
  const latin = file("l.txt", Buffer.concat([Buffer.from("ok\n"), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])]));
  const blankOnlyJsonl = file("b.jsonl", "\n\n");
  try {
    const r = await readPrompts(f.path);
    assert.deepEqual(r.prompts.map((p) => [p.line, p.messages[0].content]), [[1, "first prompt"], [4, "second {json-looking} prompt"]]);
    await assert.rejects(readPrompts(empty.path), code("empty_file"));
    await assert.rejects(readPrompts(latin.path), (e: Error & { code?: string; line?: number }) => e.code === "invalid_prompts" && e.line === 2 && /UTF-8/.test(e.message));
    await assert.rejects(readPrompts(blankOnlyJsonl.path), code("empty_file"));
  } finally {
    f.cleanup();
    empty.cleanup();
    latin.cleanup();
    blankOnlyJsonl.cleanup();
  }
});

test("CSV: the prompt column by name or --prompt-column, system and answer columns, quoted newlines", async () => {
  const f = file("p.csv", 'id,question,answer,system\n1,"What is, in short,\nthe plan?",The plan.,Be brief\n2,Second?,,\n');
  const bad = file("q.csv", "id,text\n1,hello\n");
  try {
    const r = await readPrompts(f.path);
    assert.equal(r.format, "csv");
    assert.deepEqual(r.prompts[0], { line: 2, messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "What is, in short,\nthe plan?" }], reference: "The plan." });
    assert.deepEqual(r.prompts[1], { line: 4, messages: [{ role: "user", content: "Second?" }] });
    await assert.rejects(readPrompts(bad.path), code("csv_column_not_found"));
    const byName = await readPrompts(bad.path, { column: "text" });
    assert.equal(byName.prompts[0].messages[0].content, "hello");
  } finally {
    f.cleanup();
    bad.cleanup();
  }
});

test("--system replaces the prompt's own system prompt; an empty one removes it", () => {
  const m = [{ role: "system" as const, content: "old" }, { role: "user" as const, content: "u" }];
  assert.deepEqual(withSystem(m, "new"), [{ role: "system", content: "new" }, { role: "user", content: "u" }]);
  assert.deepEqual(withSystem(m, ""), [{ role: "user", content: "u" }]);
  assert.equal(withSystem(m, undefined), m);
});

test("--format: json, json-schema=FILE, line-template with labels or from the references", async () => {
  const t = tempDir();
  try {
    const json = await resolveAnswerFormat("json", [], t.dir);
    assert.equal(checkAnswer(json, '{"a": 1}').ok, true);
    assert.equal(checkAnswer(json, "```json\n{\"a\": 1}\n```").ok, false);
    assert.equal(checkAnswer(json, "hello").problem, "not valid JSON");

    writeFileSync(join(t.dir, "s.json"), JSON.stringify({ type: "object", required: ["intent"], properties: { intent: { enum: ["refund", "other"] } }, pattern: "x" }));
    const schema = await resolveAnswerFormat("json-schema=s.json", [], t.dir);
    assert.equal(checkAnswer(schema, '{"intent": "refund"}').ok, true);
    assert.match(checkAnswer(schema, '{"intent": "sing"}').problem!, /not one of/);
    assert.deepEqual(schema.unchecked, ["$.pattern"]);

    const tpl = await resolveAnswerFormat("line-template=TL;DR: / Next step:", [], t.dir);
    assert.equal(checkAnswer(tpl, "TL;DR: late.\nNext step: reship.").ok, true);
    assert.equal(checkAnswer(tpl, "TL;DR: late.").ok, false);
    const inferred = await resolveAnswerFormat("line-template", ["Answer: a\nWhy: b", "Answer: c\nWhy: d", "Answer: e\nWhy: f"], t.dir);
    assert.equal(inferred.description, 'the line template "Answer: / Why:"');
    await assert.rejects(resolveAnswerFormat("line-template", [], t.dir), code("bad_format"));
    await assert.rejects(resolveAnswerFormat("line-template=TL;DR / Next", [], t.dir), code("bad_format"));
    await assert.rejects(resolveAnswerFormat("yaml", [], t.dir), code("bad_format"));
    assert.equal((await resolveAnswerFormat(undefined, [], t.dir)).plan.kind, "none");
  } finally {
    t.cleanup();
  }
});

test("a schema that is not valid JSON Schema is refused with where it is wrong", async () => {
  const t = tempDir();
  try {
    const cases: [string, RegExp][] = [
      ["{not json", /not JSON/],
      ['{"type": "objekt"}', /\$\.type: "objekt" is not a JSON type/],
      ['{"type": "object", "required": "intent"}', /\$\.required: must be a list of key names/],
      ['{"properties": {"age": {"type": "integr"}}}', /\$\.properties\.age\.type/],
      ['{"properties": []}', /\$\.properties: must be an object/],
      ['{"minLength": -1}', /\$\.minLength: must be a whole number/],
      ["[]", /\$: a schema must be an object/],
      ["true", /boolean schema/],
    ];
    for (const [text, message] of cases) {
      writeFileSync(join(t.dir, "s.json"), text);
      await assert.rejects(resolveAnswerFormat("json-schema=s.json", [], t.dir), (e: Error & { code?: string; file?: string }) => {
        assert.equal(e.code, "bad_schema", text);
        assert.match(e.message, message, text);
        assert.equal(e.file, join(t.dir, "s.json"));
        return true;
      });
    }
    await assert.rejects(resolveAnswerFormat("json-schema=missing.json", [], t.dir), code("file_not_found"));
    assert.deepEqual(checkJsonSchema({ type: ["string", "null"], anyOf: [{ minLength: 1 }], items: [{}], $ref: "#/x", description: "d" }), { errors: [], unchecked: ["$.items (a list of item schemas)", "$.$ref"] });
  } finally {
    t.cleanup();
  }
});

test("eval --schema refuses a malformed schema the same way", async () => {
  const t = tempDir();
  try {
    writeFileSync(join(t.dir, "s.json"), '{"type": "objekt"}');
    writeFileSync(join(t.dir, "d.jsonl"), JSON.stringify({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: "{}" }] }) + "\n");
    const r = await runCli(["eval", "--data", join(t.dir, "d.jsonl"), "--model", "endpoint=http://127.0.0.1:9/v1,model=m", "--schema", join(t.dir, "s.json"), "--json"], { env: { TUNEKIT_HOME: join(t.dir, "home") } });
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stdout).error.code, "bad_schema");
    assert.match(JSON.parse(r.stdout).error.message, /\$\.type: "objekt" is not a JSON type/);
  } finally {
    t.cleanup();
  }
});
