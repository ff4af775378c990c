import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateFile } from "../../src/dataset/validate/index.js";
import { isTunekitError } from "../../src/util/errors.js";
import { runCli, projectRoot } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";

const sys = { role: "system", content: "You are terse." };
const user = { role: "user", content: "Hi" };
const asst = { role: "assistant", content: "Hello" };
const ok = { messages: [sys, user, asst] };
const call = { id: "c1", type: "function", function: { name: "lookup", arguments: '{"q":"x"}' } };

/** One record per case: the codes each must produce (errors and warnings, in order). */
const CASES: [string, unknown, string[]][] = [
  ["valid", ok, []],
  ["not an object", [1, 2], ["not_an_object"]],
  ["no messages", { prompt_x: 1 }, ["unrecognized_key", "missing_messages"]],
  ["messages not a list", { messages: "hi" }, ["missing_messages"]],
  ["messages empty", { messages: [] }, ["missing_messages"]],
  ["message without role", { messages: [sys, { content: "x" }, asst] }, ["message_missing_key"]],
  ["message without content", { messages: [sys, { role: "user" }, asst] }, ["message_missing_key"]],
  ["extra message key", { messages: [sys, { ...user, mood: "x" }, asst] }, ["unrecognized_key"]],
  ["extra top-level key", { ...ok, id: 7 }, ["unrecognized_key"]],
  ["unknown role", { messages: [sys, { role: "human", content: "x" }, asst] }, ["unrecognized_role"]],
  ["empty content", { messages: [sys, { role: "user", content: "  " }, asst] }, ["missing_content"]],
  ["null content without tool calls", { messages: [sys, user, { role: "assistant", content: null }] }, ["missing_content"]],
  ["content of wrong type", { messages: [sys, { role: "user", content: 42 }, asst] }, ["invalid_content"]],
  ["bad content part", { messages: [sys, { role: "user", content: [{ type: "text" }] }, asst] }, ["invalid_content", "missing_content"]],
  ["no assistant", { messages: [sys, user] }, ["no_assistant_message"]],
  ["weight 0.5", { messages: [sys, user, { ...asst, weight: 0.5 }] }, ["invalid_weight"]],
  ["weight on user", { messages: [sys, { ...user, weight: 1 }, asst] }, ["invalid_weight"]],
  ["tool_calls not a list", { messages: [sys, user, { role: "assistant", content: null, tool_calls: {} }, asst] }, ["invalid_tool_call", "missing_content"]],
  [
    "arguments not JSON",
    { messages: [sys, user, { role: "assistant", content: null, tool_calls: [{ ...call, function: { name: "f", arguments: "{x" } }] }, asst] },
    ["invalid_tool_call"],
  ],
  ["tool message without matching call", { messages: [sys, user, { role: "tool", tool_call_id: "nope", content: "r" }, asst] }, ["invalid_tool_call"]],
  ["tool message without id", { messages: [sys, user, { role: "tool", content: "r" }, asst] }, ["message_missing_key"]],
  [
    "valid tool round trip",
    { messages: [sys, user, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: "c1", content: "42" }, asst], tools: [{ type: "function", function: { name: "lookup" } }], parallel_tool_calls: false },
    [],
  ],
  ["tools not a list", { ...ok, tools: "[]" }, ["invalid_tools"]],
  ["mixed format record", { instruction: "x", output: "y" }, ["mixed_formats"]],
  ["too deep", { messages: [sys, user, asst], tools: [JSON.parse("[".repeat(150) + "]".repeat(150))] }, ["too_deep"]],
  ["missing system", { messages: [user, asst] }, ["missing_system"]],
  ["missing user", { messages: [sys, asst] }, ["missing_user"]],
  ["consecutive same role", { messages: [sys, user, user, asst] }, ["consecutive_same_role"]],
  ["ends with user", { messages: [sys, user, asst, user] }, ["ends_with_user"]],
  ["system not first", { messages: [user, sys, asst] }, ["system_not_first"]],
  ["two system messages mid-conversation", { messages: [sys, user, sys, sys, asst] }, ["system_not_first", "consecutive_same_role"]],
  ["two system messages before the conversation", { messages: [sys, sys, user, asst] }, []],
];

test("every record-level error and warning code, each at its own line", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "cases.jsonl");
    // The deep case cannot go through JSON.stringify of a nested parse; write its text directly.
    const lines = CASES.map(([name, rec]) =>
      name === "too deep" ? `{"messages":${JSON.stringify([sys, user, asst])},"tools":[${"[".repeat(150)}${"]".repeat(150)}]}` : JSON.stringify(rec),
    );
    writeFileSync(p, lines.join("\n") + "\n");
    const r = await validateFile(p, { analysis: false });
    assert.equal(r.format, "openai-chat");
    CASES.forEach(([name, , codes], i) => {
      const line = i + 1;
      const got = [...r.errors, ...r.warnings].filter((x) => x.line === line).map((x) => x.code);
      assert.deepEqual([...new Set(got)].sort(), [...new Set(codes)].sort(), `case "${name}" (line ${line}): ${JSON.stringify([...r.errors, ...r.warnings].filter((x) => x.line === line))}`);
    });
    const valid = CASES.filter(([, , codes]) => codes.every((c) => !["not_an_object", "missing_messages", "message_missing_key", "unrecognized_key", "unrecognized_role", "missing_content", "invalid_content", "no_assistant_message", "invalid_weight", "invalid_tool_call", "invalid_tools", "mixed_formats", "too_deep"].includes(c)));
    assert.equal(r.examples, valid.length);
    assert.equal(r.records, CASES.length);
  } finally {
    t.cleanup();
  }
});

test("consecutive system messages in the middle of a conversation: system_not_first and consecutive_same_role (CLI)", async () => {
  const file = join(projectRoot, "test", "data", "consecutive-system.jsonl");
  const r = await runCli(["validate", file, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = JSON.parse(r.stdout).warnings as { line: number; code: string; message: string }[];
  const at = (line: number) => warnings.filter((w) => w.line === line).map((w) => w.code).sort();
  assert.deepEqual(at(1), ["consecutive_same_role", "system_not_first"]);
  assert.match(warnings.find((w) => w.line === 1 && w.code === "consecutive_same_role")!.message, /messages 3 and 4 are both system/);
  assert.deepEqual(at(2), [], "a system block before the conversation starts is fine");
  assert.deepEqual(at(3), []);
});

test("ShareGPT, Alpaca, prompt/completion and text records get the same error codes", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const cases: [string, unknown[], string[]][] = [
      ["sg.jsonl", [{ conversations: [{ from: "human", value: "hi" }, { from: "gpt", value: "" }] }], ["missing_content"]],
      ["sg2.jsonl", [{ conversations: [{ from: "human", value: "hi" }, { from: "observation", value: "{}" }, { from: "gpt", value: "x" }] }], ["invalid_tool_call"]],
      ["sg3.jsonl", [{ conversations: [{ from: "human", value: "hi" }] }], ["no_assistant_message"]],
      ["al.jsonl", [{ instruction: "x", input: "", output: "" }], ["missing_content"]],
      ["al2.jsonl", [{ instruction: "x", input: "", output: 3 }], ["invalid_content"]],
      ["pc.jsonl", [{ prompt: "p", completion: "" }], ["missing_content"]],
      ["tx.jsonl", [{ text: "" }], ["missing_content"]],
    ];
    for (const [name, recs, codes] of cases) {
      const p = join(t.dir, name);
      writeFileSync(p, recs.map((r) => JSON.stringify(r)).join("\n") + "\n");
      const r = await validateFile(p, { analysis: false });
      assert.deepEqual(r.errors.map((e) => e.code), codes, `${name}: ${JSON.stringify(r.errors)}`);
    }
  } finally {
    t.cleanup();
  }
});

test("a file mixing formats reports mixed_formats at the odd lines only", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "mixed.jsonl");
    writeFileSync(p, [JSON.stringify({ text: "a" }), JSON.stringify(ok), JSON.stringify({ text: "b" })].join("\n") + "\n");
    const r = await validateFile(p, { analysis: false });
    assert.equal(r.format, "text");
    assert.deepEqual(r.errors.map((e) => [e.line, e.code]), [[2, "mixed_formats"]]);
    assert.match(r.errors[0].message, /openai-chat.*text/);
  } finally {
    t.cleanup();
  }
});

test("CLI: --json has the documented shape and exit code 1 on errors", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "d.jsonl");
    writeFileSync(p, [JSON.stringify(ok), "{not json", "", JSON.stringify({ messages: [user] })].join("\n") + "\n");
    const r = await runCli(["validate", p, "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.file, p);
    assert.equal(j.format, "openai-chat");
    assert.equal(j.examples, 1);
    assert.deepEqual(j.errors.map((e: { line: number; code: string }) => [e.line, e.code]), [
      [2, "invalid_json"],
      [4, "no_assistant_message"],
    ]);
    assert.match(j.errors[0].message, /column 2/);
    // Line 0: a dataset-wide finding from the analysis.
    assert.deepEqual(j.warnings.map((e: { line: number; code: string }) => [e.line, e.code]), [
      [0, "too_few_examples"],
      [3, "blank_line"],
    ]);
    assert.equal(typeof j.stats, "object");
    for (const e of [...j.errors, ...j.warnings]) assert.deepEqual(Object.keys(e).slice(0, 3), ["line", "code", "message"]);
  } finally {
    t.cleanup();
  }
});

test("CLI: human output prints file:line: error[code] lines, caps long lists and exits 0 without errors", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "many.jsonl");
    writeFileSync(p, Array.from({ length: 30 }, () => "{oops").join("\n") + "\n");
    const r = await runCli(["validate", p, "--limit", "5"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:1: error\\[invalid_json\\] invalid JSON at column 2`));
    assert.match(r.stdout, /\.\.\. and 25 more errors \(use --json for all\)/);
    assert.doesNotMatch(r.stdout, /\u001b\[/);
    const good = join(t.dir, "good.jsonl");
    writeFileSync(good, JSON.stringify(ok) + "\n");
    const g = await runCli(["validate", good]);
    assert.equal(g.code, 0, g.stderr + g.stdout);
    assert.match(g.stdout, /1 valid examples of 1 records, 0 errors/);
  } finally {
    t.cleanup();
  }
});

test("real data: OpenAI cookbook toy set, AllyArc chat, LLaMA-Factory Alpaca/ShareGPT, MLX text", async (t) => {
  const dir = sharedFixture("datasets");
  if (!dir) return t.skip("shared fixtures missing");
  const toy = await validateFile(join(dir, "toy_chat_fine_tuning.jsonl"), { analysis: false });
  assert.equal(toy.examples, 5);
  assert.deepEqual(toy.warnings.map((w) => [w.line, w.code]), [
    [3, "missing_system"],
    [4, "missing_user"],
  ]);
  const ally = await validateFile(join(dir, "real/allyarc-oai/train.jsonl"), { analysis: false });
  assert.equal(ally.format, "openai-chat");
  assert.equal(ally.examples, 1333);
  assert.equal(ally.errorCount, 0);
  assert.ok(ally.counts.warnings.ends_with_user > 0, "AllyArc has conversations ending with the user");
  const alpaca = await validateFile(join(dir, "real/llamafactory-data/alpaca_en_demo.json"), { analysis: false });
  assert.deepEqual([alpaca.format, alpaca.examples, alpaca.errorCount], ["alpaca", 999, 0]);
  const identity = await validateFile(join(dir, "real/llamafactory-data/identity.json"), { analysis: false });
  assert.deepEqual([identity.format, identity.examples, identity.errorCount], ["alpaca", 91, 0]);
  const glaive = await validateFile(join(dir, "real/llamafactory-data/glaive_toolcall_en_demo.json"), { analysis: false });
  assert.deepEqual([glaive.format, glaive.examples, glaive.errorCount], ["sharegpt", 300, 0]);
  const mlx = await validateFile(join(dir, "real/mlx-examples-lora/train.jsonl"), { analysis: false });
  assert.deepEqual([mlx.format, mlx.examples, mlx.errorCount], ["text", 1000, 0]);
});

test("examples/: support-tickets is clean behaviour data, policy-facts is flagged as fact teaching", async () => {
  const support = await validateFile(join(projectRoot, "examples", "support-tickets.jsonl"));
  assert.equal(support.errorCount, 0);
  assert.ok(support.examples >= 60);
  assert.deepEqual(support.warnings, [], "no warnings at all, fact_injection included");
  const shape = (support.stats as { shape?: { dominantSignature?: string; dominantShare?: number } }).shape;
  assert.equal(shape?.dominantShare, 1, "every reply has the TL;DR / Next step shape");
  assert.match(String(shape?.dominantSignature), /TL;DR:.*Next step:/);
  const policy = await validateFile(join(projectRoot, "examples", "policy-facts.jsonl"));
  assert.equal(policy.errorCount, 0);
  const flagged = policy.counts.warnings.fact_injection ?? 0;
  assert.ok(flagged >= 0.8 * policy.examples, `only ${flagged} of ${policy.examples} policy examples flagged`);
});

test("worker-thread validation gives the same report as in-thread validation (tricky lines, tiny chunks)", async () => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "tricky.jsonl");
    const long = JSON.stringify({ messages: [sys, user, { role: "assistant", content: "x".repeat(300) }] });
    const parts: (string | Buffer)[] = [
      "\uFEFF" + JSON.stringify(ok) + "\r\n",
      "\n",
      long + "\n",
      JSON.stringify({ messages: [user, asst] }) + "\r\n",
      Buffer.from([0x7b, 0xe9, 0x7d, 0x0a]),
      "{bad json\n",
      long + "\n",
      JSON.stringify({ prompt: "a", completion: "b" }) + "\n",
      JSON.stringify(ok) + "\n",
      JSON.stringify(ok).slice(0, 30),
    ];
    writeFileSync(p, Buffer.concat(parts.map((x) => (typeof x === "string" ? Buffer.from(x) : x))));
    // Each parallel run starts two workers (slow under tsx): two chunk sizes, quick mode once.
    for (const chunkBytes of [5, 1 << 20]) {
      const base = { maxLineBytes: 200, chunkBytes, model: "gpt-4o-mini" };
      const seq = await validateFile(p, { ...base, workers: 0 });
      const par = await validateFile(p, { ...base, workers: 2, parallelMinBytes: 0 });
      assert.deepEqual(par.errors, seq.errors, `chunk ${chunkBytes}`);
      assert.deepEqual(par.warnings, seq.warnings);
      assert.deepEqual([par.examples, par.records, par.format], [seq.examples, seq.records, seq.format]);
      assert.deepEqual((par.stats as { tokens?: unknown }).tokens, (seq.stats as { tokens?: unknown }).tokens);
      assert.deepEqual(
        seq.errors.map((e) => [e.line, e.code]),
        [
          [3, "line_too_long"],
          [5, "invalid_utf8"],
          [6, "invalid_json"],
          [7, "line_too_long"],
          [8, "mixed_formats"],
          [10, "invalid_json"],
        ],
      );
      if (chunkBytes !== 5) continue;
      const quickSeq = await validateFile(p, { ...base, workers: 0, quick: true });
      const quickPar = await validateFile(p, { ...base, workers: 2, parallelMinBytes: 0, quick: true });
      assert.deepEqual(quickPar.stats, quickSeq.stats);
      assert.deepEqual(quickPar.errors, quickSeq.errors);
      assert.equal((quickSeq.stats as { analysis?: string }).analysis, "quick");
    }
  } finally {
    t.cleanup();
  }
});

test("--model: real token counts (OpenAI encoding and an open model's tokenizer + template), too_many_tokens over the limit", async (tt) => {
  const t = tempDir("tunekit-validate-");
  try {
    const p = join(t.dir, "long.jsonl");
    const huge = Array.from({ length: 70_000 }, (_, i) => `w${i % 997}`).join(" ");
    writeFileSync(p, [JSON.stringify(ok), JSON.stringify({ messages: [sys, user, { role: "assistant", content: huge }] })].join("\n") + "\n");
    const r = await validateFile(p, { model: "gpt-4o-mini", workers: 0 });
    assert.deepEqual(r.errors.map((e) => [e.line, e.code]), [[2, "too_many_tokens"]]);
    assert.match(r.errors[0].message, /over the 65536-token limit/);
    const tokens = (r.stats as { tokens: { min: number; max: number } }).tokens;
    assert.ok(tokens.min > 5 && tokens.min < 40, `a 3-message example is a few tokens, got ${tokens.min}`);
    assert.ok(tokens.max > 65_536);
    const quick = await validateFile(p, { model: "gpt-4o-mini", quick: true, workers: 0 });
    assert.deepEqual(quick.errors.map((e) => [e.line, e.code]), [[2, "too_many_tokens"]]);
    assert.deepEqual((quick.stats as { tokens: unknown }).tokens, (r.stats as { tokens: unknown }).tokens);
  } finally {
    t.cleanup();
  }
  const tokDir = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (!tokDir) return tt.skip("shared tokenizer fixture missing");
  const open = await validateFile(join(projectRoot, "examples", "support-tickets.jsonl"), { model: tokDir, quick: true });
  const st = open.stats as { tokens: { min: number; sum: number }; assistantTokens: { sum: number }; tokenizerModel: string };
  assert.equal(st.tokenizerModel, tokDir);
  assert.ok(st.tokens.min > 50);
  assert.ok(st.assistantTokens.sum > 0 && st.assistantTokens.sum < st.tokens.sum);
});

test("parallel full validation runs in a capped coordinator thread: same report, progress and typed errors come back", async () => {
  const t = tempDir("tunekit-validate-coord-");
  try {
    const p = join(t.dir, "d.jsonl");
    writeFileSync(p, Array.from({ length: 40 }, (_, i) => JSON.stringify({ messages: [sys, { role: "user", content: `question ${i}` }, asst] })).join("\n") + "\n");
    const seen: number[] = [];
    const viaCoordinator = await validateFile(p, { workers: 2, parallelMinBytes: 0, model: "gpt-4o-mini", onProgress: (pr) => seen.push(pr.bytesRead) });
    const here = await validateFile(p, { workers: 2, parallelMinBytes: 0, model: "gpt-4o-mini", coordinator: false });
    assert.deepEqual(viaCoordinator, here);
    assert.ok(seen.length > 0 && seen.at(-1)! > 0, "progress reaches the caller");
    // A TunekitError raised inside the coordinator arrives as one, code and exit code intact.
    // (Form feeds: blank lines to the reader, but not skipped by the parallel path's first-byte check.)
    const blank = join(t.dir, "blank.jsonl");
    writeFileSync(blank, "\f\n\f\n\f\n");
    await assert.rejects(validateFile(blank, { workers: 2, parallelMinBytes: 0 }), (e: unknown) => {
      assert.ok(isTunekitError(e));
      assert.equal(e.code, "empty_file");
      assert.equal(e.exitCode, 1);
      return true;
    });
  } finally {
    t.cleanup();
  }
});
