/**
 * `exportMerged(runDir, out)`: the base model with the run's adapter folded in (W + scale B A), as a
 * plain Hugging Face folder (config.json, model.safetensors, tokenizer files) that any Llama-family
 * loader reads without PEFT. The folder is assembled under a temporary name and renamed into place,
 * so a failure never leaves a half-written model.
 */
import { copyFile, mkdir, readdir, rename, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { loadModel } from "../engine/io/model.js";
import { readPeftAdapter } from "../engine/io/peft.js";
import { mergeLora } from "../engine/models/lora.js";
import { writeSafetensors } from "../engine/io/safetensors.js";
import { readRunRecord, runPaths } from "../engine/train/run-dir.js";
import { fsError } from "../util/errors.js";
import { refuseNonEmptyFolder, writeFileAtomic } from "../util/fs.js";

/** Files copied from the base folder next to the merged weights (those present). */
export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "tokenizer.model",
  "vocab.json",
  "merges.txt",
  "added_tokens.json",
  "generation_config.json",
  "chat_template.jinja",
];

/** Builds a folder under a temporary sibling name, then renames it to `out`. */
export async function buildFolderAtomically(out: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const target = resolve(out);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(tmp, { recursive: true });
    await fill(tmp);
    if (existsSync(target)) await rm(target, { recursive: true }); // empty (checked by the caller)
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw fsError(e, out, "write");
  }
}

export interface MergedExport {
  out: string;
  tensors: number;
  files: string[];
}

export async function exportMerged(runDir: string, out: string): Promise<MergedExport> {
  const rec = await readRunRecord(runDir);
  refuseNonEmptyFolder(out);
  const model = await loadModel(rec.modelDir);
  const adapter = await readPeftAdapter(runPaths(runDir).adapter, { config: model.config });
  const merged = mergeLora(model.config, model.weights, adapter);
  const copied: string[] = [];
  await buildFolderAtomically(out, async (tmp) => {
    await writeFileAtomic(join(tmp, "config.json"), JSON.stringify(model.config.raw, null, 2) + "\n");
    const dtype = model.dtype === "F16" || model.dtype === "BF16" ? model.dtype : "F32";
    await writeSafetensors(
      join(tmp, "model.safetensors"),
      [...merged].map(([name, t]) => ({ name, shape: t.shape, data: t.data, dtype })),
      { format: "pt" },
    );
    const present = new Set(await readdir(model.dir));
    for (const f of TOKENIZER_FILES) {
      if (!present.has(f)) continue;
      await copyFile(join(model.dir, f), join(tmp, f));
      copied.push(f);
    }
  });
  return { out: resolve(out), tensors: merged.size, files: ["config.json", "model.safetensors", ...copied] };
}
