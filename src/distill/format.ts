/**
 * The format an answer must have to be kept: `--format json` (the reply parses as JSON, unfenced),
 * `json-schema=FILE` (and matches a JSON Schema), `line-template="TL;DR: / Next step:"` (these labelled
 * lines, in order), or `line-template` alone (the template the prompt file's reference replies follow).
 * The checks are evaluation's own (eval/format.ts over src/shape); this module only builds the plan.
 */
import { resolve } from "node:path";
import { scoreFormat, type FormatPlan } from "../eval/format.js";
import { readSchemaFile } from "../shape/schema-file.js";
import { inferLineTemplate, type LineTemplate } from "../shape/line-template.js";
import { TunekitError } from "../util/errors.js";

export interface AnswerFormat {
  plan: FormatPlan;
  /** What `--format` asked for, in words, for reports. */
  description: string;
  /** Schema keywords tunekit does not check (pattern, oneOf, ...): said once, not silently ignored. */
  unchecked: string[];
}

const HINT = 'use --format json, --format json-schema=FILE, --format "line-template=TL;DR: / Next step:" or --format line-template (the template of the reference replies)';

/** A slot as line skeletons name them: a label ending in ":", "•+" (bullets), "#.+" (numbered), "#" (heading), "text". */
function parseSlots(text: string, spec: string): string[] {
  const slots = text.split(" / ").map((s) => s.trim());
  for (const s of slots) {
    if (s === "" || !(s.endsWith(":") || s === "•+" || s === "#.+" || s === "#" || s === "text")) {
      throw new TunekitError("bad_format", `--format "${spec}": "${s}" is not a line label (a label ends with ":")`, { hint: 'separate the labels with " / ", e.g. "line-template=TL;DR: / Next step:"' });
    }
  }
  return slots;
}

/**
 * Builds the check from `--format` (undefined: any non-empty answer is kept). `references` are the prompt
 * file's own replies, which a bare `line-template` learns the template from.
 */
export async function resolveAnswerFormat(spec: string | undefined, references: string[], cwd: string): Promise<AnswerFormat> {
  if (spec === undefined) return { plan: { kind: "none" }, description: "any non-empty answer", unchecked: [] };
  const s = spec.trim();
  const eq = s.indexOf("=");
  const kind = (eq < 0 ? s : s.slice(0, eq)).trim();
  const arg = eq < 0 ? undefined : s.slice(eq + 1).trim();
  if (kind === "json") {
    if (arg !== undefined) throw new TunekitError("bad_format", `--format "${spec}": json takes no value`, { hint: HINT });
    return { plan: { kind: "json", schema: {}, schemaSource: "given" }, description: "JSON (parses as is, no code fence)", unchecked: [] };
  }
  if (kind === "json-schema") {
    if (!arg) throw new TunekitError("bad_format", `--format "${spec}": name the schema file, e.g. json-schema=schema.json`, { hint: HINT });
    const { schema, unchecked } = await readSchemaFile(resolve(cwd, arg));
    return { plan: { kind: "json", schema, schemaSource: "given" }, description: `JSON matching the schema in ${arg}`, unchecked };
  }
  if (kind === "line-template") {
    let template: LineTemplate;
    if (arg) template = { slots: parseSlots(arg, spec), share: 1, support: 0 };
    else {
      const inferred = references.length > 0 ? inferLineTemplate(references) : undefined;
      if (!inferred) {
        throw new TunekitError(
          "bad_format",
          references.length === 0
            ? "--format line-template without labels learns the template from the prompts' reference replies, and this file has none"
            : `--format line-template: the ${references.length} reference replies follow no common line template`,
          { hint: 'name the labels: --format "line-template=TL;DR: / Next step:"' },
        );
      }
      template = inferred;
    }
    return { plan: { kind: "template", template }, description: `the line template "${template.slots.join(" / ")}"`, unchecked: [] };
  }
  throw new TunekitError("bad_format", `--format "${spec}" is not a format`, { hint: HINT });
}

/** Whether an answer has the format; `problem` says why not. */
export function checkAnswer(format: AnswerFormat, text: string): { ok: boolean; problem?: string } {
  const f = scoreFormat(format.plan, text);
  if (f.formatCompliance === null || f.formatCompliance === 1) return { ok: true };
  return { ok: false, problem: f.formatProblem ?? "does not have the format" };
}
