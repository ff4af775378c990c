/**
 * PLAIN_CHAT_TEMPLATE_JINJA (what a GGUF stores for a model trained with tunekit's plain template)
 * renders conversations exactly as the plain template training used does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChatMessage } from "../../src/chat/types.js";
import { jinjaChatTemplate, plainChatTemplate, PLAIN_CHAT_TEMPLATE_JINJA } from "../../src/tokenize/chatTemplate.js";

const conversations: ChatMessage[][] = [
  [{ role: "user", content: "Hi" }],
  [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What is 2+2?" },
    { role: "assistant", content: "4" },
    { role: "user", content: "And 3+3?" },
  ],
  [
    { role: "developer", content: "Reply in JSON.\nAlways." },
    { role: "user", content: "List colours" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "colours", arguments: "{}" } }] },
    { role: "tool", tool_call_id: "c1", content: "red, green" },
    { role: "assistant", content: "" },
  ],
];

for (const special of [{ bos_token: "<s>", eos_token: "</s>" }, { eos_token: "<|endoftext|>" }, {}]) {
  test(`the plain template as Jinja renders as the plain template (special tokens ${JSON.stringify(special)})`, () => {
    const plain = plainChatTemplate(special);
    const jinja = jinjaChatTemplate(PLAIN_CHAT_TEMPLATE_JINJA, special);
    for (const c of conversations) {
      for (const addGenerationPrompt of [false, true]) {
        assert.equal(jinja.render(c, { addGenerationPrompt }), plain.render(c, { addGenerationPrompt }), JSON.stringify(c));
      }
    }
  });
}
