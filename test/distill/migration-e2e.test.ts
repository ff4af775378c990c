/**
 * The migration off a retiring fine-tune, end to end through the CLI (its entry point, in this process): the "old fine-tuned model" (an
 * OpenAI `ft:` model on a local OpenAI-compatible fake, reached through OPENAI_BASE_URL) classifies
 * support tickets as strict JSON; `distill` turns real ticket texts into a training file with its
 * answers; `validate` and `split` check it; `train` tunes a tiny local chat model (built here); `eval`
 * compares it with the old model on the held-out tickets, gated on format compliance. The untuned base
 * model fails the same gate, so the gate is shown to bite.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCliInProcess } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { writeTinyChatModel } from "../helpers/tiny-chat-model.js";
import { startFakeChat, type ChatRequestBody } from "../servers/fake-chat.js";

const OLD = "ft:gpt-4o-mini-2024-07-18:acme::support-v3";
const KEY = "sk-proj-" + "MigrationOldModelKey24680";
const KINDS = ["is late", "arrived broken", "was lost in transit", "came in the wrong size", "never shipped", "was charged twice"];
const SHIPPING = new Set(["is late", "was lost in transit", "never shipped"]);

/** The old model: strict JSON for tickets, except that it rambles on two odd ones. */
function oldModel(b: ChatRequestBody): string {
  const ticket = String(b.messages.at(-1)?.content ?? "");
  if (/hello|thanks/i.test(ticket)) return "Happy to help! Could you tell me more about your order?";
  const kind = KINDS.find((k) => ticket.includes(k)) ?? "is late";
  return JSON.stringify({ intent: SHIPPING.has(kind) ? "shipping" : "refund" });
}

test("migration: distill the old ft: model's answers, validate, split, train a small model, gate it against the old one", { timeout: 300_000 }, async () => {
  const s = await startFakeChat({ apiKey: KEY, reply: oldModel });
  const t = tempDir("tunekit-migration-");
  const outputs: string[] = [];
  const cli = async (args: string[], expect = 0) => {
    const r = await runCliInProcess(args, { cwd: t.dir, env });
    outputs.push(r.stdout, r.stderr);
    assert.equal(r.code, expect, `tunekit ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  // Some commands read relative paths against the process's folder: run from the workspace, as a user would.
  const startDir = process.cwd();
  process.chdir(t.dir);
  const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: s.baseUrl, TUNEKIT_HOME: join(t.dir, "home"), HF_HUB_OFFLINE: "1" };
  try {
    const model = await writeTinyChatModel(join(t.dir, "small-model"));
    const tickets = Array.from({ length: 60 }, (_, i) => `Order ${1000 + i} ${KINDS[i % KINDS.length]}.`);
    tickets.splice(7, 0, "hello, thanks for the great service");
    tickets.splice(30, 0, "Hello there");
    writeFileSync(join(t.dir, "tickets.txt"), tickets.join("\n") + "\n");
    writeFileSync(
      join(t.dir, "intent.schema.json"),
      JSON.stringify({ type: "object", properties: { intent: { enum: ["shipping", "refund"] } }, required: ["intent"], additionalProperties: false }),
    );

    // 1. The old model writes the training data; what is not strict JSON of the schema is dropped.
    const d = await cli(["distill", "tickets.txt", "--teacher", OLD, "-o", "distilled.jsonl", "--system", "Classify the ticket.", "--format", "json-schema=intent.schema.json", "--max-cost", "1", "--json"]);
    const rep = JSON.parse(d.stdout);
    assert.equal(rep.kept, 60);
    assert.equal(rep.dropped.format, 2);
    assert.deepEqual(rep.drops.map((x: { line: number }) => x.line), [8, 31]);
    assert.match(rep.teacher.priceSource, /OpenAI list price \(fine-tuned gpt-4o-mini, as of \d{4}-\d{2}/);
    assert.ok(rep.costUsd > 0 && rep.costUsd < 0.01, `cost ${rep.costUsd}`);
    assert.equal(s.requests.length, 62);
    assert.ok(s.requests.every((r) => r.body.model === OLD && r.body.messages[0].content === "Classify the ticket."));

    // 2. The file is a valid training set; hold out a test set.
    await cli(["validate", "distilled.jsonl"]);
    await cli(["split", "distilled.jsonl", "-o", "data", "--test", "0.2"]);
    const heldOut = readFileSync(join(t.dir, "data", "test.jsonl"), "utf8").trim().split("\n").length;
    assert.ok(heldOut >= 10, `${heldOut} held-out examples`);

    // 3. Train the small open model (settings for a 259-token toy model: a high learning rate, few steps).
    await cli(["train", "data/train.jsonl", "--model", model, "-o", "runs/new", "--validation", "data/test.jsonl", "--max-steps", "200", "--lr", "0.02", "--lora-r", "16", "--batch-size", "8", "--max-seq-len", "128", "--warmup", "0"]);

    // 4. New against old on the held-out tickets, gated on format compliance.
    const e = await cli(["eval", "--data", "data/test.jsonl", "--model", `name=old,model=${OLD}`, "--model", "name=new,run=runs/new", "--schema", "intent.schema.json", "--max-tokens", "24", "-o", "eval-new", "--fail-if", "new.format_compliance < 0.9", "--json"]);
    const res = JSON.parse(e.stdout);
    const score = (name: string) => res.models.find((m: { name: string }) => m.name === name).aggregate.format_compliance;
    assert.equal(score("old"), 1);
    assert.ok(score("new") >= 0.9, `new model's format compliance ${score("new")}`);
    assert.deepEqual(res.gates.map((g: { failed: boolean }) => g.failed), [false]);

    const requestsBefore = s.requests.length;
    // The untuned base model fails the same gate.
    const base = await cli(["eval", "--data", "data/test.jsonl", "--model", `name=old,model=${OLD}`, "--model", `name=base,local=${model}`, "--schema", "intent.schema.json", "--max-tokens", "24", "-o", "eval-base", "--fail-if", "base.format_compliance < 0.9"], 1);
    assert.match(base.stdout + base.stderr, /format_compliance/);
    // The tuned model now owns the behaviour: it can be a teacher itself (a local run: base + adapter, batched).
    writeFileSync(join(t.dir, "new-tickets.txt"), Array.from({ length: 12 }, (_, i) => `Order ${3000 + i} ${KINDS[(i + 1) % KINDS.length]}.`).join("\n") + "\n");
    const own = await cli(["distill", "new-tickets.txt", "--teacher", "run=runs/new", "-o", "more.jsonl", "--system", "Classify the ticket.", "--format", "json-schema=intent.schema.json", "--max-tokens", "24", "--max-cost", "0", "--json"]);
    const mine = JSON.parse(own.stdout);
    assert.ok(mine.kept >= 11, `the tuned model's own answers kept: ${mine.kept} of 12`);
    assert.equal(mine.costUsd, 0);
    assert.match(mine.teacher.priceSource, /local model: CPU time only/);
    assert.equal(s.requests.length, requestsBefore, "the old model was not asked");
    assertSecretNowhere(KEY, outputs, [t.dir]);
  } finally {
    process.chdir(startDir);
    await s.close();
    t.cleanup();
  }
});
