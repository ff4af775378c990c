import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { HfTokenizer, loadTokenizerFromDir } from "../../src/tokenize/hf.js";
import { chatTemplateFor, encodeChatPrompt, renderChatTemplate, jinjaChatTemplate } from "../../src/tokenize/chatTemplate.js";
import { tokenizeForTraining, type TrainingTokens } from "../../src/tokenize/trainingMask.js";
import { resolveTokenizer } from "../../src/tokenize/resolve.js";
import { countTemplateTokens } from "../../src/tokenize/templateCount.js";
import { TunekitError } from "../../src/util/errors.js";
import type { ChatExample, ChatMessage } from "../../src/dataset/types.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { byteLevelTokenizer } from "../helpers/test-tokenizers.js";

/** SmolLM2-Instruct's ChatML template (the fixture folder has no tokenizer_config.json; test input only). */
const CHATML =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** One token per byte, ChatML special tokens: every mask below can be checked by counting bytes. */
function byteTokenizer(extra: { chatTemplate?: string } = {}): HfTokenizer {
  return byteLevelTokenizer({
    added: [
      { content: "<|endoftext|>", special: true },
      { content: "<|im_start|>", special: true },
      { content: "<|im_end|>", special: true },
    ],
    eos: "<|im_end|>",
    chatTemplate: extra.chatTemplate,
  });
}

const conversation: ChatExample = {
  messages: [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "Bye" },
    { role: "assistant", content: "See you.", weight: 0 },
    { role: "user", content: "x" },
    { role: "assistant", content: "Done" },
  ],
};

/** The masked stretches of an example, decoded. */
function maskedTexts(r: TrainingTokens, tok: HfTokenizer): string[] {
  const out: string[] = [];
  let cur: number[] = [];
  for (let i = 0; i <= r.ids.length; i++) {
    if (i < r.ids.length && r.lossMask[i]) cur.push(r.ids[i]);
    else if (cur.length) {
      out.push(tok.decode(cur));
      cur = [];
    }
  }
  return out;
}

/** Training ids must start with exactly the ids generation would use for the prompt before each reply. */
function assertPromptPrefixes(ex: ChatExample, tok: HfTokenizer, tpl: ReturnType<typeof chatTemplateFor>, r: TrainingTokens): void {
  let trained = 0;
  ex.messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    const prompt = encodeChatPrompt(tok, tpl, ex.messages.slice(0, i));
    assert.deepEqual([...r.ids.slice(0, prompt.length)], prompt, `prompt before message ${i} is not a prefix of the training ids`);
    if (m.weight !== 0) {
      assert.equal(r.lossMask[prompt.length - 1], 0, "the token before a reply is not a target");
      assert.equal(r.lossMask[prompt.length], 1, "the reply's first token is a target");
      trained++;
    }
  });
  assert.ok(trained > 0);
}

test("ChatML masks (byte tokenizer): replies + <|im_end|> trained, weight 0 and separators not", () => {
  const tok = byteTokenizer({ chatTemplate: CHATML });
  const tpl = chatTemplateFor(tok);
  assert.equal(tpl.plain, false);
  const r = tokenizeForTraining(conversation, tok, tpl);
  assert.equal(r.method, "prefix");
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "Done<|im_end|>"]);
  // Hand count: "Hello!" = 6 bytes + <|im_end|>, "Done" = 4 bytes + <|im_end|>.
  assert.equal(r.assistantTokens, 7 + 5);
  assert.equal(r.emptyMask, false);
  const imEnd = tok.tokenToId("<|im_end|>")!;
  const trainedEnds = [...r.ids].filter((id, i) => id === imEnd && r.lossMask[i] === 1).length;
  assert.equal(trainedEnds, 2, "each trained turn's <|im_end|> is in the mask");
  assertPromptPrefixes(conversation, tok, tpl, r);
});

test("ChatML masks on the real SmolLM2 tokenizer", async (t) => {
  const dir = sharedFixture("tokenizers", "smollm2-135m-instruct");
  if (!dir) return t.skip("shared fixture missing (see notice above)");
  const tok = await loadTokenizerFromDir(dir);
  const tpl = chatTemplateFor(tok, { override: CHATML });
  const r = tokenizeForTraining(conversation, tok, tpl);
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "Done<|im_end|>"]);
  assert.equal(r.ids.filter((id) => id === 2).length, 7); // system + 3 user + 3 assistant turns
  assert.equal([...r.ids].filter((id, i) => id === 2 && r.lossMask[i] === 1).length, 2);
  // The rendered text is what generation-time tokenisation of the whole string gives.
  assert.deepEqual([...r.ids], tok.encode(renderChatTemplate(tpl, conversation.messages), { allowSpecial: true }));
  assertPromptPrefixes(conversation, tok, tpl, r);
});

test("plain template: documented text, adds no tokens, EOS ends each trained reply", () => {
  const tok = byteTokenizer();
  const tpl = chatTemplateFor(tok);
  assert.equal(tpl.plain, true);
  const messages: ChatMessage[] = [{ role: "system", content: "Be brief." }, ...conversation.messages];
  assert.equal(
    tpl.render(messages, { addGenerationPrompt: false }),
    "System: Be brief.\n\nUser: Hi\n\nAssistant: Hello!<|im_end|>\n\nUser: Bye\n\nAssistant: See you.<|im_end|>\n\nUser: x\n\nAssistant: Done<|im_end|>\n\n",
  );
  assert.equal(tpl.render(messages.slice(0, 2), { addGenerationPrompt: true }), "System: Be brief.\n\nUser: Hi\n\nAssistant:");
  const r = tokenizeForTraining({ messages }, tok, tpl);
  assert.deepEqual(maskedTexts(r, tok), [" Hello!<|im_end|>", " Done<|im_end|>"]);
  assert.equal(tok.vocabSize, 259, "the plain template needs no new token");
  assertPromptPrefixes({ messages }, tok, tpl, r);
});

test("plain template on the real stories260K (no chat template): BOS first, </s> trained", async (t) => {
  const dir = sharedFixture("models", "stories260K");
  if (!dir) return t.skip("shared fixture missing (see notice above)");
  const tok = await loadTokenizerFromDir(dir);
  const tpl = chatTemplateFor(tok);
  assert.equal(tpl.plain, true);
  assert.ok(tpl.render(conversation.messages).startsWith("<s>User: Hi\n\nAssistant: Hello!</s>\n\n"));
  const r = tokenizeForTraining(conversation, tok, tpl);
  assert.equal(r.ids[0], 1);
  assert.equal(r.ids.filter((id) => id === 1).length, 1, "BOS exactly once");
  assert.deepEqual(maskedTexts(r, tok), ["Hello!</s>", "Done</s>"]); // the decoder strips the leading space of a piece
  assert.equal([...r.ids].filter((id, i) => id === 2 && r.lossMask[i] === 1).length, 2);
  assertPromptPrefixes(conversation, tok, tpl, r);
});

test("weight 0 everywhere, or no assistant message: the empty mask is reported", () => {
  const tok = byteTokenizer({ chatTemplate: CHATML });
  const tpl = chatTemplateFor(tok);
  const allZero = tokenizeForTraining({ messages: conversation.messages.map((m) => (m.role === "assistant" ? { ...m, weight: 0 as const } : m)) }, tok, tpl);
  assert.equal(allZero.assistantTokens, 0);
  assert.equal(allZero.emptyMask, true);
  const none = tokenizeForTraining({ messages: [{ role: "user", content: "hi" }] }, tok, tpl);
  assert.equal(none.emptyMask, true);
});

test("truncation: counts, and a reply cut away entirely", () => {
  const tok = byteTokenizer({ chatTemplate: CHATML });
  const tpl = chatTemplateFor(tok);
  const full = tokenizeForTraining(conversation, tok, tpl);
  const firstReply = full.lossMask.indexOf(1);
  // Cut in the middle of the first reply: 2 of its tokens stay.
  const mid = tokenizeForTraining(conversation, tok, tpl, { maxSeqLen: firstReply + 2 });
  assert.equal(mid.truncated, true);
  assert.equal(mid.ids.length, firstReply + 2);
  assert.equal(mid.assistantTokens, 2);
  assert.equal(mid.replyCutAway, false);
  assert.equal(mid.droppedAssistantTokens, full.assistantTokens - 2);
  // Cut before any reply: nothing left to learn.
  const before = tokenizeForTraining(conversation, tok, tpl, { maxSeqLen: firstReply });
  assert.equal(before.replyCutAway, true);
  assert.equal(before.emptyMask, true);
  const roomy = tokenizeForTraining(conversation, tok, tpl, { maxSeqLen: 10_000 });
  assert.equal(roomy.truncated, false);
  assert.equal(roomy.fullLength, full.ids.length);
});

test("tool calls and tool messages: Jinja template gets parsed arguments; masks cover the calls", () => {
  const toolTemplate =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content %}{{ m.content }}{% endif %}{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function.name }} {{ c.function.arguments.city }}</tool_call>{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if tools %}{% endif %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const tok = byteTokenizer({ chatTemplate: toolTemplate });
  const ex: ChatExample = {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "c1", content: "21C" },
      { role: "assistant", content: "21 degrees." },
    ],
    tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
  };
  const tpl = chatTemplateFor(tok);
  const r = tokenizeForTraining(ex, tok, tpl);
  assert.deepEqual(maskedTexts(r, tok), ["<tool_call>get_weather Paris</tool_call><|im_end|>", "21 degrees.<|im_end|>"]);
  // The plain template writes the call as text and trains it too.
  const plain = chatTemplateFor(byteTokenizer());
  const p = tokenizeForTraining(ex, byteTokenizer(), plain);
  assert.deepEqual(maskedTexts(p, byteTokenizer()), [' [tool call get_weather {"city":"Paris"}]<|im_end|>', " 21 degrees.<|im_end|>"]);
  assert.ok(plain.render(ex.messages, { tools: ex.tools }).startsWith('Tools: [{"type":"function"'));
});

test("a template whose prefixes are not prefixes falls back to searching the reply", () => {
  // Marks the last message differently, so rendering messages[:i] is not a prefix of the whole.
  const odd = "{% for m in messages %}{% if loop.last %}[last]{% endif %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  const tok = byteTokenizer({ chatTemplate: odd });
  const r = tokenizeForTraining(conversation, tok, chatTemplateFor(tok));
  assert.equal(r.method, "search");
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "Done<|im_end|>"]);
  assert.equal(r.unlocatedTurns, 0);
});

test("bad templates and bad conversations give TunekitErrors", () => {
  assert.throws(() => jinjaChatTemplate("{% for %}", {}), (e: unknown) => e instanceof TunekitError && e.code === "invalid_chat_template");
  const strict = jinjaChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('must start with user') }}{% endif %}ok", {});
  assert.throws(() => strict.render([{ role: "assistant", content: "x" }]), (e: unknown) => e instanceof TunekitError && e.code === "chat_template_error" && /must start with user/.test(e.message));
});

test("resolveTokenizer: OpenAI names, local folders, hub ids offline, unknown names", async () => {
  assert.equal((await resolveTokenizer("gpt-4o-mini")).name, "o200k_base");
  assert.equal((await resolveTokenizer("gpt-3.5-turbo")).name, "cl100k_base");
  assert.equal((await resolveTokenizer("cl100k_base")).name, "cl100k_base");
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(
      join(dir, "tokenizer.json"),
      JSON.stringify({ model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] }, added_tokens: [] }),
    );
    const local = await resolveTokenizer(dir);
    assert.deepEqual(local.encode("abab"), [2, 2]);
    await assert.rejects(resolveTokenizer("claude-3-opus"), (e: unknown) => e instanceof TunekitError && e.code === "unknown_model" && /gpt-4o/.test(e.hint ?? ""));
    await assert.rejects(resolveTokenizer(join(dir, "tokenizer.json")), (e: unknown) => e instanceof TunekitError && e.code === "not_a_directory");
    // A hub id, offline, with an empty cache: a clear "not cached" error, no network use.
    await assert.rejects(
      resolveTokenizer("HuggingFaceTB/SmolLM2-135M-Instruct", { offline: true, env: { HF_HUB_CACHE: join(dir, "cache") } }),
      (e: unknown) => e instanceof TunekitError && e.code === "model_not_cached",
    );
  } finally {
    cleanup();
  }
});

test("countTemplateTokens: exact total, assistant estimate equals the mask on ChatML", () => {
  const tok = byteTokenizer({ chatTemplate: CHATML });
  const tpl = chatTemplateFor(tok);
  const c = countTemplateTokens(conversation, tok, tpl);
  const r = tokenizeForTraining(conversation, tok, tpl);
  assert.equal(c.total, r.ids.length);
  // Byte tokens: the estimate (reply bytes + one end-of-turn token) is exact here.
  assert.equal(c.assistant, r.assistantTokens);
});
