/**
 * The chat templates of Qwen3, SmolLM3 and Gemma 3 through tunekit's renderer and assistant-only
 * masks. Qwen3's and SmolLM3's own templates are committed (test/fixtures/chat-templates/, Apache-2.0,
 * see the README there). Gemma's is under the Gemma Terms of Use and is not committed: the test uses a
 * template written for it plus renderings recorded from Gemma 3's real template (rendered with the same
 * @huggingface/jinja), and checks the two agree. No real Gemma or Qwen tokenizer files exist here: the
 * tokenizers are built for the test in the models' layouts (test/helpers/test-tokenizers.ts).
 * TUNEKIT_GEMMA3_CHAT_TEMPLATE=FILE (a .jinja or a tokenizer_config.json) also checks the recordings
 * against a real copy.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chatTemplateFor, encodeChatPrompt, jinjaChatTemplate } from "../../src/tokenize/chatTemplate.js";
import { tokenizeForTraining, type TrainingTokens } from "../../src/tokenize/trainingMask.js";
import type { HfTokenizer } from "../../src/tokenize/hf.js";
import type { ChatExample, ChatMessage } from "../../src/dataset/types.js";
import { TunekitError } from "../../src/util/errors.js";
import { projectRoot } from "../helpers/cli.js";
import { chatmlTokenizer, gemmaStyleTokenizer } from "../helpers/test-tokenizers.js";

const fixture = (name: string) => readFileSync(join(projectRoot, "test", "fixtures", "chat-templates", name), "utf8");

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

/** The ids generation uses for the prompt before each trained reply are a prefix of the training ids, and the reply starts the mask. */
function assertPromptPrefixes(ex: ChatExample, tok: HfTokenizer, r: TrainingTokens): void {
  const tpl = chatTemplateFor(tok);
  ex.messages.forEach((m, i) => {
    if (m.role !== "assistant" || m.weight === 0) return;
    const prompt = encodeChatPrompt(tok, tpl, ex.messages.slice(0, i));
    assert.deepEqual([...r.ids.slice(0, prompt.length)], prompt, `prompt before message ${i}`);
    assert.equal(r.lossMask[prompt.length - 1], 0, "the token before a reply is not a target");
    assert.equal(r.lossMask[prompt.length], 1, "the reply's first token is a target");
  });
}

const talk: ChatMessage[] = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello!" },
  { role: "user", content: "2+2?" },
  { role: "assistant", content: "4" },
];

test("Qwen3's template: an empty <think> block before the last reply (trained with it), none in history, reasoning dropped from earlier turns", () => {
  const tok = chatmlTokenizer(fixture("qwen3.jinja"));
  const tpl = chatTemplateFor(tok);
  assert.equal(
    tpl.render(talk),
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n" +
      "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n",
  );
  assert.equal(tpl.render(talk.slice(0, 2), { addGenerationPrompt: true }), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const r = tokenizeForTraining({ messages: talk }, tok, tpl);
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "<think>\n\n</think>\n\n4<|im_end|>"]);
  assert.equal(r.droppedSystemMessages, 0);
  assertPromptPrefixes({ messages: talk }, tok, r);
  // Reasoning in the replies: kept (re-rendered) in the last turn, dropped from the earlier one, whose
  // answer is still trained.
  const reasoned: ChatMessage[] = [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "<think>\nGreet back.\n</think>\n\nHello!" },
    { role: "user", content: "2+2?" },
    { role: "assistant", content: "<think>\nAdd.\n</think>\n\n4" },
  ];
  const rr = tokenizeForTraining({ messages: reasoned }, tok, tpl);
  assert.equal(rr.method, "search");
  assert.equal(rr.unlocatedTurns, 0);
  assert.deepEqual(maskedTexts(rr, tok), ["Hello!<|im_end|>", "<think>\nAdd.\n</think>\n\n4<|im_end|>"]);
});

/** "%d %B %Y" of today, as transformers' strftime_now gives it to the template. */
function today(): string {
  const d = new Date();
  const months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
  return `${String(d.getDate()).padStart(2, "0")} ${months[d.getMonth()]} ${d.getFullYear()}`;
}

test("SmolLM3's template: the metadata system block, /think and /no_think flags, masks on the replies", () => {
  const tok = chatmlTokenizer(fixture("smollm3.jinja"));
  const tpl = chatTemplateFor(tok);
  const head = (mode: string, instructions: string) =>
    `<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nToday Date: ${today()}\nReasoning Mode: ${mode}\n\n## Custom Instructions\n\n${instructions}\n\n`;
  // Default: thinking mode; the replies follow the assistant header directly.
  assert.equal(tpl.render(talk), head("/think", "Be brief.") + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n");
  const r = tokenizeForTraining({ messages: talk }, tok, tpl);
  assert.equal(r.method, "prefix");
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "4<|im_end|>"]);
  assertPromptPrefixes({ messages: talk }, tok, r);
  // "/no_think" in the system prompt: the flag leaves the instructions, every reply (and the generation
  // prompt) starts with an empty think block, which belongs to the prompt, not the trained reply.
  const noThink: ChatMessage[] = [{ role: "system", content: "Be brief. /no_think" }, ...talk.slice(1)];
  const text = tpl.render(noThink);
  assert.ok(text.startsWith(head("/no_think", "Be brief.")), text);
  assert.ok(text.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n4<|im_end|>\n"));
  assert.ok(tpl.render(noThink.slice(0, 2), { addGenerationPrompt: true }).endsWith("<|im_start|>assistant\n<think>\n\n</think>\n"));
  const rn = tokenizeForTraining({ messages: noThink }, tok, tpl);
  assert.deepEqual(maskedTexts(rn, tok), ["Hello!<|im_end|>", "4<|im_end|>"]);
  assertPromptPrefixes({ messages: noThink }, tok, rn);
  // strftime_now gets the date the caller pins (a training run's start), in English as in Python.
  const pinned = chatTemplateFor(tok, { now: new Date(2026, 0, 5, 12) });
  assert.ok(pinned.render(talk).includes("Today Date: 05 January 2026\n"));
  // Without a system prompt the model's own default instructions are used; the system prompt is never dropped.
  assert.match(tpl.render(talk.slice(1)), /## Custom Instructions\n\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face\. Your role/);
  assert.equal(r.droppedSystemMessages + rn.droppedSystemMessages, 0);
});

/**
 * Gemma 3's real template (google/gemma-3-*-it tokenizer_config.json, read from a stored public copy)
 * rendered with @huggingface/jinja: these strings were recorded from it.
 */
const GEMMA3_RECORDED: { messages: ChatMessage[]; addGenerationPrompt: boolean; text: string }[] = [
  { messages: [{ role: "user", content: "Hi there" }], addGenerationPrompt: false, text: "<bos><start_of_turn>user\nHi there<end_of_turn>\n" },
  { messages: [{ role: "user", content: "Hi there" }], addGenerationPrompt: true, text: "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n" },
  {
    messages: [
      { role: "system", content: "Answer in one line." },
      { role: "user", content: "  What is 2+2?  " },
      { role: "assistant", content: " 4 \n" },
    ],
    addGenerationPrompt: false,
    text: "<bos><start_of_turn>user\nAnswer in one line.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n",
  },
  {
    messages: [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
      { role: "assistant", content: "d" },
    ],
    addGenerationPrompt: true,
    text: "<bos><start_of_turn>user\na<end_of_turn>\n<start_of_turn>model\nb<end_of_turn>\n<start_of_turn>user\nc<end_of_turn>\n<start_of_turn>model\nd<end_of_turn>\n<start_of_turn>model\n",
  },
  {
    messages: [
      { role: "system", content: "S" },
      { role: "user", content: "u1" },
      { role: "assistant", content: "a1" },
      { role: "user", content: "u2" },
    ],
    addGenerationPrompt: true,
    text: "<bos><start_of_turn>user\nS\n\nu1<end_of_turn>\n<start_of_turn>model\na1<end_of_turn>\n<start_of_turn>user\nu2<end_of_turn>\n<start_of_turn>model\n",
  },
];

test("Gemma 3's format: the system prompt folds into the first user turn, replies trimmed, roles alternate (recorded from the real template)", () => {
  const special = { bos_token: "<bos>", eos_token: "<eos>" };
  const sources: [string, string][] = [["test template", fixture("gemma3-format.jinja")]];
  const real = process.env.TUNEKIT_GEMMA3_CHAT_TEMPLATE;
  if (real) {
    const text = readFileSync(real, "utf8");
    sources.push(["real template", real.endsWith(".json") ? JSON.parse(text).chat_template : text]);
  }
  for (const [name, source] of sources) {
    const tpl = jinjaChatTemplate(source, special, name, ["<end_of_turn>"]);
    for (const rec of GEMMA3_RECORDED) assert.equal(tpl.render(rec.messages, { addGenerationPrompt: rec.addGenerationPrompt }), rec.text, name);
    assert.throws(
      () => tpl.render([{ role: "user", content: "x" }, { role: "user", content: "y" }]),
      (e: unknown) => e instanceof TunekitError && e.code === "chat_template_error" && /alternate/.test(e.message),
    );
  }
});

test("Gemma 3's tokenizer layout (byte-fallback BPE, ▁ for spaces) and masks: each reply and its <end_of_turn>, nothing else", () => {
  const tok = gemmaStyleTokenizer(fixture("gemma3-format.jinja"));
  // Byte fallback: any text round-trips, unknown characters become <0x..> byte tokens.
  for (const s of ["the model said: héllo 😊", "  two  spaces\n\nand lines", "user\nmodel"]) {
    const ids = tok.encode(s, { addSpecialTokens: false });
    assert.equal(tok.decode(ids), s);
  }
  assert.deepEqual(tok.encode("the", { addSpecialTokens: false }).map((i) => tok.idToToken(i)), ["t", "he"]);
  assert.deepEqual(tok.encode(" the", { addSpecialTokens: false }).map((i) => tok.idToToken(i)), ["▁the"]);
  assert.deepEqual(tok.encode("é", { addSpecialTokens: false }).map((i) => tok.idToToken(i)), ["<0xC3>", "<0xA9>"]);
  assert.deepEqual(tok.encode("hi", { addSpecialTokens: true }).slice(0, 1), [2], "the post-processor adds <bos>");

  const tpl = chatTemplateFor(tok);
  assert.deepEqual(tpl.endOfTurn.includes("<end_of_turn>"), true);
  const ex: ChatExample = {
    messages: [
      { role: "system", content: "Answer in one line." },
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: " It is 4. " },
      { role: "user", content: "And 3+3?" },
      { role: "assistant", content: "6" },
    ],
  };
  const r = tokenizeForTraining(ex, tok, tpl);
  assert.equal(r.method, "prefix");
  assert.deepEqual(maskedTexts(r, tok), ["It is 4.<end_of_turn>", "6<end_of_turn>"]);
  const endOfTurn = tok.tokenToId("<end_of_turn>")!;
  assert.equal([...r.ids].filter((id, i) => id === endOfTurn && r.lossMask[i]).length, 2);
  assert.equal(r.ids[0], 2, "one <bos>, written by the template");
  assert.equal([...r.ids].filter((id) => id === 2).length, 1);
  assert.equal(r.droppedSystemMessages, 0, "Gemma folds the system prompt into the first user turn: it is not lost");
  assertPromptPrefixes(ex, tok, r);
});

test("a template that ignores system prompts is caught: the example's system message is counted as dropped", () => {
  const dropping =
    "{% for m in messages %}{% if m.role == 'user' %}{{ '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' }}{% elif m.role == 'assistant' %}{{ '<|im_start|>assistant\\n' + m.content + '<|im_end|>\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const tok = chatmlTokenizer(dropping);
  const r = tokenizeForTraining({ messages: talk }, tok, chatTemplateFor(tok));
  assert.equal(r.droppedSystemMessages, 1);
  assert.deepEqual(maskedTexts(r, tok), ["Hello!<|im_end|>", "4<|im_end|>"]);
  const none = tokenizeForTraining({ messages: talk.slice(1) }, tok, chatTemplateFor(tok));
  assert.equal(none.droppedSystemMessages, 0);
});
