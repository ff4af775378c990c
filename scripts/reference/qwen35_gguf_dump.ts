/**
 * Teacher-forced next-token distributions of a Qwen3.5 model folder from tunekit and from its GGUF in
 * llama.cpp, written as JSON for scripts/reference/qwen35_gguf_arbitrate.py, which scores both against
 * the float64 PyTorch reference:
 *
 *   node --import tsx scripts/reference/qwen35_gguf_dump.ts MODEL_DIR FILE.gguf OUT.json
 */
import { writeFileSync } from "node:fs";
import { TextGenerator } from "../../src/engine/generate/generator.js";
import { tunekitTeacherForced } from "../../test/helpers/gguf-models.js";
import { llamaTeacherForced, loadGguf } from "../../test/helpers/llama-cpp.js";

const [modelDir, gguf, out] = process.argv.slice(2);
if (!out) throw new Error("usage: qwen35_gguf_dump.ts MODEL_DIR FILE.gguf OUT.json");
const gen = await TextGenerator.load(modelDir, { threads: 2 });
const prompt = gen.promptIds("the", { raw: true });
const text = gen.tokenizer.encode(" model says hello to the user, and then the user answers 42 times. the model says hello to the user, and then the user answers 42 times.");
const tunekit = await tunekitTeacherForced(gen, prompt, text);
const model = await loadGguf(gguf);
const llama = await llamaTeacherForced(model, prompt, text);
// Row i predicts text[i]: it is the distribution after prompt + text[0..i-1].
writeFileSync(out, JSON.stringify({ prompt, text, tunekitLogits: tunekit.map((x) => [...x]), llamaProbs: llama.probs.map((m) => [...m]) }));
await model.dispose();
await gen.dispose();
