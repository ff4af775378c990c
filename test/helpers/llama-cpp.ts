/**
 * Real llama.cpp for GGUF tests, through node-llama-cpp's prebuilt CPU binary (a pinned dev
 * dependency). A file llama.cpp refuses fails the test with llama.cpp's own log lines in the message.
 */
import { getLlama, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";

let llamaPromise: Promise<Llama> | undefined;
/** llama.cpp's log lines since the last load (its reasons for refusing a file are logged, not thrown). */
const logLines: string[] = [];

export function llamaCpp(): Promise<Llama> {
  llamaPromise ??= getLlama({
    gpu: false,
    build: "never",
    logLevel: "warn" as never,
    logger: (level, message) => {
      logLines.push(`${level}: ${message.trim()}`);
      if (logLines.length > 200) logLines.splice(0, logLines.length - 200);
    },
  });
  return llamaPromise;
}

/** Loads a GGUF; a refusal throws with llama.cpp's messages. */
export async function loadGguf(path: string): Promise<LlamaModel> {
  const llama = await llamaCpp();
  logLines.length = 0;
  try {
    return await llama.loadModel({ modelPath: path });
  } catch (e) {
    throw new Error(`llama.cpp refused ${path}: ${(e as Error).message}\nllama.cpp log:\n${logLines.join("\n")}`);
  }
}

export async function createContext(model: LlamaModel, opts: { lora?: string; contextSize?: number } = {}): Promise<LlamaContext> {
  logLines.length = 0;
  try {
    return await model.createContext({
      contextSize: opts.contextSize ?? 256,
      // One thread: llama.cpp's worker threads spin while they wait, which collapses when the cores are shared (tests run in parallel).
      threads: 1,
      // llama.cpp keeps its KV cache in F16 by default; F32 makes an F32 file's comparison exact to float rounding.
      flashAttention: false,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
      ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora }] } } : {}),
    });
  } catch (e) {
    throw new Error(`llama.cpp could not create a context${opts.lora ? ` with the adapter ${opts.lora}` : ""}: ${(e as Error).message}\nllama.cpp log:\n${logLines.join("\n")}`);
  }
}

/** llama.cpp's greedy continuation of exactly `ids` (no BOS added), `n` tokens (end-of-generation tokens included). */
export async function llamaGreedy(model: LlamaModel, ids: number[], n: number, opts: { lora?: string } = {}): Promise<number[]> {
  const ctx = await createContext(model, opts);
  try {
    const seq = ctx.getSequence();
    const out: number[] = [];
    for await (const t of seq.evaluate(ids as Token[], { temperature: 0, yieldEogToken: true })) {
      out.push(t);
      if (out.length >= n) break;
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

/**
 * Teacher-forced: after `ids`, feeds `reference` one token at a time and returns, for each position,
 * llama.cpp's most likely next token and its probability distribution.
 */
export async function llamaTeacherForced(model: LlamaModel, ids: number[], reference: number[]): Promise<{ argmax: number[]; probs: Map<number, number>[] }> {
  const ctx = await createContext(model);
  try {
    const seq = ctx.getSequence();
    const it = seq.evaluateWithMetadata(ids as Token[], { probabilities: true }, { temperature: 0, yieldEogToken: true });
    const argmax: number[] = [];
    const probs: Map<number, number>[] = [];
    let r = await it.next();
    for (let i = 0; i < reference.length && !r.done; i++) {
      argmax.push(r.value.token);
      probs.push(r.value.probabilities as Map<number, number>);
      if (i + 1 < reference.length) r = await it.next(reference[i] as Token);
    }
    await it.return();
    return { argmax, probs };
  } finally {
    await ctx.dispose();
  }
}
