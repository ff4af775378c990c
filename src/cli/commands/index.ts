/**
 * The command table. Modules load lazily so `tunekit validate` never pays for the engine or SQLite.
 * A command module's default export is its Command.
 */
import type { Command } from "../command.js";

export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: Command }>;
}

export const commandTable: CommandEntry[] = [
  { name: "demo", summary: "the whole workflow on bundled examples: why behaviour is fine-tuned and facts retrieved", load: () => import("./demo.js") },
  { name: "validate", summary: "check a dataset file: every error and warning with its line", load: () => import("./validate.js") },
  { name: "convert", summary: "convert Alpaca, ShareGPT, prompt/completion, text or CSV data to OpenAI chat JSONL", load: () => import("./convert.js") },
  { name: "jobs list", summary: "list training jobs (local and hosted) from the job store", load: () => import("./jobs-list.js") },
  { name: "jobs show", summary: "show one job: parameters, status history, metrics, checkpoints", load: () => import("./jobs-show.js") },
  { name: "jobs watch", summary: "follow a hosted fine-tuning job to its end (resumes after restarts)", load: () => import("./jobs-watch.js") },
  { name: "jobs cancel", summary: "cancel a hosted fine-tuning job", load: () => import("./jobs-cancel.js") },
  { name: "jobs pull", summary: "download a finished hosted job's adapter (or merged weights) as a local run folder", load: () => import("./jobs-pull.js") },
  { name: "distill", summary: "training data from a teacher model: it answers your prompts, the answers with the right format are kept", load: () => import("./distill.js") },
  { name: "train", summary: "fine-tune a model with LoRA on this machine (or a hosted provider with --provider)", load: () => import("./train.js") },
  { name: "export", summary: "export a training run (or a base model) as GGUF for llama.cpp / Ollama / LM Studio, an Ollama folder, or merged safetensors", load: () => import("./export.js") },
  { name: "stats", summary: "token and message distributions, hosted training cost, reply-format consistency, fact injection", load: () => import("./stats.js") },
  { name: "split", summary: "split a dataset into train and test without leakage (near duplicates stay together)", load: () => import("./split.js") },
  { name: "leakage", summary: "find test examples that also appear in the training set", load: () => import("./leakage.js") },
  { name: "generate", summary: "complete a prompt with a local model (optionally with a LoRA adapter)", load: () => import("./generate.js") },
  { name: "rag index", summary: "index Markdown/text documents for retrieval (SQLite FTS5, BM25)", load: () => import("./rag-index.js") },
  { name: "rag query", summary: "retrieve the document chunks that best answer a question", load: () => import("./rag-query.js") },
  { name: "eval", summary: "compare models on held-out data (format, facts, forgetting, cost) and write an HTML report", load: () => import("./eval.js") },
  { name: "advise", summary: "recommend prompting, retrieval, fine-tuning or a mix for a dataset, with the numbers behind it", load: () => import("./advise.js") },
];
