/**
 * A model on the local engine: a model folder or hub id, optionally with a PEFT adapter, or a tunekit
 * training run folder (its base model and its adapter). Chats are rendered with the model's chat
 * template (or tunekit's plain one, as training used) by the engine's TextGenerator. The model loads on the first call that misses
 * the cache, so a fully cached rerun never pays for loading. Prompts are generated in batches.
 */
import type { BaseBits } from "../../engine/quant/base.js";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ChatMessage } from "../../dataset/types.js";
import { TextGenerator } from "../../engine/generate/generator.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from "../../engine/io/peft.js";
import { readRunRecord, runPaths } from "../../engine/train/run-dir.js";
import { TunekitError } from "../../util/errors.js";
import { costOf, type Generation, type GenerationParams, type ModelRunner, type Price } from "./types.js";

/** Generation errors that belong to one prompt (returned as data), not to the model. */
const PROMPT_ERRORS = new Set(["context_full", "prompt_too_long"]);

export interface LocalRunnerOptions {
  /** Model folder or hub id. */
  model: string;
  adapter?: string;
  label?: string;
  price?: Price;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  offline?: boolean;
  threads?: number;
  /** Keep the linear weights block-quantized in 4 or 8 bits (quant/base.ts); absent: float32. */
  baseBits?: BaseBits;
  /** Prompts decoded together (default 8). */
  batchSize?: number;
  /** Called when the model starts loading (on the first call that misses the cache), for a status line. */
  onLoading?(label: string): void;
}

/** Identity of weights on disk, cheap to compute: path, size and mtime of the weight files. */
function weightsFingerprint(dir: string): string {
  const h = createHash("sha256").update(dir);
  for (const f of ["config.json", "model.safetensors", "model.safetensors.index.json", ADAPTER_WEIGHTS_FILE, ADAPTER_CONFIG_FILE]) {
    const p = join(dir, f);
    if (existsSync(p)) {
      const s = statSync(p);
      h.update(`${f}:${s.size}:${s.mtimeMs}`);
      // Adapters are small and get retrained in place: hash their content.
      if (f.startsWith("adapter_") && s.size < 256 * 1024 * 1024) h.update(readFileSync(p));
    }
  }
  return h.digest("hex").slice(0, 16);
}

export function localModelId(model: string, adapter: string | undefined, cwd = process.cwd()): string {
  const dir = resolve(cwd, model);
  const base = existsSync(dir) ? `local:${dir}#${weightsFingerprint(dir)}` : `hub:${model}`;
  if (!adapter) return base;
  const a = resolve(cwd, adapter);
  return `${base}|adapter:${a}#${weightsFingerprint(a)}`;
}

export function createLocalRunner(options: LocalRunnerOptions): ModelRunner {
  let loading: Promise<TextGenerator> | undefined;
  // The generator renders chats with the model's chat template, or tunekit's plain one as training does.
  const load = () => {
    if (!loading) options.onLoading?.(options.label ?? options.model);
    return (loading ??= TextGenerator.load(options.model, {
      ...(options.adapter ? { adapter: options.adapter } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.baseBits ? { baseBits: options.baseBits } : {}),
      offline: options.offline,
      env: options.env,
      cwd: options.cwd,
    }));
  };

  const failed = (message: string, errorCode = "prompt"): Generation => ({ text: "", tokensIn: 0, tokensOut: 0, latencyMs: 0, error: message, errorCode });

  const runBatch = async (list: ChatMessage[][], params: GenerationParams): Promise<Generation[]> => {
    // A model that cannot load is a problem for the whole evaluation, not one bad call: that throws.
    const gen = await load();
    const generateOptions = {
      maxTokens: params.maxTokens ?? 256,
      temperature: params.temperature ?? 0,
      ...(params.topP !== undefined ? { topP: params.topP } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(params.stop !== undefined ? { stop: params.stop } : {}),
      batchSize: options.batchSize ?? 8,
    };
    const started = performance.now();
    try {
      const results = await gen.generateBatch(list, generateOptions);
      const perCall = (performance.now() - started) / list.length;
      return results.map((r) => ({
        text: r.text,
        tokensIn: r.promptTokens,
        tokensOut: r.completionTokens,
        latencyMs: perCall,
        costUsd: costOf(options.price, r.promptTokens, r.completionTokens) ?? 0,
        finishReason: r.finishReason,
      }));
    } catch (e) {
      if (e instanceof TunekitError && !PROMPT_ERRORS.has(e.code)) throw e;
      // One prompt the model cannot take (longer than its context) fails that prompt only: answer the
      // others one by one so a single long example is a row in the report, not a lost batch.
      if (list.length === 1 || !(e instanceof TunekitError)) return list.map(() => failed((e as Error).message, e instanceof TunekitError ? "prompt" : "unknown"));
      const out: Generation[] = [];
      for (const messages of list) out.push(...(await runBatch([messages], params)));
      return out;
    }
  };

  return {
    // Quantized weights answer differently: their own cache entries.
    id: localModelId(options.model, options.adapter, options.cwd) + (options.baseBits ? `|bits:${options.baseBits}` : ""),
    label: options.label ?? (options.adapter ? `${options.model} + adapter` : options.model),
    async generate(messages, params) {
      return (await runBatch([messages], params))[0];
    },
    generateBatch: runBatch,
    async close() {
      if (loading) await (await loading).dispose();
    },
  };
}

/** A tunekit training run folder: its base model plus its adapter. */
export async function createRunRunner(runDir: string, options: Omit<LocalRunnerOptions, "model" | "adapter">): Promise<ModelRunner> {
  const rec = await readRunRecord(runDir);
  const adapter = runPaths(runDir).adapter;
  // A pulled hosted job that came home as merged weights: the run's model is the tuned model itself.
  if ((rec as { source?: { weights?: string } }).source?.weights === "merged" && existsSync(rec.modelDir)) return createLocalRunner({ ...options, model: rec.modelDir });
  if (!existsSync(join(adapter, ADAPTER_CONFIG_FILE))) {
    throw new TunekitError("run_has_no_adapter", `the run ${runDir} has no adapter yet (status: ${rec.status})`, {
      file: runDir,
      hint: "wait for training to finish, or evaluate its checkpoint after `tunekit train --resume` completes",
    });
  }
  const model = rec.modelDir && existsSync(rec.modelDir) ? rec.modelDir : rec.model;
  return createLocalRunner({ ...options, model, adapter });
}
