import { test } from "node:test";
import assert from "node:assert/strict";
import { inferJsonSchema, parseJsonReply, validateJsonSchema, type JsonSchema } from "../../src/shape/json-schema.js";

test("validateJsonSchema checks type, required, properties, items, enum and additionalProperties", () => {
  const schema: JsonSchema = {
    type: "object",
    properties: {
      sentiment: { enum: ["positive", "negative", "neutral"] },
      score: { type: "number", minimum: 0, maximum: 1 },
      tags: { type: "array", items: { type: "string" } },
    },
    required: ["sentiment", "score"],
    additionalProperties: false,
  };
  assert.deepEqual(validateJsonSchema(schema, { sentiment: "positive", score: 0.9, tags: ["a"] }), { ok: true, errors: [] });
  const bad = validateJsonSchema(schema, { sentiment: "angry", tags: [1], extra: true });
  assert.equal(bad.ok, false);
  assert.ok(bad.errors.some((e) => e.includes('missing required key "score"')), bad.errors.join("; "));
  assert.ok(bad.errors.some((e) => e.startsWith("$.sentiment:") && e.includes("not one of")));
  assert.ok(bad.errors.some((e) => e.startsWith("$.tags[0]: expected string")));
  assert.ok(bad.errors.some((e) => e.includes('unexpected key "extra"')));
  assert.equal(validateJsonSchema(schema, { sentiment: "neutral", score: 2 }).ok, false);
  assert.equal(validateJsonSchema({ type: "integer" }, 2.5).ok, false);
  assert.equal(validateJsonSchema({ type: "number" }, 2).ok, true);
  assert.equal(validateJsonSchema({ type: ["string", "null"] }, null).ok, true);
  assert.equal(validateJsonSchema({ anyOf: [{ type: "string" }, { type: "integer" }] }, true).ok, false);
});

test("inferJsonSchema finds required keys, types and small closed enums but not free text", () => {
  const values = [
    { label: "bug", confidence: 0.9, summary: "App crashes when saving" },
    { label: "feature", confidence: 0.4, summary: "Wants dark mode" },
    { label: "bug", confidence: 1, summary: "Login loop", note: "vip" },
    { label: "question", confidence: 0.7, summary: "How to export?" },
    { label: "bug", confidence: 0.2, summary: "Slow sync" },
    { label: "feature", confidence: 0.5, summary: "Calendar view" },
    { label: "question", confidence: 0.6, summary: "Refund?" },
    { label: "bug", confidence: 0.8, summary: "Crash on start" },
    { label: "feature", confidence: 0.3, summary: "CSV import" },
  ];
  const s = inferJsonSchema(values);
  assert.equal(s.type, "object");
  assert.deepEqual(s.required?.sort(), ["confidence", "label", "summary"]);
  assert.deepEqual(s.properties?.label.enum, ["bug", "feature", "question"]);
  assert.equal(s.properties?.summary.enum, undefined, "free text must not become an enum");
  assert.equal(s.properties?.confidence.type, "number");
  for (const v of values) assert.ok(validateJsonSchema(s, v).ok);
  assert.equal(validateJsonSchema(s, { label: "bug", summary: "x" }).ok, false);
});

test("parseJsonReply accepts plain and fenced JSON and rejects prose", () => {
  assert.deepEqual(parseJsonReply('{"a": 1}'), { ok: true, value: { a: 1 }, fenced: false });
  assert.deepEqual(parseJsonReply('```json\n{"a": 1}\n```'), { ok: true, value: { a: 1 }, fenced: true });
  assert.equal(parseJsonReply("Sure! {\"a\": 1}").ok, false);
  assert.equal(parseJsonReply("{not json}").ok, false);
});
