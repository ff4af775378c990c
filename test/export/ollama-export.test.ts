/**
 * `tunekit export RUN --ollama DIR`: model.gguf + a Modelfile `FROM ./model.gguf` with the training
 * template's TEMPLATE and stops, no ADAPTER line (Ollama 0.34.1+ refuses those), and the exact
 * `ollama create` command. llama.cpp loads the model.gguf.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { ollamaTemplateFor } from "../../src/export/ollama-template.js";
import { chatTemplateFor } from "../../src/tokenize/chatTemplate.js";
import { runCli } from "../helpers/cli.js";
import { sharedFixture, tempDir } from "../helpers/fixtures.js";
import { CHATML_TEMPLATE, familyConfigs, tunekitGreedy, writeModelFolder, writeRun } from "../helpers/gguf-models.js";
import { chatmlTokenizerFiles, gemmaStyleTokenizerFiles } from "../helpers/test-tokenizers.js";
import { llamaGreedy, loadGguf } from "../helpers/llama-cpp.js";

const tmp = tempDir("tunekit-ollama-");
test.after(() => tmp.cleanup());

test("a ChatML run: model.gguf (base + adapter) and a Modelfile FROM it with the training TEMPLATE; the exact ollama create command", async () => {
  const bl = chatmlTokenizerFiles(CHATML_TEMPLATE);
  const m = await writeModelFolder(join(tmp.dir, "qwen"), familyConfigs(bl.size, 0).qwen2, bl);
  const run = join(tmp.dir, "My Run");
  await writeRun(run, m.dir, m.config, { r: 4, alpha: 8, targets: "all-linear" });
  const r = await runCli(["export", "My Run", "--ollama", "ollama-out", "--dtype", "f32"], { cwd: tmp.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /create the Ollama model with: +ollama create my-run -f ollama-out\/Modelfile$/m);
  assert.match(r.stdout, /ollama create my-run -f ollama-out\/Modelfile --quantize q4_K_M$/m);
  const dir = join(tmp.dir, "ollama-out");
  assert.deepEqual(readdirSync(dir).sort(), ["Modelfile", "model.gguf"]);
  const mf = readFileSync(join(dir, "Modelfile"), "utf8");
  assert.match(mf, /^FROM \.\/model\.gguf$/m);
  assert.doesNotMatch(mf, /^ADAPTER/m);
  const gen = await TextGenerator.load(m.dir, { adapter: join(run, "adapter"), threads: 2 });
  try {
    const expected = ollamaTemplateFor(chatTemplateFor(gen.tokenizer), { eos: "<|im_end|>", addBos: false });
    assert.ok(mf.includes(`TEMPLATE """${expected.template}"""`));
    assert.match(mf, /^PARAMETER stop "<\|im_end\|>"$/m);
    assert.match(mf, /^PARAMETER stop "<\|im_start\|>"$/m);
    // The model.gguf is the tuned model: llama.cpp continues a chat prompt as tunekit does with the adapter.
    const ids = gen.promptIds([{ role: "user", content: "Say hi" }]);
    const model = await loadGguf(join(dir, "model.gguf"));
    assert.deepEqual(await llamaGreedy(model, ids, 12), (await tunekitGreedy(gen, ids, 12)).tokens);
    await model.dispose();
  } finally {
    await gen.dispose();
  }
  const info = await readGgufFileInfo(join(dir, "model.gguf"));
  assert.equal((info.metadata as unknown as { tokenizer: { chat_template: string } }).tokenizer.chat_template, CHATML_TEMPLATE);
});

test("a run on a model without a chat template gets tunekit's plain template as TEMPLATE (stories260K)", async (t) => {
  const stories = sharedFixture("models", "stories260K");
  if (!stories) return t.skip("stories260K fixture missing");
  const gen = await TextGenerator.load(stories, { threads: 1 });
  const config = gen.config;
  await gen.dispose();
  const run = join(tmp.dir, "stories-run");
  await writeRun(run, stories, config, { r: 2, alpha: 4, targets: ["q", "v"] });
  const out = join(tmp.dir, "stories-ollama");
  const r = await runCli(["export", run, "--ollama", out, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.format, "plain");
  assert.equal(j.gguf.dtype, "f16");
  const mf = readFileSync(join(out, "Modelfile"), "utf8");
  assert.match(mf, /TEMPLATE """\{\{ range \.Messages \}\}.*User: \{\{ \.Content \}\}/s);
  assert.match(mf, /^PARAMETER stop "<\/s>"$/m);
  assert.doesNotMatch(mf, /<s>/); // llama.cpp adds BOS itself (add_bos_token)
});

test("a chat template tunekit has no TEMPLATE for: refused before any weights are written", async () => {
  const gm = gemmaStyleTokenizerFiles("{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}");
  const m = await writeModelFolder(join(tmp.dir, "inst"), familyConfigs(0, gm.size).gemma3, gm);
  const run = join(tmp.dir, "inst-run");
  await writeRun(run, m.dir, m.config, { r: 2, alpha: 4, targets: ["q", "v"] });
  const out = join(tmp.dir, "inst-ollama");
  const r = await runCli(["export", run, "--ollama", out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /error\[ollama_template_unknown\]/);
  assert.match(r.stderr, /--gguf FILE/);
  assert.ok(!existsSync(out));
});
