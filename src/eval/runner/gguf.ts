/**
 * A GGUF file run by llama.cpp (node-llama-cpp), so a model is evaluated as it will be deployed, e.g.
 * a q8_0 export against the f16 one: `--model name=q8,gguf=model-q8.gguf`. Chats are rendered with the
 * chat template stored in the file (llamacpp/generator.ts). The model loads on the first call that
 * misses the cache; node-llama-cpp is imported only then.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { GgufGenerator } from "../../llamacpp/generator.js";
import { TunekitError } from "../../util/errors.js";
import { costOf, type Generation, type GenerationParams, type ModelRunner, type Price } from "./types.js";

export interface GgufRunnerOptions {
  path: string;
  /** A llama.cpp LoRA adapter (GGUF) to apply. */
  lora?: string;
  label?: string;
  price?: Price;
  threads?: number;
  onLoading?(label: string): void;
}

/** Path, size and mtime of the file(s): a re-exported file is a different model for the cache. */
export function ggufRunnerId(path: string, lora?: string): string {
  const part = (p: string) => {
    const abs = resolve(p);
    let stamp = "missing";
    try {
      const s = statSync(abs);
      stamp = `${s.size}:${s.mtimeMs}`;
    } catch {
      // loading reports the missing file
    }
    return `${abs}#${createHash("sha256").update(stamp).digest("hex").slice(0, 12)}`;
  };
  return `gguf:${part(path)}${lora ? `|lora:${part(lora)}` : ""}`;
}

export function createGgufRunner(options: GgufRunnerOptions): ModelRunner {
  let loading: Promise<GgufGenerator> | undefined;
  const label = options.label ?? options.path;
  const load = () => {
    if (!loading) options.onLoading?.(label);
    return (loading ??= import("../../llamacpp/generator.js").then(({ GgufGenerator }) =>
      GgufGenerator.load(options.path, { ...(options.threads ? { threads: options.threads } : {}), ...(options.lora ? { lora: options.lora } : {}) }),
    ));
  };
  return {
    id: ggufRunnerId(options.path, options.lora),
    label,
    async generate(messages, params: GenerationParams): Promise<Generation> {
      // A file that cannot load is a problem for the whole evaluation: that throws.
      const gen = await load();
      const started = performance.now();
      try {
        const r = await gen.generate(messages, {
          maxTokens: params.maxTokens ?? 256,
          temperature: params.temperature ?? 0,
          ...(params.topP !== undefined ? { topP: params.topP } : {}),
          ...(params.seed !== undefined ? { seed: params.seed } : {}),
          ...(params.stop !== undefined ? { stop: params.stop } : {}),
        });
        return {
          text: r.text,
          tokensIn: r.promptTokens,
          tokensOut: r.completionTokens,
          latencyMs: performance.now() - started,
          costUsd: costOf(options.price, r.promptTokens, r.completionTokens) ?? 0,
        };
      } catch (e) {
        // One prompt the context cannot hold fails that prompt only.
        if (e instanceof TunekitError && (e.code === "prompt_too_long" || e.code === "chat_template_error")) {
          return { text: "", tokensIn: 0, tokensOut: 0, latencyMs: 0, error: e.message };
        }
        throw e;
      }
    },
    async close() {
      if (loading) await (await loading).dispose();
    },
  };
}
