/**
 * Ollama's TEMPLATE (a Go text/template over .Messages) and stop parameters for the chat template a
 * model was trained with. Each supported format is a pair: the Go template, and the same rendering in
 * TypeScript. The format is recognised by its markers; its parameters (a default system prompt, a
 * system-block preamble, BOS) are read off the training template by rendering probe conversations;
 * then the TypeScript rendering of every probe must equal the training renderer's output exactly, or
 * the export is refused (a TEMPLATE that differs from training makes a tuned model's output garbage).
 * Tests render the Go templates with Go's text/template, which Ollama uses, against the TypeScript side.
 *
 * BOS: llama.cpp (and so Ollama) adds BOS itself when the GGUF says add_bos_token; the TEMPLATE then
 * leaves out the BOS the training template writes. Contents are not trimmed (Jinja's `| trim` in some
 * templates has no Go counterpart); the probes have none to trim.
 */
import type { ChatMessage } from "../chat/types.js";
import type { ChatTemplateRenderer } from "../tokenize/chatTemplate.js";
import { TunekitError } from "../util/errors.js";

/** A message as Ollama passes it to the template. */
export interface OllamaMessage {
  role: string;
  content: string;
}

export type OllamaFormat = "chatml" | "llama3" | "gemma" | "plain";

export interface OllamaTemplate {
  format: OllamaFormat;
  /** The Go template for the Modelfile's TEMPLATE. */
  template: string;
  stop: string[];
  /** What Ollama renders for `messages` with this template (the Go template's output, in TypeScript). */
  render(messages: OllamaMessage[]): string;
}

/** The special-token texts the GGUF's tokenizer has, and whether llama.cpp adds BOS itself. */
export interface TokenTexts {
  bos?: string;
  eos?: string;
  addBos: boolean;
}

/** A Go string literal (Go accepts JSON's escapes) inside an action: literal text that cannot start an action. */
const lit = (s: string) => (s === "" ? "" : `{{ ${JSON.stringify(s)} }}`);

interface Format {
  format: OllamaFormat;
  /** Whether the training template looks like this format. */
  matches(t: ChatTemplateRenderer, sample: string): boolean;
  build(t: ChatTemplateRenderer, bos: string): Omit<OllamaTemplate, "format">;
}

const U = "Hello there";
const S = "You answer briefly.";
const A = "Hi, how can I help?";
const U2 = "Tell me more";

/** The conversations every format's TEMPLATE must render exactly as training did. */
export const PROBES: ChatMessage[][] = [
  [{ role: "user", content: U }],
  [
    { role: "system", content: S },
    { role: "user", content: U },
  ],
  [
    { role: "user", content: U },
    { role: "assistant", content: A },
    { role: "user", content: U2 },
  ],
  [
    { role: "system", content: S },
    { role: "user", content: U },
    { role: "assistant", content: A },
    { role: "user", content: U2 },
  ],
];

const firstSystem = (ms: OllamaMessage[]) => (ms[0]?.role === "system" ? ms[0].content : undefined);

const chatml: Format = {
  format: "chatml",
  matches: (_t, sample) => sample.includes("<|im_start|>user\n"),
  build(t, bos) {
    // A default system prompt: what the template writes in a system block when the conversation has none.
    const bare = t.render([{ role: "user", content: U }]);
    const m = /<\|im_start\|>system\n([\s\S]*?)<\|im_end\|>\n/.exec(bare);
    const def = m && !bare.slice(0, m.index).includes("<|im_start|>user") ? m[1] : undefined;
    const template =
      lit(bos) +
      (def !== undefined ? `{{ if ne (index .Messages 0).Role "system" }}<|im_start|>system\n${lit(def)}<|im_end|>\n{{ end }}` : "") +
      "{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n";
    return {
      template,
      stop: ["<|im_end|>", "<|im_start|>"],
      render(ms) {
        let out = bos;
        if (def !== undefined && firstSystem(ms) === undefined) out += `<|im_start|>system\n${def}<|im_end|>\n`;
        for (const x of ms) out += `<|im_start|>${x.role}\n${x.content}<|im_end|>\n`;
        return out + "<|im_start|>assistant\n";
      },
    };
  },
};

const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

const llama3: Format = {
  format: "llama3",
  matches: (_t, sample) => sample.includes("<|start_header_id|>user<|end_header_id|>"),
  build(t, bos) {
    // Llama 3.1+ templates always write a system block, with a preamble (knowledge cutoff, date) before the system text.
    const bare = t.render([{ role: "user", content: U }]);
    const block = new RegExp(`${escapeRe(header("system"))}([\\s\\S]*?)<\\|eot_id\\|>`).exec(bare);
    const always = block !== null && !bare.slice(0, block.index).includes(header("user"));
    const withSystem = t.render([{ role: "system", content: S }, { role: "user", content: U }]);
    const sysBlock = new RegExp(`${escapeRe(header("system"))}([\\s\\S]*?)${escapeRe(S)}<\\|eot_id\\|>`).exec(withSystem);
    const prefix = sysBlock ? sysBlock[1] : always && block ? block[1] : "";
    const template =
      lit(bos) +
      '{{ $rest := .Messages }}{{ if eq (index .Messages 0).Role "system" }}' +
      `<|start_header_id|>system<|end_header_id|>\n\n${lit(prefix)}{{ (index .Messages 0).Content }}<|eot_id|>{{ $rest = slice .Messages 1 }}` +
      (always ? `{{ else }}<|start_header_id|>system<|end_header_id|>\n\n${lit(prefix)}<|eot_id|>` : "") +
      "{{ end }}{{ range $rest }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n";
    return {
      template,
      stop: ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
      render(ms) {
        let out = bos;
        const sys = firstSystem(ms);
        if (sys !== undefined) out += `${header("system")}${prefix}${sys}<|eot_id|>`;
        else if (always) out += `${header("system")}${prefix}<|eot_id|>`;
        for (const x of sys !== undefined ? ms.slice(1) : ms) out += `${header(x.role)}${x.content}<|eot_id|>`;
        return out + header("assistant");
      },
    };
  },
};

const gemma: Format = {
  format: "gemma",
  matches: (_t, sample) => sample.includes("<start_of_turn>user\n"),
  build(_t, bos) {
    const template =
      lit(bos) +
      '{{ $sys := "" }}{{ $rest := .Messages }}{{ if eq (index .Messages 0).Role "system" }}{{ $sys = (index .Messages 0).Content }}{{ $rest = slice .Messages 1 }}{{ end }}' +
      '{{ range $i, $m := $rest }}<start_of_turn>{{ if eq $m.Role "assistant" }}model{{ else }}{{ $m.Role }}{{ end }}\n{{ if and (eq $i 0) $sys }}{{ $sys }}\n\n{{ end }}{{ $m.Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n';
    return {
      template,
      stop: ["<end_of_turn>", "<start_of_turn>"],
      render(ms) {
        let out = bos;
        const sys = firstSystem(ms);
        (sys !== undefined ? ms.slice(1) : ms).forEach((x, i) => {
          out += `<start_of_turn>${x.role === "assistant" ? "model" : x.role}\n${i === 0 && sys ? `${sys}\n\n` : ""}${x.content}<end_of_turn>\n`;
        });
        return out + "<start_of_turn>model\n";
      },
    };
  },
};

function plainFormat(eos: string): Format {
  return {
    format: "plain",
    matches: (t) => t.plain,
    build(_t, bos) {
      const template =
        lit(bos) +
        '{{ range .Messages }}{{ if or (eq .Role "system") (eq .Role "developer") }}System: {{ .Content }}\n\n' +
        '{{ else if eq .Role "user" }}User: {{ .Content }}\n\n' +
        '{{ else if eq .Role "tool" }}Tool result: {{ .Content }}\n\n' +
        `{{ else if eq .Role "assistant" }}Assistant:{{ if .Content }} {{ .Content }}{{ end }}${lit(eos)}\n\n` +
        "{{ else }}{{ .Role }}: {{ .Content }}\n\n{{ end }}{{ end }}Assistant:";
      return {
        template,
        stop: eos ? [eos] : [],
        render(ms) {
          let out = bos;
          for (const x of ms) {
            if (x.role === "system" || x.role === "developer") out += `System: ${x.content}\n\n`;
            else if (x.role === "user") out += `User: ${x.content}\n\n`;
            else if (x.role === "tool") out += `Tool result: ${x.content}\n\n`;
            else if (x.role === "assistant") out += `Assistant:${x.content ? ` ${x.content}` : ""}${eos}\n\n`;
            else out += `${x.role}: ${x.content}\n\n`;
          }
          return out + "Assistant:";
        },
      };
    },
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const asOllama = (ms: ChatMessage[]): OllamaMessage[] => ms.map((m) => ({ role: m.role, content: typeof m.content === "string" ? m.content : "" }));

/**
 * The Ollama TEMPLATE for a training template, checked against it on the probe conversations; a
 * format tunekit has no TEMPLATE for, or one that renders differently, is refused.
 */
export function ollamaTemplateFor(t: ChatTemplateRenderer, tokens: TokenTexts): OllamaTemplate {
  const sample = t.render(PROBES[3], { addGenerationPrompt: true });
  const formats = [plainFormat(tokens.eos ?? ""), chatml, llama3, gemma];
  const f = formats.find((x) => x.matches(t, sample));
  if (!f) {
    throw new TunekitError("ollama_template_unknown", "the model's chat template is not one tunekit can write an Ollama TEMPLATE for (ChatML, Llama 3, Gemma, or tunekit's plain template)", {
      hint: "the GGUF file carries the template (tokenizer.chat_template) for llama.cpp and LM Studio: export it with --gguf FILE; for Ollama write the Modelfile's TEMPLATE by hand to match training",
    });
  }
  // BOS the training template writes: left to llama.cpp when it adds BOS itself, else written by the
  // TEMPLATE. (Some tokenizers name <|im_start|> as BOS: only a template that writes bos_token writes BOS.)
  const writesBos = t.plain || (t.source ?? "").includes("bos_token");
  const bosText = writesBos && tokens.bos !== undefined && sample.startsWith(tokens.bos) ? tokens.bos : "";
  const built = f.build(t, tokens.addBos ? "" : bosText);
  for (const probe of PROBES) {
    let expected = t.render(probe, { addGenerationPrompt: true });
    if (tokens.addBos && bosText && expected.startsWith(bosText)) expected = expected.slice(bosText.length);
    const got = built.render(asOllama(probe));
    if (got !== expected) {
      let i = 0;
      while (i < got.length && got[i] === expected[i]) i++;
      throw new TunekitError(
        "ollama_template_mismatch",
        `the model's chat template looks like ${f.format} but renders differently from tunekit's ${f.format} TEMPLATE (first difference at character ${i}: training ${JSON.stringify(expected.slice(i, i + 40))}, TEMPLATE ${JSON.stringify(got.slice(i, i + 40))})`,
        { hint: "export with --gguf FILE (the file carries the exact template for llama.cpp and LM Studio) and write the Modelfile's TEMPLATE by hand for Ollama" },
      );
    }
  }
  if (built.template.includes('"""')) throw new TunekitError("ollama_template_unknown", 'the TEMPLATE would contain """, which a Modelfile cannot hold');
  return { format: f.format, ...built };
}

/** The Modelfile: FROM the GGUF next to it, the TEMPLATE and stop parameters of the training template. */
export function modelfileText(t: OllamaTemplate, what: string): string {
  return [
    `# Written by tunekit: ${what}, and the chat template used in training (${t.format}).`,
    "FROM ./model.gguf",
    `TEMPLATE """${t.template}"""`,
    ...t.stop.map((s) => `PARAMETER stop ${JSON.stringify(s)}`),
    "",
  ].join("\n");
}
