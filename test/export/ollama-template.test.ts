/**
 * Ollama TEMPLATEs written from a training chat template: Go's text/template (what Ollama renders
 * TEMPLATE with) must give, for every conversation, exactly the text training rendered (less the BOS
 * llama.cpp adds itself). Needs `go` (Debian's golang-go; .ci/run installs it); skipped loudly without.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChatMessage } from "../../src/chat/types.js";
import { jinjaChatTemplate, plainChatTemplate, type ChatTemplateRenderer } from "../../src/tokenize/chatTemplate.js";
import { ollamaTemplateFor, PROBES, type OllamaMessage, type TokenTexts } from "../../src/export/ollama-template.js";
import { CHATML_TEMPLATE, chatTemplateFixture, SMOLLM2_TEMPLATE } from "../helpers/gguf-models.js";

const renderer = fileURLToPath(new URL("./go/render_template.go", import.meta.url));
const hasGo = spawnSync("go", ["version"], { stdio: "ignore" }).status === 0;

function goRender(cases: { template: string; messages: OllamaMessage[] }[]): (string | { error: string })[] {
  const r = spawnSync("go", ["run", renderer], { input: JSON.stringify(cases), encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod", GO111MODULE: "off" } });
  if (r.status !== 0) throw new Error(`go run failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Llama 3.0's template (bos, a header per message, <|eot_id|>). */
const LLAMA3_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/** Llama 3.2's shape: a system block always, with the knowledge-cutoff and date preamble. */
const LLAMA32_TEMPLATE =
  '{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}' +
  "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = \"\" %}{%- endif %}" +
  '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}{{- "Cutting Knowledge Date: December 2023\\n" }}{{- "Today Date: " + date_string + "\\n\\n" }}{{- system_message }}{{- "<|eot_id|>" }}' +
  "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

const MORE: ChatMessage[][] = [
  [
    { role: "user", content: "First question" },
    { role: "assistant", content: "First answer" },
    { role: "user", content: "Second question" },
    { role: "assistant", content: "Second answer" },
    { role: "user", content: 'Quotes " and {{ braces }} and\nnewlines' },
  ],
  [
    { role: "system", content: "Reply in JSON." },
    { role: "user", content: "List two colours" },
  ],
];

const CASES: { name: string; t: ChatTemplateRenderer; tokens: TokenTexts; format: string }[] = [
  { name: "ChatML (no default system)", t: jinjaChatTemplate(CHATML_TEMPLATE, { eos_token: "<|im_end|>" }), tokens: { eos: "<|im_end|>", addBos: false }, format: "chatml" },
  { name: "SmolLM2 (ChatML with a default system prompt)", t: jinjaChatTemplate(SMOLLM2_TEMPLATE, { bos_token: "<|im_start|>", eos_token: "<|im_end|>" }), tokens: { bos: "<|im_start|>", eos: "<|im_end|>", addBos: false }, format: "chatml" },
  { name: "Llama 3", t: jinjaChatTemplate(LLAMA3_TEMPLATE, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" }), tokens: { bos: "<|begin_of_text|>", eos: "<|eot_id|>", addBos: true }, format: "llama3" },
  { name: "Llama 3.2 (system block with a date preamble)", t: jinjaChatTemplate(LLAMA32_TEMPLATE, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" }), tokens: { bos: "<|begin_of_text|>", eos: "<|eot_id|>", addBos: true }, format: "llama3" },
  { name: "Qwen3", t: jinjaChatTemplate(chatTemplateFixture("qwen3.jinja"), { eos_token: "<|im_end|>" }), tokens: { eos: "<|im_end|>", addBos: false }, format: "chatml" },
  { name: "SmolLM3 (ChatML with a metadata system block)", t: jinjaChatTemplate(chatTemplateFixture("smollm3.jinja"), { eos_token: "<|im_end|>" }), tokens: { eos: "<|im_end|>", addBos: false }, format: "chatml" },
  { name: "Gemma 3", t: jinjaChatTemplate(chatTemplateFixture("gemma3-format.jinja"), { bos_token: "<bos>", eos_token: "<eos>" }), tokens: { bos: "<bos>", eos: "<eos>", addBos: true }, format: "gemma" },
  { name: "tunekit's plain template", t: plainChatTemplate({ bos_token: "<s>", eos_token: "</s>" }), tokens: { bos: "<s>", eos: "</s>", addBos: true }, format: "plain" },
];

const asOllama = (ms: ChatMessage[]) => ms.map((m) => ({ role: m.role, content: String(m.content) }));

for (const c of CASES) {
  test(`Ollama TEMPLATE for ${c.name}: Go renders every conversation as training did`, (t) => {
    const o = ollamaTemplateFor(c.t, c.tokens);
    assert.equal(o.format, c.format);
    const conversations = [...PROBES, ...MORE];
    const expected = conversations.map((ms) => {
      const full = c.t.render(ms, { addGenerationPrompt: true });
      return c.tokens.addBos && c.tokens.bos && full.startsWith(c.tokens.bos) ? full.slice(c.tokens.bos.length) : full;
    });
    // The TypeScript twin of the TEMPLATE agrees with training on every conversation.
    assert.deepEqual(conversations.map((ms) => o.render(asOllama(ms))), expected);
    if (!hasGo) {
      process.stderr.write("\n*** SKIPPING: `go` is missing; Ollama TEMPLATEs were not rendered with Go's text/template ***\n");
      return t.skip("go is missing");
    }
    const got = goRender(conversations.map((ms) => ({ template: o.template, messages: asOllama(ms) })));
    assert.deepEqual(got, expected);
  });
}

test("a chat template tunekit has no Ollama TEMPLATE for, or one that renders differently, is refused", () => {
  const mistral = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}[INST] {{ m.content }} [/INST]{% else %}{{ m.content }}{{ eos_token }}{% endif %}{% endfor %}";
  assert.throws(() => ollamaTemplateFor(jinjaChatTemplate(mistral, { bos_token: "<s>", eos_token: "</s>" }), { bos: "<s>", eos: "</s>", addBos: true }), (e: Error & { code?: string; hint?: string }) => e.code === "ollama_template_unknown" && /--gguf/.test(e.hint ?? ""));
  // ChatML markers, but the roles are written upper-case: a ChatML TEMPLATE would differ from training.
  const odd = "{% for m in messages %}<|im_start|>{{ m.role | upper }}\n{{ m.content }}<|im_end|>\n{% endfor %}<|im_start|>user\n{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  assert.throws(() => ollamaTemplateFor(jinjaChatTemplate(odd, {}), { addBos: false }), (e: Error & { code?: string }) => e.code === "ollama_template_mismatch" && /character \d+/.test(e.message));
});
