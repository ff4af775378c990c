/**
 * `exportOllama(runDir, out)`: a folder `ollama create NAME -f OUT/Modelfile` builds a model from:
 * `model.gguf` (the base model with the run's adapter merged in, gguf/export.ts) and a Modelfile with
 * `FROM ./model.gguf`, the TEMPLATE and stop parameters of the chat template used in training
 * (ollama-template.ts). No ADAPTER line: Ollama 0.34.1+ refuses those. The folder is assembled under
 * a temporary name and renamed into place, so a failure never leaves half of it.
 */
import { basename, join, resolve } from "node:path";
import { readRunRecord } from "../engine/train/run-dir.js";
import { chatTemplateFor } from "../tokenize/chatTemplate.js";
import { loadTokenizerFromDir } from "../tokenize/hf.js";
import { refuseNonEmptyFolder, writeFileAtomic } from "../util/fs.js";
import { exportGguf, runBaseModel, type GgufExportOptions, type GgufExportResult } from "./gguf/export.js";
import { buildFolderAtomically } from "./merged.js";
import { modelfileText, ollamaTemplateFor, type OllamaFormat } from "./ollama-template.js";

export interface OllamaExport {
  out: string;
  modelfile: string;
  gguf: GgufExportResult;
  format: OllamaFormat;
  /** The model name suggested for `ollama create` (from the run folder's name). */
  name: string;
  /** The command that creates the Ollama model. */
  command: string;
}

/** A name Ollama accepts: lower-case letters, digits, '.', '-', '_'. */
export function ollamaModelName(runDir: string): string {
  const n = basename(resolve(runDir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
  return n || "tuned";
}

export async function exportOllama(runDir: string, out: string, opts: GgufExportOptions = {}): Promise<OllamaExport> {
  const target = resolve(opts.cwd ?? process.cwd(), out);
  const rec = await readRunRecord(runDir);
  const modelDir = runBaseModel(runDir, rec);
  // The TEMPLATE is checked before any weights are written.
  const tok = await loadTokenizerFromDir(modelDir);
  const template = ollamaTemplateFor(chatTemplateFor(tok), {
    ...(tok.specialTokens.bos !== undefined ? { bos: tok.specialTokens.bos } : {}),
    ...(tok.specialTokens.eos !== undefined ? { eos: tok.specialTokens.eos } : {}),
    addBos: tok.bosTokenId !== undefined && tok.prefixIds.includes(tok.bosTokenId),
  });
  refuseNonEmptyFolder(target);
  let gguf: GgufExportResult | undefined;
  await buildFolderAtomically(target, async (tmp) => {
    gguf = await exportGguf({ runDir }, join(tmp, "model.gguf"), { ...opts, cwd: undefined });
    await writeFileAtomic(join(tmp, "Modelfile"), modelfileText(template, `the model tuned in ${basename(resolve(runDir))} (${gguf.merged ? "base + adapter, merged" : "merged weights"}) as GGUF`));
  });
  const modelfile = join(target, "Modelfile");
  const name = ollamaModelName(runDir);
  return {
    out: target,
    modelfile,
    gguf: { ...gguf!, out: join(target, "model.gguf") },
    format: template.format,
    name,
    command: `ollama create ${name} -f ${join(out, "Modelfile")}`,
  };
}
