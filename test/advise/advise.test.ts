import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { adviseFile } from "../../src/advise/advise.js";
import { projectRoot, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";

const support = join(projectRoot, "examples", "support-tickets.jsonl");
const policy = join(projectRoot, "examples", "policy-facts.jsonl");

test("advise recommends fine-tuning for the format set, with the numbers behind it", async () => {
  const r = await adviseFile(support);
  assert.equal(r.recommendation, "fine-tuning");
  assert.equal(r.examples, 66);
  assert.equal(r.factInjection.examples, 0);
  assert.equal(r.format.kind, "line-template");
  assert.deepEqual(r.format.template, ["TL;DR:", "Next step:"]);
  assert.deepEqual(r.moveToRetrieval, []);
  const e = r.economics;
  assert.equal(e.promptTokensSource, "estimated");
  assert.ok(e.promptTokensSaved > 0);
  assert.ok(e.trainingCost !== null && e.trainingCost > 0);
  // Break-even = training cost / savings per call, from the report's own numbers.
  assert.ok(e.savingsPer1kCalls !== null && e.savingsPer1kCalls > 0);
  assert.ok(Math.abs(e.breakEvenCalls! - (e.trainingCost! / e.savingsPer1kCalls!) * 1000) / e.breakEvenCalls! < 0.01);
  assert.ok(r.reasons.some((x) => x.code === "size" && x.values.examples === 66));
});

test("advise recommends retrieval for the policy set and names the examples to move", async () => {
  const r = await adviseFile(policy);
  assert.equal(r.recommendation, "retrieval");
  assert.ok(r.factInjection.share >= 0.5);
  assert.ok(r.moveToRetrieval.length >= 13);
  const first = r.moveToRetrieval.find((m) => m.line === 2);
  assert.ok(first && first.specifics.length > 0);
  assert.match(r.summary, /retrieval/i);
});

test("advise: a mix for partly fact-teaching data; prompting when too small or when volume never pays back", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const s = readFileSync(support, "utf8").trim().split("\n");
    const p = readFileSync(policy, "utf8").trim().split("\n");
    const mixed = join(dir, "mixed.jsonl");
    writeFileSync(mixed, [...s.slice(0, 50), ...p.slice(0, 10)].join("\n") + "\n");
    const m = await adviseFile(mixed);
    assert.equal(m.recommendation, "mix");
    assert.ok(m.moveToRetrieval.every((x) => x.line > 50), JSON.stringify(m.moveToRetrieval));
    const small = join(dir, "small.jsonl");
    writeFileSync(small, s.slice(0, 8).join("\n") + "\n");
    assert.equal((await adviseFile(small)).recommendation, "prompting");
    const few = join(dir, "few.jsonl");
    writeFileSync(few, s.slice(0, 30).join("\n") + "\n");
    const f = await adviseFile(few);
    assert.equal(f.recommendation, "prompting");
    assert.ok(f.reasons.some((x) => x.code === "size"));
    // A tiny prompt saving at 1 call a day: training takes years to pay back.
    const slow = await adviseFile(support, { promptTokens: 5, callsPerDay: 1 });
    assert.equal(slow.recommendation, "prompting");
    assert.ok(slow.economics.breakEvenDays === null || slow.economics.breakEvenDays > 365);
  } finally {
    cleanup();
  }
});

test("advise CLI: --json with leakage from --test, human output, usage errors", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const lines = readFileSync(support, "utf8").trim().split("\n");
    const testFile = join(dir, "test.jsonl");
    writeFileSync(testFile, [lines[0], lines[1]].join("\n") + "\n");
    const res = await runCli(["advise", support, "--test", testFile, "--calls-per-day", "500", "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout);
    assert.equal(r.recommendation, "fine-tuning");
    assert.equal(r.leakage.leakedTestExamples, 2);
    assert.ok(r.reasons.some((x: { code: string }) => x.code === "leakage"));
    assert.equal(r.economics.callsPerDay, 500);
    assert.equal(r.economics.breakEvenDays, Math.ceil(r.economics.breakEvenCalls / 500));
    // "1 day", never "1 days".
    assert.match(r.economics.text, new RegExp(`i\\.e\\. ${r.economics.breakEvenDays.toLocaleString("en-US")} ${r.economics.breakEvenDays === 1 ? "day" : "days"} at 500 calls per day`));
    const daily = await runCli(["advise", support, "--calls-per-day", "100000000", "--json"]);
    assert.match(JSON.parse(daily.stdout).economics.text, /i\.e\. 1 day at 100,000,000 calls per day/);
    const human = await runCli(["advise", policy]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /recommendation: retrieval/);
    assert.match(human.stdout, /move to retrieval/);
    const bad = await runCli(["advise", support, "--provider", "nowhere"]);
    assert.equal(bad.code, 2);
  } finally {
    cleanup();
  }
});
