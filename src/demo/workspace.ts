/** The demo's output folder and the JSONL files it writes into it. */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ChatExample, ChatMessage } from "../dataset/types.js";
import { TunekitError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";

/**
 * Refuses a path that is a file, or a folder holding something other than an earlier demo. Returns
 * what clears an earlier demo's output, to run once the model is known to load.
 */
export function checkOutDir(outDir: string): () => void {
  if (!existsSync(outDir)) return () => {};
  if (!statSync(outDir).isDirectory()) {
    throw new TunekitError("output_not_a_directory", `${outDir} exists and is not a folder`, { file: outDir, hint: "pick a folder path with -o" });
  }
  const entries = readdirSync(outDir);
  if (entries.length > 0 && !entries.includes("demo.json") && !entries.includes(".tunekit-demo")) {
    throw new TunekitError("output_not_empty", `${outDir} exists and is not an earlier demo output`, {
      file: outDir,
      hint: "pick a new folder with -o, or remove it",
    });
  }
  return () => {
    for (const e of entries) rmSync(join(outDir, e), { recursive: true, force: true });
  };
}

export function readJsonl(file: string): ChatExample[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as ChatExample);
}

export async function writeJsonl(file: string, examples: ChatExample[]): Promise<void> {
  await writeFileAtomic(file, examples.map((e) => JSON.stringify(e)).join("\n") + "\n");
}

/** The same examples with their system prompt replaced (the tuned model learns to need less prompt). */
export function withSystem(examples: ChatExample[], system: string): ChatExample[] {
  return examples.map((e) => ({ ...e, messages: [{ role: "system", content: system }, ...e.messages.filter((m) => m.role !== "system")] }));
}

/** The user and assistant turns of `examples`, as worked examples for a prompt. */
export function fewShotMessages(examples: ChatExample[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const ex of examples) {
    for (const m of ex.messages) if (m.role === "user" || m.role === "assistant") out.push({ role: m.role, content: m.content });
  }
  return out;
}

export function limit<T>(xs: T[], n: number | undefined): T[] {
  return n === undefined ? xs : xs.slice(0, n);
}
