import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { computeStats } from "../../src/dataset/analysis/stats-file.js";
import { resolveFeatureContext } from "../../src/dataset/analysis/feature-context.js";
import { loadTokenizerFromDir } from "../../src/tokenize/hf.js";
import { chatTemplateFor } from "../../src/tokenize/chatTemplate.js";
import { projectRoot } from "../helpers/cli.js";
import { sharedFixture } from "../helpers/fixtures.js";

const support = join(projectRoot, "examples", "support-tickets.jsonl");

test("stats for an open model count tokens through its tokenizer.json and chat template", async (t) => {
  const dir = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (!dir) return t.skip("shared fixture missing: tokenizers/smollm2-135m-instruct");
  const ctx = await resolveFeatureContext({ model: dir });
  assert.equal(ctx.tokenLimit, 8192); // max_position_embeddings
  const first = JSON.parse(readFileSync(support, "utf8").split("\n")[0]);
  const tok = await loadTokenizerFromDir(dir);
  const rendered = chatTemplateFor(tok).render(first.messages, { addGenerationPrompt: false });
  // This fixture ships no chat template, so tunekit's plain template is used (the one training uses).
  assert.ok(rendered.includes(first.messages[2].content));
  const expected = tok.encode(rendered, { allowSpecial: true, addSpecialTokens: false }).length;
  assert.equal(ctx.countTokens!(first).total, expected);
  const r = await computeStats(support, { model: dir });
  assert.equal(r.examples, 66);
  assert.ok(r.stats.tokens && r.stats.tokens.min > 0);
  assert.equal(r.hosted.cost, undefined, "no hosted price for an open model");
});
