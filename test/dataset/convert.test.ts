import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { convertFile } from "../../src/dataset/convert.js";
import { validateFile } from "../../src/dataset/validate/index.js";
import { projectRoot, runCli } from "../helpers/cli.js";
import { spawn } from "node:child_process";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";

const readJsonl = (p: string) =>
  readFileSync(p, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test("ShareGPT: roles, system, function_call/observation turns, a JSON-string tools field, unknown roles noted", async () => {
  const t = tempDir("tunekit-convert-");
  try {
    const input = join(t.dir, "sg.json");
    const rec = {
      id: "abc",
      system: "You are a weather bot.",
      tools: JSON.stringify([{ name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } } }]),
      conversations: [
        { from: "human", value: "Weather in Oslo and Rome?" },
        { from: "function_call", value: JSON.stringify([{ name: "get_weather", arguments: { city: "Oslo" } }, { name: "get_weather", arguments: { city: "Rome" } }]) },
        { from: "observation", value: '{"temp": 3}' },
        { from: "observation", value: '{"temp": 18}' },
        { from: "narrator", value: "meanwhile..." },
        { from: "gpt", value: "Oslo 3, Rome 18." },
      ],
    };
    writeFileSync(input, JSON.stringify([rec, { conversations: [{ from: "user", value: "a" }, { from: "assistant", value: "b" }] }], null, 2));
    const out = join(t.dir, "out.jsonl");
    const r = await convertFile(input, out);
    assert.equal(r.written, true);
    assert.equal(r.format, "sharegpt");
    assert.equal(r.examples, 2);
    const got = readJsonl(out);
    assert.deepEqual(got[0], {
      messages: [
        { role: "system", content: "You are a weather bot." },
        { role: "user", content: "Weather in Oslo and Rome?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
            { id: "call_2", type: "function", function: { name: "get_weather", arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: "tool", content: '{"temp": 3}', tool_call_id: "call_1" },
        { role: "tool", content: '{"temp": 18}', tool_call_id: "call_2" },
        { role: "assistant", content: "Oslo 3, Rome 18." },
      ],
      tools: [{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    });
    assert.deepEqual(got[1].messages, [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
    ]);
    const codes = r.conversion.map((n) => [n.code, n.message, n.count, n.firstLine]);
    assert.deepEqual(codes.sort(), [
      ["dropped_field", 'top-level field "id" dropped', 1, 2],
      ["tools_wrapped", 'bare function definitions in "tools" wrapped as {"type":"function","function":...}', 1, 2],
      ["unknown_role", 'turn with unknown role "narrator" dropped', 1, 2],
    ]);
    // The output is valid OpenAI chat.
    const v = await validateFile(out, { analysis: false });
    assert.equal(v.errorCount, 0, JSON.stringify(v.errors));
  } finally {
    t.cleanup();
  }
});

test("Alpaca with system and history, prompt/completion and text convert as documented", async () => {
  const t = tempDir("tunekit-convert-");
  try {
    const cases: [unknown, unknown][] = [
      [
        { instruction: "Translate", input: "chat", output: "cat", system: "Be brief.", history: [["Hi", "Hello"]] },
        {
          messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "Hi" },
            { role: "assistant", content: "Hello" },
            { role: "user", content: "Translate\nchat" },
            { role: "assistant", content: "cat" },
          ],
        },
      ],
      [{ prompt: "2+2=", completion: " 4" }, { messages: [{ role: "user", content: "2+2=" }, { role: "assistant", content: " 4" }] }],
      [{ text: "Once upon a time" }, { messages: [{ role: "assistant", content: "Once upon a time" }] }],
    ];
    for (const [i, [rec, want]] of cases.entries()) {
      const input = join(t.dir, `in${i}.jsonl`);
      writeFileSync(input, JSON.stringify(rec) + "\n");
      const out = join(t.dir, `out${i}.jsonl`);
      const r = await convertFile(input, out);
      assert.equal(r.written, true);
      assert.deepEqual(readJsonl(out), [want]);
    }
  } finally {
    t.cleanup();
  }
});

test("CLI: records that cannot be converted => exit 1, the errors listed, no output and no temp file", async () => {
  const t = tempDir("tunekit-convert-");
  try {
    const input = join(t.dir, "in.jsonl");
    writeFileSync(input, [JSON.stringify({ text: "fine" }), JSON.stringify({ text: "" }), "{broken"].join("\n") + "\n");
    const out = join(t.dir, "out.jsonl");
    const r = await runCli(["convert", input, "--to", "openai-chat", "-o", out]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /in\.jsonl:2: error\[missing_content\]/);
    assert.match(r.stdout, /in\.jsonl:3: error\[invalid_json\]/);
    assert.match(r.stdout, /nothing was written/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(t.dir), ["in.jsonl"]);
    const j = await runCli(["convert", input, "-o", out, "--json"]);
    assert.equal(j.code, 1);
    const rep = JSON.parse(j.stdout);
    assert.equal(rep.written, false);
    assert.equal(rep.errorCount, 2);
  } finally {
    t.cleanup();
  }
});

test("CLI: CSV with --columns converts, and usage mistakes exit 2", async () => {
  const t = tempDir("tunekit-convert-");
  try {
    const input = join(t.dir, "faq.csv");
    writeFileSync(input, 'Question,Answer\n"How do I reset my password?","TL;DR: Use the reset link.\nNext step: Click ""Forgot password""."\n');
    const out = join(t.dir, "faq.jsonl");
    const r = await runCli(["convert", input, "--columns", "user=Question,assistant=Answer", "-o", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).examples, 1);
    assert.deepEqual(readJsonl(out)[0].messages[1], { role: "assistant", content: 'TL;DR: Use the reset link.\nNext step: Click "Forgot password".' });
    const noOut = await runCli(["convert", input]);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /missing -o OUT/);
    const badCol = await runCli(["convert", input, "--columns", "user=Nope,assistant=Answer", "-o", out]);
    assert.equal(badCol.code, 2);
    assert.match(badCol.stderr, /csv_column_not_found/);
    const same = await runCli(["convert", out, "-o", out]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /output file is the input file/);
  } finally {
    t.cleanup();
  }
});

test("real data: LLaMA-Factory glaive tool-call ShareGPT and Alpaca convert without losing an example", async (t) => {
  const dir = sharedFixture("datasets", "real", "llamafactory-data");
  if (!dir) return t.skip("shared fixtures missing");
  const tmp = tempDir("tunekit-convert-");
  try {
    const src = JSON.parse(readFileSync(join(dir, "glaive_toolcall_en_demo.json"), "utf8"));
    const out = join(tmp.dir, "glaive.jsonl");
    const r = await convertFile(join(dir, "glaive_toolcall_en_demo.json"), out);
    assert.equal(r.written, true);
    const got = readJsonl(out);
    assert.equal(got.length, src.length);
    let calls = 0;
    let toolMsgs = 0;
    for (const ex of got) {
      for (const m of ex.messages) {
        calls += m.tool_calls?.length ?? 0;
        if (m.role === "tool") toolMsgs++;
      }
    }
    const srcCalls = src.flatMap((e: { conversations: { from: string }[] }) => e.conversations).filter((c: { from: string }) => c.from === "function_call").length;
    const srcObs = src.flatMap((e: { conversations: { from: string }[] }) => e.conversations).filter((c: { from: string }) => c.from === "observation").length;
    assert.equal(calls, srcCalls);
    assert.equal(toolMsgs, srcObs);
    const withTools = got.filter((e: { tools?: unknown[] }) => Array.isArray(e.tools) && e.tools.length > 0);
    assert.ok(withTools.length > 0);
    for (const e of withTools) for (const tool of e.tools) assert.equal(tool.type, "function");
    const v = await validateFile(out, { analysis: false });
    assert.equal(v.errorCount, 0, JSON.stringify(v.errors.slice(0, 3)));

    const aout = join(tmp.dir, "alpaca.jsonl");
    const a = await convertFile(join(dir, "alpaca_en_demo.json"), aout);
    assert.equal(a.examples, 999);
    assert.equal(readJsonl(aout).length, 999);
  } finally {
    tmp.cleanup();
  }
});

test("CLI: Ctrl-C during a long convert exits 130 and leaves neither the output nor a temp file", async () => {
  const t = tempDir("tunekit-convert-int-");
  try {
    const input = join(t.dir, "big.jsonl");
    // About 60 MB of Alpaca records: long enough to interrupt mid-write on any machine here.
    const rec = (i: number) => JSON.stringify({ instruction: `Summarise ticket ${i}: ${"the printer jams on page two again ".repeat(20)}`, input: "", output: `TL;DR: ticket ${i}.\nNext step: reboot.` });
    const lines: string[] = [];
    for (let i = 0; i < 80_000; i++) lines.push(rec(i));
    writeFileSync(input, lines.join("\n") + "\n");
    const out = join(t.dir, "out.jsonl");
    const child = spawn(process.execPath, ["--import", "tsx", join(projectRoot, "src/cli/main.ts"), "convert", input, "--to", "openai-chat", "-o", out], {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Interrupt as soon as the temp file of the output exists.
    const deadline = Date.now() + 60_000;
    let sawTemp = false;
    while (Date.now() < deadline && child.exitCode === null) {
      if (readdirSync(t.dir).some((f) => f.startsWith(".out.jsonl.tmp-"))) {
        sawTemp = true;
        child.kill("SIGINT");
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const code = await closed;
    assert.ok(sawTemp, "the conversion finished before it could be interrupted");
    assert.equal(code, 130);
    assert.deepEqual(readdirSync(t.dir), ["big.jsonl"]);
  } finally {
    t.cleanup();
  }
});
