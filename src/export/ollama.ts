/**
 * `exportOllama(runDir, out)`: a folder Ollama can `ollama create -f Modelfile` from: FROM the base
 * model, ADAPTER the run's PEFT adapter (copied next to the Modelfile), and a TEMPLATE + stop
 * parameters equal to the chat template used in training (a different template makes the output
 * garbage). Ollama takes safetensors adapters only for Llama, Mistral and Gemma; other architectures
 * are refused with the way out (export merged, then convert).
 */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { readModelConfig } from "../engine/io/config.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from "../engine/io/peft.js";
import { readRunRecord, runPaths } from "../engine/train/run-dir.js";
import { TunekitError } from "../util/errors.js";
import { refuseNonEmptyFolder, writeFileAtomic } from "../util/fs.js";
import { buildFolderAtomically } from "./merged.js";

/** Architectures (config.json model_type) whose safetensors adapters Ollama's ADAPTER accepts. */
export const OLLAMA_ADAPTER_ARCHITECTURES = ["llama", "mistral", "gemma", "gemma2"];

export interface OllamaTemplate {
  family: "chatml" | "llama3" | "mistral" | "gemma";
  template: string;
  stop: string[];
}

/** The Go template equivalent to a Hugging Face chat template, recognised by its special tokens. */
export function ollamaTemplateFor(chatTemplate: string | undefined): OllamaTemplate | undefined {
  if (!chatTemplate) return undefined;
  if (chatTemplate.includes("<|im_start|>")) {
    return {
      family: "chatml",
      template:
        "{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}{{ if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}<|im_start|>assistant\n{{ .Response }}<|im_end|>\n",
      stop: ["<|im_start|>", "<|im_end|>"],
    };
  }
  if (chatTemplate.includes("<|start_header_id|>")) {
    return {
      family: "llama3",
      template:
        "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>",
      stop: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    };
  }
  if (chatTemplate.includes("<start_of_turn>")) {
    return {
      family: "gemma",
      template: "<start_of_turn>user\n{{ if .System }}{{ .System }} {{ end }}{{ .Prompt }}<end_of_turn>\n<start_of_turn>model\n{{ .Response }}<end_of_turn>\n",
      stop: ["<start_of_turn>", "<end_of_turn>"],
    };
  }
  if (chatTemplate.includes("[INST]")) {
    return { family: "mistral", template: "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]{{ .Response }}", stop: ["[INST]", "[/INST]"] };
  }
  return undefined;
}

const quote = (s: string) => JSON.stringify(s);

export function modelfileText(from: string, adapterPath: string, t: OllamaTemplate): string {
  return [
    `# Written by tunekit: the base model, the LoRA adapter, and the chat template used in training (${t.family}).`,
    `FROM ${from}`,
    `ADAPTER ${adapterPath}`,
    `TEMPLATE """${t.template}"""`,
    ...t.stop.map((s) => `PARAMETER stop ${quote(s)}`),
    "",
  ].join("\n");
}

export async function exportOllama(runDir: string, out: string): Promise<{ out: string; modelfile: string; family: string }> {
  const rec = await readRunRecord(runDir);
  const config = await readModelConfig(join(rec.modelDir, "config.json"));
  const modelType = String(config.raw.model_type ?? config.family);
  if (!OLLAMA_ADAPTER_ARCHITECTURES.includes(modelType)) {
    throw new TunekitError(
      "ollama_adapter_unsupported",
      `Ollama cannot load a LoRA adapter for the ${modelType} architecture (its ADAPTER takes safetensors adapters for Llama, Mistral and Gemma only)`,
      { hint: `export the merged model instead: tunekit export ${runDir} --merged OUT, then import that folder into Ollama (FROM OUT)` },
    );
  }
  let chatTemplate: string | undefined;
  const tcPath = join(rec.modelDir, "tokenizer_config.json");
  if (existsSync(tcPath)) {
    const tc = JSON.parse(await readFile(tcPath, "utf8")) as { chat_template?: unknown };
    if (typeof tc.chat_template === "string") chatTemplate = tc.chat_template;
  }
  const tpl = ollamaTemplateFor(chatTemplate);
  if (!tpl) {
    throw new TunekitError(
      "ollama_template_unknown",
      chatTemplate
        ? "the model's chat template is not one tunekit can translate to an Ollama TEMPLATE (ChatML, Llama 3, Mistral, Gemma)"
        : "the model has no chat template (training used tunekit's plain-text template), which Ollama has no TEMPLATE for",
      { hint: `export the merged model (tunekit export ${runDir} --merged OUT) and write the Modelfile's TEMPLATE by hand to match training` },
    );
  }
  refuseNonEmptyFolder(out);
  // FROM: the base model's local folder (Ollama imports safetensors folders; a hub id resolves into the
  // HF cache), absolute so the Modelfile works from anywhere.
  const from = resolve(rec.modelDir);
  const text = modelfileText(from, "./adapter", tpl);
  await buildFolderAtomically(out, async (tmp) => {
    await mkdir(join(tmp, "adapter"));
    for (const f of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) await copyFile(join(runPaths(runDir).adapter, f), join(tmp, "adapter", f));
    await writeFileAtomic(join(tmp, "Modelfile"), text);
  });
  return { out: resolve(out), modelfile: join(resolve(out), "Modelfile"), family: tpl.family };
}
