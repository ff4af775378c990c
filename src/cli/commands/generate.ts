/**
 * `tunekit generate --model DIR|ID [--adapter DIR] [--raw] (--prompt TEXT | --messages FILE) [...]`:
 * completes a prompt with a local model (ONNX Runtime). Prints only the completion on stdout; --json
 * adds token counts and timings; --messages completes every chat example of a JSONL file and prints one
 * JSON line per example (a trailing assistant turn is dropped and kept as the reference).
 */
import { bool, num, str, strList, usageError, printJson, type Command, type CommandContext } from "../command.js";
import { createProgress } from "../progress.js";
import { TextGenerator } from "../../engine/generate/generator.js";
import type { GenerationParams, GenerationResult } from "../../engine/generate/generate.js";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fsError, TunekitError } from "../../util/errors.js";
import { isGgufPath } from "../../llamacpp/load.js";
import { contentText, type ChatMessage } from "../../dataset/types.js";
import { baseBitsField } from "../../engine/quant/base.js";

function paramsFrom(ctx: CommandContext): GenerationParams {
  const stop = strList(ctx, "stop");
  return {
    maxTokens: num(ctx, cmd, "max-tokens", { integer: true, min: 0 }) ?? 256,
    temperature: num(ctx, cmd, "temperature", { min: 0 }) ?? 0,
    topP: num(ctx, cmd, "top-p", { min: 0, max: 1 }) ?? 1,
    topK: num(ctx, cmd, "top-k", { integer: true, min: 0 }) ?? 0,
    repetitionPenalty: num(ctx, cmd, "repetition-penalty", { min: 0 }) ?? 1,
    seed: num(ctx, cmd, "seed", { integer: true, min: 0, max: 2 ** 32 - 1 }) ?? 0,
    ...(stop.length ? { stop } : {}),
  };
}

function summary(r: GenerationResult) {
  return {
    text: r.text,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
    finishReason: r.finishReason,
    ...(r.stoppedBy !== undefined ? { stoppedBy: r.stoppedBy } : {}),
    timings: {
      prefillMs: round(r.timings.prefillMs),
      decodeMs: round(r.timings.decodeMs),
      totalMs: round(r.timings.totalMs),
      prefillTokensPerSecond: round(r.timings.prefillTokensPerSecond),
      decodeTokensPerSecond: round(r.timings.decodeTokensPerSecond),
    },
  };
}

const round = (x: number) => Math.round(x * 10) / 10;

interface PendingExample {
  line: number;
  messages: ChatMessage[];
  tools?: unknown[];
  reference?: string;
}

const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

/**
 * Reads the --messages JSONL. Not the dataset reader: that one checks training data and refuses
 * examples without an assistant reply, which are exactly what generation completes.
 */
async function readPromptExamples(ctx: CommandContext, file: string): Promise<{ pending: PendingExample[]; errors: number }> {
  let text: string;
  try {
    text = await readFile(resolve(ctx.io.cwd, file), "utf8");
  } catch (e) {
    throw fsError(e, file);
  }
  const pending: PendingExample[] = [];
  let errors = 0;
  const fail = (line: number, message: string) => {
    errors++;
    ctx.err(`${file}:${line}: error: ${message} (skipped)`);
  };
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return fail(line, `not valid JSON: ${(e as Error).message}`);
    }
    const ex = value as { messages?: unknown; tools?: unknown };
    if (!ex || typeof ex !== "object" || !Array.isArray(ex.messages)) return fail(line, 'expected {"messages": [...]}');
    const messages = ex.messages as ChatMessage[];
    const bad = messages.findIndex(
      (m) => !m || typeof m !== "object" || !ROLES.has(m.role) || !(typeof m.content === "string" || Array.isArray(m.content) || m.content === null),
    );
    if (bad >= 0) return fail(line, `message ${bad + 1} needs a role (${[...ROLES].join(", ")}) and a content`);
    const prompt = [...messages];
    let reference: string | undefined;
    if (prompt.length > 0 && prompt[prompt.length - 1].role === "assistant") reference = contentText(prompt.pop()!.content);
    if (prompt.length === 0) return fail(line, "nothing to complete once the trailing assistant reply is removed");
    pending.push({ line, messages: prompt, ...(Array.isArray(ex.tools) ? { tools: ex.tools } : {}), ...(reference !== undefined ? { reference } : {}) });
  });
  return { pending, errors };
}

/** What both generators (the local engine's and llama.cpp's for GGUF files) offer the command. */
type Generator = Pick<TextGenerator, "generate" | "generateBatch" | "dispose">;

async function runMessages(ctx: CommandContext, gen: Generator, examples: { pending: PendingExample[]; errors: number }, params: GenerationParams): Promise<number> {
  const { pending, errors } = examples;
  const progress = createProgress(ctx.io, { label: "generating", total: pending.length, unit: "examples" });
  const batchSize = 8;
  for (let i = 0; i < pending.length; i += batchSize) {
    const chunk = pending.slice(i, i + batchSize);
    const results = await gen.generateBatch(
      chunk.map((p) => ({ messages: p.messages, ...(p.tools ? { tools: p.tools } : {}) })),
      params,
    );
    results.forEach((r, k) => {
      const { text, ...rest } = summary(r);
      printJson(ctx, { line: chunk[k].line, text, ...(chunk[k].reference !== undefined ? { reference: chunk[k].reference } : {}), ...rest }, true);
    });
    progress.update(Math.min(pending.length, i + batchSize));
  }
  progress.finish();
  return errors > 0 ? 1 : 0;
}

const cmd: Command = {
  name: "generate",
  summary: "complete a prompt with a local model (optionally with a LoRA adapter)",
  usage: "tunekit generate --model DIR|ID|FILE.gguf [--adapter DIR|FILE.gguf] [--raw] (--prompt TEXT | --messages FILE) [options]",
  details: [
    "Prints only the completion on stdout. Greedy by default (temperature 0); sampling is seeded (--seed, default 0).",
    "--raw feeds the prompt as plain text after BOS (`--raw --prompt \"\"` starts from BOS alone); without it the",
    "prompt is a user message rendered with the model's chat template (models without one get tunekit's plain",
    "template, the one training uses: docs/chat-templates.md).",
    "A GGUF file (tunekit export --gguf) runs in llama.cpp through node-llama-cpp (npm install node-llama-cpp): its",
    "stored chat template renders chats; tokens come from llama.cpp's sampler (greedy at temperature 0).",
    "--messages FILE completes every chat example of a JSONL file (a trailing assistant reply is dropped and",
    "printed as `reference`), one JSON line per example.",
    "Exit codes: 0 fine, 1 some examples were invalid (skipped), 2 usage or I/O problem.",
    "--json schema: docs/json.md#generate",
  ].join("\n"),
  options: {
    model: { type: "string", short: "m", valueName: "DIR|ID|FILE", description: "model folder, Hugging Face id (owner/name[@revision]), or a GGUF file (run by llama.cpp)" },
    adapter: { type: "string", valueName: "DIR|FILE", description: "PEFT LoRA adapter folder to apply (a GGUF adapter with a GGUF model)" },
    raw: { type: "boolean", description: "feed the prompt as plain text after BOS (no chat template)" },
    prompt: { type: "string", short: "p", valueName: "TEXT", description: "the prompt" },
    messages: { type: "string", valueName: "FILE", description: "JSONL of chat examples to complete" },
    "max-tokens": { type: "string", valueName: "N", description: "new tokens at most", default: "256" },
    temperature: { type: "string", short: "t", valueName: "T", description: "sampling temperature (0 = greedy)", default: "0" },
    "top-p": { type: "string", valueName: "P", description: "nucleus sampling: keep the most likely tokens up to probability P", default: "1" },
    "top-k": { type: "string", valueName: "K", description: "keep the K most likely tokens (0 = off)", default: "0" },
    "repetition-penalty": { type: "string", valueName: "R", description: "penalise tokens already seen (1 = off)", default: "1" },
    seed: { type: "string", valueName: "S", description: "random seed for sampling", default: "0" },
    stop: { type: "string", multiple: true, valueName: "STR", description: "stop when the text contains STR (repeatable)" },
    "chat-template": { type: "string", valueName: "FILE", description: "a Jinja chat template file to use instead of the model's" },
    threads: { type: "string", valueName: "N", description: "CPU threads for ONNX Runtime (default: all cores)" },
    offline: { type: "boolean", description: "never download (same as HF_HUB_OFFLINE=1)" },
    "base-bits": { type: "string", valueName: "4|8|32", description: "keep the linear weights in 4 or 8 bits (faster, smaller; default 32 = float32)" },
    "ignore-adapter-base": { type: "boolean", description: "accept an adapter whose base model name differs (shapes must still fit)" },
    json: { type: "boolean", description: "print text, token counts and timings as JSON" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const model = str(ctx, "model");
    if (!model) throw usageError(cmd, "--model is required");
    const prompt = str(ctx, "prompt");
    const messages = str(ctx, "messages");
    if ((prompt === undefined) === (messages === undefined)) throw usageError(cmd, "give exactly one of --prompt or --messages");
    if (messages !== undefined && bool(ctx, "raw")) throw usageError(cmd, "--raw applies to --prompt, not to --messages");
    const params = paramsFrom(ctx);
    const threads = num(ctx, cmd, "threads", { integer: true, min: 1, max: 1024 });
    // The examples are read before the model loads, so a bad or empty file fails fast.
    const examples = messages !== undefined ? await readPromptExamples(ctx, messages) : undefined;
    if (examples && examples.pending.length === 0 && examples.errors === 0) {
      throw new TunekitError("empty_file", `${messages} has no examples to complete`, { file: messages, exitCode: 1, hint: 'give a JSONL file with one {"messages": [...]} per line' });
    }

    const templateFile = str(ctx, "chat-template");
    let chatTemplate: string | undefined;
    if (templateFile !== undefined) {
      try {
        chatTemplate = await readFile(resolve(ctx.io.cwd, templateFile), "utf8");
      } catch (e) {
        throw fsError(e, templateFile);
      }
    }
    const resolvedModel = resolve(ctx.io.cwd, model);
    if (isGgufPath(resolvedModel)) {
      const adapter = str(ctx, "adapter");
      if (str(ctx, "base-bits") !== undefined) throw usageError(cmd, "--base-bits applies to safetensors models; a GGUF file keeps its own quantization");
      if (adapter !== undefined && !/\.gguf$/i.test(adapter)) {
        throw usageError(cmd, "a GGUF model takes a GGUF LoRA adapter (tunekit export RUN --gguf-adapter FILE), not a PEFT folder");
      }
      const { GgufGenerator } = await import("../../llamacpp/generator.js");
      const gguf = await GgufGenerator.load(resolvedModel, {
        ...(threads !== undefined ? { threads } : {}),
        ...(adapter !== undefined ? { lora: resolve(ctx.io.cwd, adapter) } : {}),
        ...(chatTemplate !== undefined ? { chatTemplate } : {}),
      });
      return complete(ctx, gguf, examples, prompt, params);
    }
    const download = createProgress(ctx.io, { label: "downloading", unit: "bytes" });
    const loading = createProgress(ctx.io, { label: "loading weights", unit: "tensors" });
    let gen: TextGenerator;
    try {
      gen = await TextGenerator.load(model, {
        ...(str(ctx, "adapter") ? { adapter: str(ctx, "adapter") } : {}),
        ...(threads !== undefined ? { threads } : {}),
        ...(chatTemplate !== undefined ? { chatTemplate } : {}),
        offline: bool(ctx, "offline"),
        ...baseBitsField(str(ctx, "base-bits")),
        ignoreAdapterBaseName: bool(ctx, "ignore-adapter-base"),
        env: ctx.io.env,
        cwd: ctx.io.cwd,
        onProgress: (p) => {
          if (p.total !== undefined) download.setTotal(p.total);
          download.update(p.loaded, p.file);
        },
        onTensor: (done, total) => {
          download.finish();
          loading.setTotal(total);
          loading.update(done);
        },
      });
    } finally {
      download.finish();
      loading.finish();
    }
    for (const note of gen.notes) ctx.err(`${ctx.errColor.yellow("note")} ${note}`);
    return complete(ctx, gen, examples, prompt, params);
  },
};

/** Completes the prompt (streamed, or as JSON) or every example of --messages, then frees the model. */
async function complete(
  ctx: CommandContext,
  gen: Generator,
  examples: { pending: PendingExample[]; errors: number } | undefined,
  prompt: string | undefined,
  params: GenerationParams,
): Promise<number> {
  try {
    if (examples !== undefined) return await runMessages(ctx, gen, examples, params);
    if (bool(ctx, "json")) {
      printJson(ctx, summary(await gen.generate(prompt!, { ...params, raw: bool(ctx, "raw") })));
      return 0;
    }
    // Plain output streams as it is generated.
    await gen.generate(prompt!, { ...params, raw: bool(ctx, "raw"), onText: (piece) => void ctx.io.stdout.write(piece) });
    ctx.out();
    return 0;
  } finally {
    await gen.dispose();
  }
}

export default cmd;
