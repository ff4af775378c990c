/**
 * Text in, text out: a model folder or hub id, its tokenizer, an optional PEFT adapter (merged into the
 * weights), and a decoder. Prompts are raw text (after BOS) or chat messages rendered with the model's
 * chat template.
 */
import type { ChatMessage } from "../../dataset/types.js";
import { TunekitError } from "../../util/errors.js";
import type { Tokenizer } from "../../tokenize/types.js";
import { loadTokenizerFromDir } from "../../tokenize/hf.js";
import { chatTemplateFor, encodeChatPrompt, type ChatTemplateRenderer } from "../../tokenize/chatTemplate.js";
import { loadModel, type LoadModelOptions } from "../io/model.js";
import { readPeftAdapter, type PeftAdapter } from "../io/peft.js";
import { mergeLora } from "../models/lora.js";
import { quantizeWeights } from "../quant/base.js";
import type { ModelConfig } from "../types.js";
import { createDecoder, type DecoderOptions } from "./backend.js";
import { defaultStopTokenIds, generateBatchFromIds, type GenerationHooks, type GenerationParams, type GenerationResult } from "./generate.js";
import { TextStreamer } from "./stream.js";
import type { DecoderModel } from "./types.js";

/** Raw text (with `raw: true`) or a user message; chat messages; or chat messages with tool definitions. */
export type Prompt = string | ChatMessage[] | { messages: ChatMessage[]; tools?: unknown[] };

export interface GeneratorOptions extends LoadModelOptions, DecoderOptions {
  /** A PEFT LoRA adapter folder to apply (merged into the weights). */
  adapter?: string;
  /** Accept an adapter whose base_model_name_or_path names another model (shapes must still fit). */
  ignoreAdapterBaseName?: boolean;
  /** A Jinja chat template that replaces the model's own (default: the model's, else tunekit's plain template). */
  chatTemplate?: string;
}

export interface PromptOptions {
  /** Feed a string prompt as plain text after BOS (no chat template). */
  raw?: boolean;
}

export class TextGenerator {
  private constructor(
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer,
    readonly decoder: DecoderModel,
    /** The resolved model folder. */
    readonly modelDir: string,
    readonly adapter: PeftAdapter | undefined,
    /** How chat prompts are rendered: the model's chat template, or tunekit's plain template (as in training). */
    readonly chatTemplate: ChatTemplateRenderer,
    /** What loading left out of the model (e.g. a multimodal checkpoint's vision tower). */
    readonly notes: string[] = [],
  ) {}

  static async load(model: string, opts: GeneratorOptions = {}): Promise<TextGenerator> {
    if (opts.baseBits && opts.backend === "js") {
      throw new TunekitError("usage", "--base-bits needs the ONNX Runtime decoder (the plain-JS decoder reads float32 weights only)");
    }
    // With an adapter, the float32 weights are merged first and the merged model quantized.
    const loaded = await loadModel(model, opts.adapter ? { ...opts, baseBits: undefined } : opts);
    const tokenizer = await loadTokenizerFromDir(loaded.dir);
    let weights = loaded.weights;
    let adapter: PeftAdapter | undefined;
    if (opts.adapter) {
      adapter = await readPeftAdapter(opts.adapter, {
        config: loaded.config,
        baseModel: model,
        ignoreBaseName: opts.ignoreAdapterBaseName,
      });
      weights = mergeLora(loaded.config, weights, adapter);
      if (opts.baseBits) weights = quantizeWeights(loaded.config, weights, opts.baseBits, false);
    }
    const decoder = await createDecoder(loaded.config, weights, opts);
    const template = chatTemplateFor(tokenizer, opts.chatTemplate !== undefined ? { override: opts.chatTemplate } : {});
    return new TextGenerator(loaded.config, tokenizer, decoder, loaded.dir, adapter, template, loaded.notes);
  }

  /** The BOS id, from the tokenizer or config.json. */
  get bosTokenId(): number | undefined {
    return this.tokenizer.bosTokenId ?? this.config.bosTokenId;
  }

  /** Token ids of a prompt: raw text after BOS, or chat messages through the chat template. */
  promptIds(prompt: Prompt, opts: PromptOptions = {}): number[] {
    if (typeof prompt === "string" && opts.raw) {
      const bos = this.bosTokenId;
      const ids = prompt === "" ? [] : this.tokenizer.encode(prompt, { addSpecialTokens: false });
      return bos !== undefined ? [bos, ...ids] : ids;
    }
    if (typeof prompt === "string") prompt = [{ role: "user", content: prompt }];
    const { messages, tools } = Array.isArray(prompt) ? { messages: prompt, tools: undefined } : prompt;
    if (messages.length === 0) throw new TunekitError("empty_prompt", "no messages to complete", { hint: "give at least one message" });
    return encodeChatPrompt(this.tokenizer, this.chatTemplate, messages, tools ? { tools } : {});
  }

  /** `onText` receives the completion as it grows (pieces that concatenate to the final `text`). */
  async generate(prompt: Prompt, params: GenerationParams & PromptOptions & { onText?: (piece: string) => void } = {}): Promise<GenerationResult> {
    const ids = this.promptIds(prompt, params);
    let hooks: GenerationHooks = {};
    let streamer: TextStreamer | undefined;
    if (params.onText) {
      const stopIds = params.stopTokenIds ?? defaultStopTokenIds(this.decoder, this.tokenizer);
      streamer = new TextStreamer(this.tokenizer, params.stop ?? [], stopIds, params.onText);
      hooks = { onToken: (_row, id) => streamer!.push(id) };
    }
    const [result] = await generateBatchFromIds(this.decoder, this.tokenizer, [ids], params, hooks);
    streamer?.finish(result.text);
    return result;
  }

  /** Completes several prompts together (one batched prefill and decode). */
  async generateBatch(prompts: Prompt[], params: GenerationParams & PromptOptions & { batchSize?: number } = {}): Promise<GenerationResult[]> {
    const ids = prompts.map((p) => this.promptIds(p, params));
    const size = Math.max(1, params.batchSize ?? 8);
    const out: GenerationResult[] = [];
    for (let i = 0; i < ids.length; i += size) out.push(...(await generateBatchFromIds(this.decoder, this.tokenizer, ids.slice(i, i + size), params)));
    return out;
  }

  async dispose(): Promise<void> {
    await this.decoder.dispose?.();
  }
}
