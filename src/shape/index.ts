/**
 * Reply shape: what the assistant replies of a dataset look like (JSON with a schema, a line template
 * such as "TL;DR: ...\nNext step: ...", or free text), in which language and how long. Used by the
 * dataset analysis (consistency, format outliers) and by evaluation (format compliance of generations).
 */
import { describeNumbers, type Distribution } from "../util/distribution.js";
import { inferJsonSchema, parseJsonReply, validateJsonSchema, jsonTypeOf, type JsonSchema } from "./json-schema.js";
import { guessLanguage } from "./language.js";
import { hasLabels, inferLineTemplate, lineSkeleton, matchLineTemplate, skeletonKey, type LineTemplate } from "./line-template.js";

export * from "./json-schema.js";
export * from "./line-template.js";
export { guessLanguage } from "./language.js";

export type ShapeKind = "json" | "line-template" | "free-text";

export interface ReplyShape {
  kind: ShapeKind;
  /** Number of replies the shape was inferred from. */
  replies: number;
  /** Share of replies that parse as JSON, and share of those wrapped in a code fence. */
  json: { parseRate: number; fencedRate: number; schema?: JsonSchema; schemaConformance?: number };
  /** The dominant line template, when there is one. */
  template?: LineTemplate;
  language: { dominant: string; share: number };
  /** Reply length in characters. */
  length: Distribution;
  /** Share of the replies that conform to this shape (conformsToShape). */
  conformance: number;
}

export interface ShapeCheck {
  ok: boolean;
  reasons: string[];
}

/** JSON when at least this share of replies parse; a template when at least this share follow it. */
const DOMINANT_SHARE = 0.5;
/** Language is part of the shape only when this share of the replies agree on it. */
const LANGUAGE_SHARE = 0.8;

export function inferReplyShape(replies: string[]): ReplyShape {
  const parsed: unknown[] = [];
  let fenced = 0;
  for (const r of replies) {
    const p = parseJsonReply(r);
    if (p.ok) {
      parsed.push(p.value);
      if (p.fenced) fenced++;
    }
  }
  const n = replies.length;
  const parseRate = n === 0 ? 0 : parsed.length / n;
  const langCounts = new Map<string, number>();
  let known = 0;
  for (const r of replies) {
    const l = guessLanguage(r);
    if (l === "und") continue;
    known++;
    langCounts.set(l, (langCounts.get(l) ?? 0) + 1);
  }
  let dominant = "und";
  let dn = 0;
  for (const [l, c] of langCounts) if (c > dn) [dominant, dn] = [l, c];
  const shape: ReplyShape = {
    kind: "free-text",
    replies: n,
    json: { parseRate, fencedRate: parsed.length === 0 ? 0 : fenced / parsed.length },
    language: { dominant, share: known === 0 ? 0 : dn / known },
    length: describeNumbers(replies.map((r) => r.length)),
    conformance: 1,
  };
  if (n > 0 && parseRate >= DOMINANT_SHARE) {
    shape.kind = "json";
    // Keys present in 90% of objects count as required: a few sloppy replies must not hide the schema.
    const schema = inferJsonSchema(parsed, { requiredShare: 0.9 });
    shape.json.schema = schema;
    shape.json.schemaConformance = parsed.filter((v) => validateJsonSchema(schema, v, 1).ok).length / parsed.length;
  } else {
    const template = inferLineTemplate(replies, DOMINANT_SHARE);
    if (template) {
      shape.kind = "line-template";
      shape.template = template;
    }
  }
  shape.conformance = n === 0 ? 1 : replies.filter((r) => conformsToShape(shape, r).ok).length / n;
  return shape;
}

/** Does `text` have the shape? Reasons name what differs (JSON errors, template line, language). */
export function conformsToShape(shape: Pick<ReplyShape, "kind" | "json" | "template" | "language">, text: string): ShapeCheck {
  const reasons: string[] = [];
  if (shape.kind === "json") {
    const p = parseJsonReply(text);
    if (!p.ok) reasons.push("not valid JSON");
    else if (shape.json.schema) {
      const v = validateJsonSchema(shape.json.schema, p.value, 3);
      if (!v.ok) reasons.push(...v.errors.map((e) => `schema: ${e}`));
    }
  } else if (shape.kind === "line-template" && shape.template) {
    const m = matchLineTemplate(shape.template, text);
    if (!m.ok) reasons.push(`template: ${m.reason}`);
  }
  if (shape.language.dominant !== "und" && shape.language.share >= LANGUAGE_SHARE) {
    const l = guessLanguage(text);
    if (l !== "und" && l !== shape.language.dominant) reasons.push(`language ${l}, expected ${shape.language.dominant}`);
  }
  return { ok: reasons.length === 0, reasons };
}

/**
 * A compact signature of one reply's shape, cheap enough to compute for every example of a big file:
 * "json:object{a,b}" (top-level type and sorted keys; "json~" when fenced), "lines:<skeleton>" when
 * the reply has labelled lines, else "text". Replies with equal signatures have the same shape.
 */
export function replyShapeSignature(text: string): string {
  const t = text.trimStart();
  if (t.startsWith("{") || t.startsWith("[") || t.startsWith("```")) {
    const p = parseJsonReply(text);
    if (p.ok) {
      const type = jsonTypeOf(p.value);
      const keys = type === "object" ? `{${Object.keys(p.value as object).sort().join(",")}}` : "";
      return `json${p.fenced ? "~" : ""}:${type}${keys}`.slice(0, 300);
    }
  }
  const slots = lineSkeleton(text);
  if (hasLabels(slots)) return `lines:${skeletonKey(slots)}`.slice(0, 300);
  return "text";
}
