/**
 * Runs every `npx tunekit ...` command of docs/moving-off-openai.md, in the guide's order, against local
 * fakes: the old `ft:` model on an OpenAI-compatible chat server, Together and Fireworks' fine-tuning
 * APIs, and a tiny chat model (built here) standing in for the open models. Only names a user would
 * replace are substituted: the hub ids of the local and pulled base models, and JOB.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/fixtures.js";
import { assertSecretNowhere } from "../helpers/secrets.js";
import { tinyAdapterFiles, writeTinyChatModel } from "../helpers/tiny-chat-model.js";
import { writeChatJsonl } from "../providers/data.js";
import { startFakeChat } from "../servers/fake-chat.js";
import { FakeTogetherServer } from "../servers/fake-together.js";
import { FakeFireworksServer } from "../servers/fake-fireworks.js";

/** The guide's commands: lines of ```sh blocks and inline `npx tunekit ...` spans, in order. */
function guideCommands(text: string): string[] {
  const out: { at: number; cmd: string }[] = [];
  const blocks = /```sh\n([\s\S]*?)```/g;
  let m: RegExpExecArray | null;
  const covered: [number, number][] = [];
  while ((m = blocks.exec(text))) {
    covered.push([m.index, m.index + m[0].length]);
    let offset = m.index;
    for (const line of m[1].split("\n")) {
      if (line.startsWith("npx tunekit ")) out.push({ at: offset, cmd: line });
      offset += line.length + 1;
    }
  }
  const inline = /`(npx tunekit [^`]+)`/g;
  while ((m = inline.exec(text))) if (!covered.some(([a, b]) => m!.index >= a && m!.index < b)) out.push({ at: m.index, cmd: m[1] });
  return out.sort((a, b) => a.at - b.at).map((c) => c.cmd);
}

/** Splits a command line like a shell would (double quotes only). */
function argv(cmd: string): string[] {
  return [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((x) => x[1] ?? x[2]);
}

test("every command of the 'Moving off an OpenAI fine-tune' guide runs", async () => {
  const text = readFileSync(join(projectRoot, "docs", "moving-off-openai.md"), "utf8");
  const commands = guideCommands(text);
  assert.ok(commands.length >= 12, commands.join("\n"));
  const t = tempDir("tunekit-guide-");
  const KEYS = { openai: "sk-proj-" + "GuideOldModelKey12345678", together: "tg_" + "GuideTogetherKey87654321", fireworks: "fw_" + "GuideFireworksKey1357913" };
  const chat = await startFakeChat({ apiKey: KEYS.openai, reply: () => "TL;DR: order delayed.\nNext step: we reship today." });
  const together = await new FakeTogetherServer({ apiKey: KEYS.together, stepMs: 30 }).start();
  const fireworks = await new FakeFireworksServer({ apiKey: KEYS.fireworks, account: "acme" }).start();
  const outputs: string[] = [];
  try {
    const base = await writeTinyChatModel(join(t.dir, "models", "qwen-stand-in"));
    together.artifacts = { adapter: await tinyAdapterFiles(base, "Qwen/Qwen3-8B") };
    fireworks.artifacts = await tinyAdapterFiles(base, "Qwen/Qwen3-8B");
    writeChatJsonl(t.dir, "train.jsonl", 20);
    // The prompts the old model answers for `distill` (one per line).
    writeFileSync(join(t.dir, "prompts.txt"), Array.from({ length: 20 }, (_, i) => `Ticket p-${i}: my order ${2000 + i} has not arrived.`).join("\n") + "\n");
    const env = {
      OPENAI_API_KEY: KEYS.openai,
      OPENAI_BASE_URL: chat.baseUrl,
      TOGETHER_API_KEY: KEYS.together,
      TOGETHER_BASE_URL: together.baseURL,
      FIREWORKS_API_KEY: KEYS.fireworks,
      FIREWORKS_ACCOUNT_ID: "acme",
      FIREWORKS_BASE_URL: fireworks.baseURL,
      TUNEKIT_HOME: join(t.dir, "home"),
      TUNEKIT_POLL_MS: "25",
      HF_HUB_OFFLINE: "1",
    };
    let job = "";
    const ran: string[] = [];
    for (const cmd of commands) {
      const args = argv(cmd)
        .slice(2)
        .map((a) => (a === "HuggingFaceTB/SmolLM2-135M-Instruct" ? base : a === "JOB" ? job : a));
      const i = args.indexOf("--base");
      if (i >= 0) args[i + 1] = base;
      const r = await runCli(args, { cwd: t.dir, env, timeoutMs: 300_000 });
      outputs.push(r.stdout, r.stderr);
      ran.push(cmd);
      const gate = args.includes("--fail-if");
      // The gate is the one command expected to fail: a tiny random model is no match for the old one.
      assert.equal(r.code, gate ? 1 : 0, `${cmd}\n${r.stderr}`);
      if (gate) assert.match(r.stdout + r.stderr, /format_compliance/);
      if (args[0] === "train" && args.includes("together")) {
        const list = await runCli(["jobs", "list", "--json", "--provider", "together"], { env });
        job = JSON.parse(list.stdout)[0].id;
        assert.equal(JSON.parse(list.stdout)[0].status, "succeeded");
      }
    }
    assert.deepEqual(ran, commands);
    assert.ok(existsSync(join(t.dir, "eval-old", "report.html")));
    assert.ok(existsSync(join(t.dir, "runs", "local", "adapter", "adapter_config.json")));
    assert.equal(readFileSync(join(t.dir, "distilled.jsonl"), "utf8").trim().split("\n").length, 20);
    assert.ok(existsSync(join(t.dir, "runs", "distilled", "adapter", "adapter_config.json")));
    assert.ok(existsSync(join(t.dir, "eval-distilled", "report.html")));
    assert.ok(existsSync(join(t.dir, "runs", "together", "run.json")));
    assert.ok(existsSync(join(t.dir, "merged-model", "model.safetensors")));
    assert.ok(existsSync(join(t.dir, "ollama-model", "Modelfile")));
    assert.ok(chat.requests.some((r) => r.body.model === "ft:gpt-4o-mini-2024-07-18:acme::abc123"), "the old model was called");
    assert.ok(fireworks.jobs.size === 1 && together.jobs.size === 1);
    for (const key of Object.values(KEYS)) assertSecretNowhere(key, outputs, [t.dir]);
  } finally {
    await chat.close();
    await together.stop();
    await fireworks.stop();
    t.cleanup();
  }
});
