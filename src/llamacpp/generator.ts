/**
 * Text in, text out through llama.cpp for a GGUF file: what `tunekit generate --model FILE.gguf` and
 * `tunekit eval --model name=...,gguf=FILE` run, so a model can be measured as it will be deployed.
 *
 * Prompts are built as tunekit builds them for the same model: raw text after BOS, or chat messages
 * rendered with the chat template stored in the file (`tokenizer.chat_template`, rendered like
 * transformers' apply_chat_template with the generation prompt; tunekit's plain template when the
 * file has none) and tokenized by llama.cpp with special tokens recognised and nothing added. Tokens
 * are chosen by llama.cpp's sampler (greedy at temperature 0, like tunekit's); generation stops at an
 * end-of-generation token, a stop string (the text is cut before it), max tokens or a full context.
 */
import { statSync } from "node:fs";
import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import type { ChatMessage } from "../chat/types.js";
import { findStop, GENERATION_DEFAULTS, validateGenerationParams, type GenerationParams, type GenerationResult } from "../engine/generate/generate.js";
import type { Prompt, PromptOptions } from "../engine/generate/generator.js";
import { TextStreamer } from "../engine/generate/stream.js";
import { encodeChatPrompt, jinjaChatTemplate, plainChatTemplate, type ChatTemplateRenderer } from "../tokenize/chatTemplate.js";
import type { Tokenizer } from "../tokenize/types.js";
import { TunekitError } from "../util/errors.js";
import { loadGgufModel } from "./load.js";

/** llama.cpp's tokenizer behind tunekit's Tokenizer interface (prompt building, streaming decode). */
export class LlamaCppTokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly stopTokenIds: number[];

  constructor(private readonly model: LlamaModel) {
    this.name = model.filename ?? "gguf";
    const tokens = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } }).tokenizer?.ggml?.tokens;
    this.vocabSize = Array.isArray(tokens) ? tokens.length : 0;
    if (model.tokens.bos !== null) this.bosTokenId = model.tokens.bos;
    if (model.tokens.eos !== null) this.eosTokenId = model.tokens.eos;
    this.stopTokenIds = [model.tokens.eos, model.tokens.eot].filter((x): x is Token => x !== null);
  }

  encode(text: string, options: { addSpecialTokens?: boolean; allowSpecial?: boolean } = {}): number[] {
    const ids = [...this.model.tokenize(text, options.allowSpecial === true)];
    return options.addSpecialTokens && this.bosTokenId !== undefined ? [this.bosTokenId, ...ids] : ids;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const list = Array.from(ids) as Token[];
    const kept = options.skipSpecialTokens ? list.filter((t) => !this.model.isSpecialToken(t)) : list;
    return this.model.detokenize(kept, !options.skipSpecialTokens);
  }

  count(text: string): number {
    return this.model.tokenize(text, false).length;
  }

  tokenToId(token: string): number | undefined {
    const ids = this.model.tokenize(token, true);
    return ids.length === 1 ? ids[0] : undefined;
  }

  idToToken(id: number): string | undefined {
    return this.model.detokenize([id as Token], true);
  }
}

export interface GgufGeneratorOptions {
  /** CPU threads (default: 1 for files under SMALL_MODEL_BYTES, else node-llama-cpp's choice: the machine's math cores). */
  threads?: number;
  /** Context length in tokens (default: the model's, at most 4096). */
  contextSize?: number;
  /** A llama.cpp LoRA adapter (GGUF) to apply. */
  lora?: string;
  /** A Jinja chat template that replaces the one stored in the file. */
  chatTemplate?: string;
}

/**
 * Below this file size one thread decodes fastest: llama.cpp's worker threads spin at a barrier after
 * every op, which costs more than a small model's ops take (and collapses when other processes share
 * the cores: measured here, a 1 MB model decoded at about 600 tok/s on one thread and 7 on two).
 */
export const SMALL_MODEL_BYTES = 64 * 1024 * 1024;

export class GgufGenerator {
  private constructor(
    readonly path: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly tokenizer: LlamaCppTokenizer,
    /** The chat template stored in the file (or tunekit's plain template when it has none). */
    readonly chatTemplate: ChatTemplateRenderer,
  ) {}

  static async load(path: string, opts: GgufGeneratorOptions = {}): Promise<GgufGenerator> {
    const model = await loadGgufModel(path);
    try {
      const threads = opts.threads ?? (statSync(path).size < SMALL_MODEL_BYTES ? 1 : undefined);
      const context = await model.createContext({
        contextSize: opts.contextSize ?? Math.min(model.trainContextSize, 4096),
        ...(threads ? { threads } : {}),
        ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora }] } } : {}),
      });
      const tokenizer = new LlamaCppTokenizer(model);
      const special = {
        ...(model.tokens.bosString !== null ? { bos_token: model.tokens.bosString } : {}),
        ...(model.tokens.eosString !== null ? { eos_token: model.tokens.eosString } : {}),
      };
      const stored = opts.chatTemplate ?? (model.fileInfo.metadata as unknown as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template;
      const template = typeof stored === "string" && stored.trim() !== "" ? jinjaChatTemplate(stored, special, "jinja:gguf", tokenizer.stopTokenIds.map((id) => tokenizer.idToToken(id) ?? "")) : plainChatTemplate(special);
      return new GgufGenerator(path, model, context, tokenizer, template);
    } catch (e) {
      await model.dispose();
      if (e instanceof TunekitError) throw e;
      throw new TunekitError("gguf_load_failed", `llama.cpp could not prepare ${path}: ${(e as Error).message}`, { file: path, hint: opts.lora ? "check that the adapter was exported for this base model" : undefined });
    }
  }

  /** Longest prompt + completion the context holds. */
  get maxContext(): number {
    return this.context.contextSize;
  }

  /** Token ids of a prompt, built as TextGenerator builds them for the same model. */
  promptIds(prompt: Prompt, opts: PromptOptions = {}): number[] {
    if (typeof prompt === "string" && opts.raw) {
      const bos = this.tokenizer.bosTokenId;
      const ids = prompt === "" ? [] : this.tokenizer.encode(prompt);
      return bos !== undefined ? [bos, ...ids] : ids;
    }
    if (typeof prompt === "string") prompt = [{ role: "user", content: prompt }];
    const { messages, tools } = Array.isArray(prompt) ? { messages: prompt as ChatMessage[], tools: undefined } : prompt;
    if (messages.length === 0) throw new TunekitError("empty_prompt", "no messages to complete", { hint: "give at least one message" });
    return encodeChatPrompt(this.tokenizer, this.chatTemplate, messages, tools ? { tools } : {});
  }

  async generate(prompt: Prompt, params: GenerationParams & PromptOptions & { onText?: (piece: string) => void } = {}): Promise<GenerationResult> {
    validateGenerationParams(params);
    const ids = this.promptIds(prompt, params);
    if (ids.length === 0) throw new TunekitError("empty_prompt", "the prompt is empty and the model has no BOS token to start from", { hint: "give a non-empty prompt" });
    if (ids.length >= this.maxContext) {
      throw new TunekitError("prompt_too_long", `the prompt is ${ids.length} tokens, but the context holds ${this.maxContext} (and generation needs at least one more)`, { hint: "shorten the prompt", exitCode: 1 });
    }
    const maxTokens = params.maxTokens ?? GENERATION_DEFAULTS.maxTokens;
    const stops = params.stop ?? [];
    const longestStop = stops.reduce((m, s) => Math.max(m, s.length), 0);
    const stopIds = new Set(params.stopTokenIds ?? this.tokenizer.stopTokenIds);
    const streamer = params.onText ? new TextStreamer(this.tokenizer, stops, [...stopIds], params.onText) : undefined;
    const out: number[] = [];
    let text = "";
    let finishReason: GenerationResult["finishReason"] = "length";
    let stoppedBy: string | number | undefined;
    const seq = this.context.getSequence();
    const t0 = performance.now();
    let firstAt = t0;
    try {
      if (maxTokens > 0) {
        const temperature = params.temperature ?? GENERATION_DEFAULTS.temperature;
        const it = seq.evaluate(ids as Token[], {
          temperature,
          ...(temperature > 0 ? { seed: params.seed ?? GENERATION_DEFAULTS.seed } : {}),
          ...(params.topK ? { topK: params.topK } : {}),
          ...(params.topP !== undefined && params.topP < 1 ? { topP: params.topP } : {}),
          // tunekit penalises every token seen so far, the prompt's included.
          ...(params.repetitionPenalty !== undefined && params.repetitionPenalty !== 1
            ? { repeatPenalty: { punishTokens: () => [...ids, ...out] as Token[], maxPunishTokens: ids.length + maxTokens, penalty: params.repetitionPenalty } }
            : {}),
          yieldEogToken: true,
        });
        for await (const t of it) {
          if (out.length === 0) firstAt = performance.now();
          out.push(t);
          streamer?.push(t);
          if (stopIds.has(t) || this.model.isEogToken(t)) {
            finishReason = "stop";
            stoppedBy = t;
            break;
          }
          if (stops.length > 0) {
            const prevLen = text.length;
            text = this.tokenizer.decode(out, { skipSpecialTokens: true });
            const hit = findStop(text, stops, prevLen - longestStop);
            if (hit) {
              text = text.slice(0, hit.index);
              finishReason = "stop";
              stoppedBy = hit.stop;
              break;
            }
          }
          if (out.length >= maxTokens) break;
          if (ids.length + out.length >= this.maxContext) {
            finishReason = "context";
            break;
          }
        }
      }
    } finally {
      seq.dispose();
    }
    const end = performance.now();
    if (typeof stoppedBy !== "string") text = this.tokenizer.decode(stoppedBy !== undefined ? out.slice(0, -1) : out, { skipSpecialTokens: true });
    streamer?.finish(text);
    const prefillMs = out.length > 0 ? firstAt - t0 : end - t0;
    const decodeMs = out.length > 0 ? end - firstAt : 0;
    return {
      text,
      tokens: out,
      promptTokens: ids.length,
      completionTokens: out.length,
      finishReason,
      ...(stoppedBy !== undefined ? { stoppedBy } : {}),
      timings: {
        prefillMs,
        decodeMs,
        totalMs: end - t0,
        prefillTokensPerSecond: prefillMs > 0 ? (ids.length / prefillMs) * 1000 : 0,
        decodeTokensPerSecond: decodeMs > 0 && out.length > 1 ? ((out.length - 1) / decodeMs) * 1000 : 0,
      },
    };
  }

  /** Completes prompts one after another (one llama.cpp sequence). */
  async generateBatch(prompts: Prompt[], params: GenerationParams & PromptOptions = {}): Promise<GenerationResult[]> {
    const out: GenerationResult[] = [];
    for (const p of prompts) out.push(await this.generate(p, params));
    return out;
  }

  async dispose(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
