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
  /** `bos`: what the TEMPLATE writes first; `written`: the BOS text the training template writes. */
  build(t: ChatTemplateRenderer, bos: string, written: string): Omit<OllamaTemplate, "format">;
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

/**
 * Formats where each message is one turn, after a head the template writes before the first user
 * turn: ChatML and Llama 3. The head is read off the training template: with a system message S it is
 * P + S + Q (e.g. ChatML's "<|im_start|>system\n" S "<|im_end|>\n", or SmolLM3's metadata block
 * before S), without one it is D (empty, or a default system prompt, or Llama 3.1+'s date preamble).
 */
function headed(format: OllamaFormat, marker: string, turn: (role: string, content: string) => string, goTurn: string, prompt: string, stop: string[]): Format {
  return {
    format,
    matches: (_t, sample) => sample.includes(marker),
    build(t, bos, written) {
      const headOf = (text: string) => {
        const i = text.indexOf(marker);
        const head = i < 0 ? text : text.slice(0, i);
        return written && head.startsWith(written) ? head.slice(written.length) : head;
      };
      const d = headOf(t.render([{ role: "user", content: U }], { addGenerationPrompt: true }));
      const withSystem = headOf(t.render([{ role: "system", content: S }, { role: "user", content: U }], { addGenerationPrompt: true }));
      const at = withSystem.indexOf(S);
      // A template that drops the system message leaves no S to find: the probes below then refuse it.
      const [p, q] = at < 0 ? ["", ""] : [withSystem.slice(0, at), withSystem.slice(at + S.length)];
      const template =
        lit(bos) +
        `{{ $rest := .Messages }}{{ if eq (index .Messages 0).Role "system" }}${lit(p)}{{ (index .Messages 0).Content }}${lit(q)}{{ $rest = slice .Messages 1 }}` +
        (d ? `{{ else }}${lit(d)}` : "") +
        `{{ end }}{{ range $rest }}${goTurn}{{ end }}${prompt}`;
      return {
        template,
        stop,
        render(ms) {
          const sys = firstSystem(ms);
          let out = bos + (sys !== undefined ? p + sys + q : d);
          for (const x of sys !== undefined ? ms.slice(1) : ms) out += turn(x.role, x.content);
          return out + prompt;
        },
      };
    },
  };
}

const chatml = headed(
  "chatml",
  "<|im_start|>user\n",
  (role, content) => `<|im_start|>${role}\n${content}<|im_end|>\n`,
  "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n",
  "<|im_start|>assistant\n",
  ["<|im_end|>", "<|im_start|>"],
);

const header = (role: string) => `<|start_header_id|>${role}<|end_header_id|>\n\n`;

const llama3 = headed(
  "llama3",
  header("user"),
  (role, content) => `${header(role)}${content}<|eot_id|>`,
  "<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>",
  header("assistant"),
  ["<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"],
);

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
  const built = f.build(t, tokens.addBos ? "" : bosText, bosText);
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
