/**
 * Chat templates: the model's own Jinja `chat_template` rendered with @huggingface/jinja (made for
 * chat templates) the way transformers' apply_chat_template does (messages, tools,
 * add_generation_prompt, bos_token/eos_token/unk_token/pad_token as strings), or, for models without
 * one, tunekit's plain-text template.
 *
 * The plain template (docs/chat-templates.md) adds NO new tokens: role headers are ordinary text and
 * each assistant turn is ended by the model's own EOS token, so a fine-tuned base model learns to stop:
 *
 *   {bos}System: {system}\n\nUser: {user}\n\nAssistant: {reply}{eos}\n\nUser: ...\n\nAssistant:
 *
 * `System:` also takes developer messages; tool results are `Tool result: {content}`; an assistant
 * tool call is written ` [tool call NAME ARGUMENTS]` after the reply text; a `tools` list becomes a
 * `Tools: [...]` line after BOS. The generation prompt is `Assistant:` with no trailing space, so the
 * reply's first token carries its own leading space (as SentencePiece and byte-level BPE expect).
 */
import { Template } from "@huggingface/jinja";
import { contentText, type ChatMessage } from "../chat/types.js";
import { TunekitError } from "../util/errors.js";
import type { Tokenizer } from "./types.js";
import { HfTokenizer } from "./hf.js";

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  /** OpenAI-style tool definitions ({type: "function", function: {...}}), passed to the template as `tools`. */
  tools?: unknown[];
}

export interface ChatTemplateRenderer {
  /** "plain" for tunekit's plain template, otherwise "jinja" plus which template. */
  readonly name: string;
  /** True for tunekit's plain-text template (the model had no chat template). */
  readonly plain: boolean;
  /** The Jinja source (undefined for the plain template). */
  readonly source?: string;
  /** The text that ends an assistant turn (EOS or the end-of-turn token), when known. */
  readonly endOfTurn: string[];
  render(messages: ChatMessage[], options?: RenderOptions): string;
}

export interface TemplateSpecialTokens {
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
}

/**
 * Messages as templates expect them (what transformers users pass): content as a string (text parts
 * joined; null stays null), tool-call arguments parsed from their JSON string into an object (many
 * templates apply `tojson` to them), tunekit/OpenAI-only keys such as `weight` removed.
 */
export function templateMessages(messages: ChatMessage[]): Record<string, unknown>[] {
  return messages.map((m) => {
    const out: Record<string, unknown> = { role: m.role, content: m.content === null ? null : contentText(m.content) };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0)
      out.tool_calls = m.tool_calls.map((c) => ({
        id: c.id,
        type: c.type ?? "function",
        function: { name: c.function?.name, arguments: parseArguments(c.function?.arguments) },
      }));
    return out;
  });
}

function parseArguments(a: unknown): unknown {
  if (typeof a !== "string") return a;
  try {
    return JSON.parse(a);
  } catch {
    return a;
  }
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/**
 * Python's strftime in the C locale (English names, as transformers' strftime_now renders them) for
 * the directives chat templates use.
 */
export function strftime(date: Date, format: string): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return format.replace(/%[YymdeBbAaHMSp%]/g, (t) => {
    switch (t) {
      case "%Y":
        return String(date.getFullYear());
      case "%y":
        return pad(date.getFullYear() % 100);
      case "%m":
        return pad(date.getMonth() + 1);
      case "%d":
        return pad(date.getDate());
      case "%e":
        return String(date.getDate()).padStart(2, " ");
      case "%B":
        return MONTHS[date.getMonth()];
      case "%b":
        return MONTHS[date.getMonth()].slice(0, 3);
      case "%A":
        return DAYS[date.getDay()];
      case "%a":
        return DAYS[date.getDay()].slice(0, 3);
      case "%H":
        return pad(date.getHours());
      case "%M":
        return pad(date.getMinutes());
      case "%S":
        return pad(date.getSeconds());
      case "%p":
        return date.getHours() < 12 ? "AM" : "PM";
      default:
        return "%";
    }
  });
}

const STRFTIME_NOW = "tunekit_strftime_now";

export interface TemplateOptions {
  /**
   * The date templates see through strftime_now (SmolLM3 writes "Today Date" into its system block):
   * a training run pins its start date, so a resumed run tokenizes exactly as before. Default: now.
   */
  now?: Date;
}

/** A renderer for a Jinja chat template. */
export function jinjaChatTemplate(source: string, special: TemplateSpecialTokens, name = "jinja", endOfTurn: string[] = [], templateOptions: TemplateOptions = {}): ChatTemplateRenderer {
  let template: Template;
  try {
    // @huggingface/jinja's own strftime_now cannot be replaced (a global) and names months in the
    // machine's locale: calls go to tunekit's, which pins the date and writes English as Python does.
    template = new Template(source.replace(/\bstrftime_now\s*\(/g, `${STRFTIME_NOW}(`));
  } catch (e) {
    throw new TunekitError("invalid_chat_template", `the chat template (${name}) does not parse: ${(e as Error).message}`, {
      hint: "fix chat_template in tokenizer_config.json (or chat_template.jinja)",
    });
  }
  return {
    name,
    plain: false,
    source,
    endOfTurn,
    render(messages, options = {}) {
      const ctx: Record<string, unknown> = {
        messages: templateMessages(messages),
        add_generation_prompt: options.addGenerationPrompt ?? false,
        ...special,
        [STRFTIME_NOW]: (format: string) => strftime(templateOptions.now ?? new Date(), format),
      };
      if (options.tools !== undefined && options.tools.length > 0) ctx.tools = options.tools;
      try {
        return template.render(ctx);
      } catch (e) {
        throw new TunekitError("chat_template_error", `the chat template (${name}) failed on this conversation: ${(e as Error).message}`, {
          hint: "the model's template may not accept these roles or this order of messages",
          exitCode: 1,
        });
      }
    },
  };
}

/** tunekit's plain-text template (see the module comment). */
export function plainChatTemplate(special: TemplateSpecialTokens): ChatTemplateRenderer {
  const bos = special.bos_token ?? "";
  const eos = special.eos_token ?? "";
  return {
    name: "plain",
    plain: true,
    endOfTurn: eos ? [eos] : [],
    render(messages, options = {}) {
      let out = bos;
      if (options.tools !== undefined && options.tools.length > 0) out += `Tools: ${JSON.stringify(options.tools)}\n\n`;
      for (const m of messages) {
        const text = contentText(m.content);
        switch (m.role) {
          case "system":
          case "developer":
            out += `System: ${text}\n\n`;
            break;
          case "user":
            out += `User: ${text}\n\n`;
            break;
          case "tool":
            out += `Tool result: ${text}\n\n`;
            break;
          case "assistant": {
            out += "Assistant:";
            if (text) out += ` ${text}`;
            for (const c of m.tool_calls ?? []) out += ` [tool call ${c.function?.name} ${c.function?.arguments}]`;
            out += `${eos}\n\n`;
            break;
          }
          default:
            out += `${String(m.role)}: ${text}\n\n`;
        }
      }
      if (options.addGenerationPrompt) out += "Assistant:";
      return out;
    },
  };
}

/** The special-token strings a tokenizer offers to templates. */
export function templateSpecialTokens(tok: Tokenizer): TemplateSpecialTokens {
  if (tok instanceof HfTokenizer) {
    const s = tok.specialTokens;
    return { bos_token: s.bos, eos_token: s.eos, unk_token: s.unk, pad_token: s.pad };
  }
  return {
    bos_token: tok.bosTokenId === undefined ? undefined : tok.idToToken(tok.bosTokenId),
    eos_token: tok.eosTokenId === undefined ? undefined : tok.idToToken(tok.eosTokenId),
  };
}

/**
 * The template a model uses: its own chat_template when it has one (named templates: `name`, default
 * "default"), otherwise the plain template. `override` (a Jinja source) replaces the model's template.
 */
export function chatTemplateFor(tok: Tokenizer, options: { name?: string; override?: string } & TemplateOptions = {}): ChatTemplateRenderer {
  const special = templateSpecialTokens(tok);
  const endOfTurn = tok.stopTokenIds.map((id) => tok.idToToken(id)).filter((s): s is string => typeof s === "string" && s.length > 0);
  if (options.override !== undefined) return jinjaChatTemplate(options.override, special, "jinja:override", endOfTurn, options);
  const own = tok instanceof HfTokenizer ? tok.chatTemplate : undefined;
  if (typeof own === "string" && own.trim().length > 0) return jinjaChatTemplate(own, special, "jinja:model", endOfTurn, options);
  if (own && typeof own === "object") {
    const named = own as Record<string, string>;
    const key = options.name ?? ("default" in named ? "default" : Object.keys(named)[0]);
    if (!(key in named))
      throw new TunekitError("unknown_chat_template", `the model has no chat template named ${key}`, { hint: `available: ${Object.keys(named).join(", ")}` });
    return jinjaChatTemplate(named[key], special, `jinja:${key}`, endOfTurn, options);
  }
  return plainChatTemplate(special);
}

/**
 * Renders `messages` with the model's chat template (or the plain template), like transformers'
 * `apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False)`.
 */
export function renderChatTemplate(target: Tokenizer | ChatTemplateRenderer, messages: ChatMessage[], options: RenderOptions = {}): string {
  const renderer = isRenderer(target) ? target : chatTemplateFor(target);
  return renderer.render(messages, options);
}

function isRenderer(x: Tokenizer | ChatTemplateRenderer): x is ChatTemplateRenderer {
  return typeof (x as ChatTemplateRenderer).render === "function" && typeof (x as ChatTemplateRenderer).plain === "boolean";
}

/**
 * Prompt token ids for generation: the rendered conversation with the generation prompt, encoded
 * with special tokens recognised and nothing added (the template writes BOS itself), exactly as
 * tokenizeForTraining encodes training text.
 */
export function encodeChatPrompt(tok: Tokenizer, template: ChatTemplateRenderer, messages: ChatMessage[], options: { tools?: unknown[] } = {}): number[] {
  return tok.encode(template.render(messages, { addGenerationPrompt: true, tools: options.tools }), { allowSpecial: true, addSpecialTokens: false });
}
