/**
 * Format compliance: what shape the references have (a JSON schema, given with --schema or inferred
 * from the reference replies; or a line template such as "TL;DR: ...\nNext step: ..."), and whether a
 * reply has it. Shape inference and matching come from src/shape; this module only decides which check
 * applies and turns it into per-example scores.
 */
import { inferJsonSchema, parseJsonReply, validateJsonSchema, type JsonSchema } from "../shape/json-schema.js";
import { inferLineTemplate, matchLineTemplate, type LineTemplate } from "../shape/line-template.js";

export type FormatPlan =
  | { kind: "json"; schema: JsonSchema; schemaSource: "given" | "inferred" }
  | { kind: "template"; template: LineTemplate }
  | { kind: "none" };

/**
 * Decides the format check for a set of references: a given schema wins; otherwise JSON when at least
 * half the references parse as JSON; otherwise the dominant line template, if any.
 */
export function inferFormatPlan(references: string[], givenSchema?: JsonSchema): FormatPlan {
  if (givenSchema) return { kind: "json", schema: givenSchema, schemaSource: "given" };
  const parsed = references.map(parseJsonReply);
  const values = parsed.filter((p) => p.ok).map((p) => (p as { value: unknown }).value);
  if (references.length > 0 && values.length >= references.length / 2) {
    return { kind: "json", schema: inferJsonSchema(values), schemaSource: "inferred" };
  }
  const template = inferLineTemplate(references);
  if (template) return { kind: "template", template };
  return { kind: "none" };
}

export interface FormatScores {
  /** 1/0 when the plan applies, else null. */
  formatCompliance: number | null;
  /** Reply is JSON as-is (no code fence); null unless the plan is JSON. */
  validJson: number | null;
  schemaConformance: number | null;
  templateMatch: number | null;
  /** Why the reply does not comply, in words. */
  formatProblem?: string;
}

export function scoreFormat(plan: FormatPlan, reply: string): FormatScores {
  if (plan.kind === "none") return { formatCompliance: null, validJson: null, schemaConformance: null, templateMatch: null };
  if (plan.kind === "template") {
    const m = matchLineTemplate(plan.template, reply);
    return {
      formatCompliance: m.ok ? 1 : 0,
      validJson: null,
      schemaConformance: null,
      templateMatch: m.ok ? 1 : 0,
      ...(m.ok ? {} : { formatProblem: m.reason }),
    };
  }
  const p = parseJsonReply(reply);
  if (!p.ok) return { formatCompliance: 0, validJson: 0, schemaConformance: 0, templateMatch: null, formatProblem: "not valid JSON" };
  const v = validateJsonSchema(plan.schema, p.value, 3);
  // A fenced reply is JSON for a reader but not for a program that parses the reply directly.
  const strict = p.fenced ? 0 : 1;
  const ok = v.ok && strict === 1;
  return {
    formatCompliance: ok ? 1 : 0,
    validJson: strict,
    schemaConformance: v.ok ? 1 : 0,
    templateMatch: null,
    ...(ok ? {} : { formatProblem: p.fenced ? "JSON wrapped in a code fence" : v.errors.join("; ") }),
  };
}

/** A one-line description of the plan for reports. */
export function describeFormatPlan(plan: FormatPlan): string {
  if (plan.kind === "none") return "no common format in the references (format compliance not scored)";
  if (plan.kind === "template") return `line template inferred from the references: ${plan.template.slots.join(" / ")}`;
  return plan.schemaSource === "given" ? "JSON matching the given schema" : "JSON matching the schema inferred from the references";
}
