/**
 * Adapters from the tokenize and dataset areas to what training needs: the model's tokenizer with its
 * chat template (or tunekit's plain template) and assistant-only masks, and the leak-free split.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { splitFile } from "../../dataset/split.js";
import { chatTemplateFor } from "../../tokenize/chatTemplate.js";
import { loadTokenizerFromDir } from "../../tokenize/hf.js";
import { tokenizeForTraining } from "../../tokenize/trainingMask.js";
import type { ExampleTokenizer } from "./prepare.js";
import { readExamples } from "./prepare.js";
import type { SourcedExample } from "../../dataset/types.js";

export async function trainingTokenizer(dir: string, options: { now?: Date } = {}): Promise<{ tokenize: ExampleTokenizer; template: { name: string; plain: boolean } }> {
  const tok = await loadTokenizerFromDir(dir);
  const template = chatTemplateFor(tok, options);
  return {
    // Truncation is done by the caller, which reports it; the mask is aligned with the ids.
    tokenize: (ex) => {
      const t = tokenizeForTraining(ex.example, tok, template);
      return { ids: Array.from(t.ids), lossMask: Array.from(t.lossMask), ...(t.droppedSystemMessages > 0 ? { systemDropped: true } : {}) };
    },
    template: { name: template.name, plain: template.plain === true },
  };
}

/**
 * The dataset area's leak-free split (duplicates, near duplicates and same-prompt examples stay on one
 * side), written into the run folder so the held-out set is on disk for inspection and for resume.
 */
export async function leakFreeSplit(file: string, fraction: number, seed: number, outDir: string): Promise<{ train: SourcedExample[]; test: SourcedExample[] }> {
  const train = join(outDir, "train.jsonl");
  const test = join(outDir, "test.jsonl");
  if (!existsSync(train) || !existsSync(test)) await splitFile(file, { testFraction: fraction, seed, outDir });
  return { train: await readExamples(train), test: await readExamples(test) };
}
