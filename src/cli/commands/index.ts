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
  { name: "validate", summary: "check a dataset file: every error and warning with its line", load: () => import("./validate.js") },
  { name: "convert", summary: "convert Alpaca, ShareGPT, prompt/completion, text or CSV data to OpenAI chat JSONL", load: () => import("./convert.js") },
  { name: "train", summary: "fine-tune a model with LoRA on this machine (or a hosted provider with --provider)", load: () => import("./train.js") },
];
