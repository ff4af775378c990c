/**
 * Without --model, `validate` and `stats` still count tokens (o200k_base) and enforce the documented
 * per-example limit of 32,768 tokens: a 100,000-token example used to pass `validate` silently.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

test("a 100,000-token example fails validate and is flagged by stats without --model", async () => {
  const t = tempDir();
  try {
    const file = join(t.dir, "long.jsonl");
    const ok = { messages: [{ role: "user", content: "Summarise this." }, { role: "assistant", content: "Short." }] };
    const long = { messages: [{ role: "user", content: "Summarise: " + "lorem ".repeat(100_000) }, { role: "assistant", content: "Done." }] };
    writeFileSync(file, [ok, long, ok].map((e) => JSON.stringify(e)).join("\n") + "\n");
    const v = await runCli(["validate", file, "--json"]);
    assert.equal(v.code, 1, v.stderr);
    const report = JSON.parse(v.stdout);
    const err = report.errors.find((e: { code: string }) => e.code === "too_many_tokens");
    assert.ok(err, JSON.stringify(report.errors));
    assert.equal(err.line, 2);
    assert.equal(err.details.limit, 32_768);
    assert.ok(err.details.tokens > 90_000, `counted ${err.details.tokens}`);
    assert.equal(report.stats.tokenizerModel, "o200k_base");
    const human = await runCli(["validate", file]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /long\.jsonl:2: error\[too_many_tokens\]/);
    const s = await runCli(["stats", file, "--json"]);
    assert.equal(s.code, 0, s.stderr);
    const stats = JSON.parse(s.stdout);
    assert.equal(stats.model, "o200k_base");
    assert.equal(stats.stats.overTokenLimit, 1);
    assert.equal(stats.stats.tokenLimit, 32_768);
  } finally {
    t.cleanup();
  }
});
