/**
 * A small JSON-Schema subset: enough to describe the JSON replies of a fine-tuning dataset and to check
 * replies (or model outputs) against a user-given `--schema` file. Supported keywords: type (string or
 * list), properties, required, items, enum, const, additionalProperties (boolean or schema), anyOf,
 * minimum/maximum, minLength/maxLength, minItems/maxItems. Unknown keywords are ignored, as JSON Schema
 * validators do.
 */

export type JsonType = "object" | "array" | "string" | "number" | "integer" | "boolean" | "null";

export interface JsonSchema {
  type?: JsonType | JsonType[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  [k: string]: unknown;
}

export interface SchemaValidation {
  ok: boolean;
  /** "$.path: what is wrong", at most `maxErrors` of them. */
  errors: string[];
}

export function jsonTypeOf(v: unknown): JsonType {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "boolean";
  return "object";
}

function typeMatches(want: JsonType, v: unknown): boolean {
  const t = jsonTypeOf(v);
  if (want === "number") return t === "number" || t === "integer";
  return t === want;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as any)[k], (b as any)[k]))
  );
}

const JSON_TYPES: ReadonlySet<string> = new Set(["object", "array", "string", "number", "integer", "boolean", "null"]);
/** Keywords that only annotate (never reject a value), so ignoring them changes no verdict. */
const ANNOTATIONS: ReadonlySet<string> = new Set(["$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly"]);
const CHECKED: ReadonlySet<string> = new Set(["type", "properties", "required", "items", "enum", "const", "additionalProperties", "anyOf", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"]);

export interface SchemaCheck {
  /** "$.properties.age.type: ..." for every place the schema itself is malformed. */
  errors: string[];
  /** Keywords that would constrain a value but this subset does not check (pattern, oneOf, $ref, ...), by path. */
  unchecked: string[];
}

/**
 * Is `schema` a well-formed JSON Schema for the subset `validateJsonSchema` checks? Malformed keywords
 * (a misspelt type, `required` that is not a list of names, ...) are errors; keywords outside the subset
 * are listed, so a caller can say that they are not enforced rather than silently pass every value.
 */
export function checkJsonSchema(schema: unknown, path = "$"): SchemaCheck {
  const out: SchemaCheck = { errors: [], unchecked: [] };
  const err = (at: string, what: string) => out.errors.push(`${at}: ${what}`);
  const sub = (v: unknown, at: string) => {
    const r = checkJsonSchema(v, at);
    out.errors.push(...r.errors);
    out.unchecked.push(...r.unchecked);
  };
  if (typeof schema === "boolean") return out;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    err(path, `a schema must be an object (or true/false), got ${schema === null ? "null" : Array.isArray(schema) ? "a list" : typeof schema}`);
    return out;
  }
  const s = schema as Record<string, unknown>;
  const count = (k: string) => {
    const v = s[k];
    if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 0)) err(`${path}.${k}`, `must be a whole number >= 0, got ${short(v)}`);
  };
  for (const [k, v] of Object.entries(s)) {
    const at = `${path}.${k}`;
    switch (k) {
      case "type": {
        const types = Array.isArray(v) ? v : [v];
        if (types.length === 0) err(at, "an empty list of types allows nothing");
        for (const t of types) if (typeof t !== "string" || !JSON_TYPES.has(t)) err(at, `${short(t)} is not a JSON type (${[...JSON_TYPES].join(", ")})`);
        break;
      }
      case "properties":
        if (v === null || typeof v !== "object" || Array.isArray(v)) err(at, "must be an object mapping names to schemas");
        else for (const [name, p] of Object.entries(v)) sub(p, `${at}.${name}`);
        break;
      case "required":
        if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) err(at, `must be a list of key names, got ${short(v)}`);
        break;
      case "items":
        if (Array.isArray(v)) out.unchecked.push(`${at} (a list of item schemas)`);
        else sub(v, at);
        break;
      case "additionalProperties":
        sub(v, at);
        break;
      case "anyOf":
        if (!Array.isArray(v) || v.length === 0) err(at, "must be a non-empty list of schemas");
        else v.forEach((x, i) => sub(x, `${at}[${i}]`));
        break;
      case "enum":
        if (!Array.isArray(v)) err(at, `must be a list of values, got ${short(v)}`);
        break;
      case "minimum":
      case "maximum":
        if (typeof v !== "number") err(at, `must be a number, got ${short(v)}`);
        break;
      case "minLength":
      case "maxLength":
      case "minItems":
      case "maxItems":
        count(k);
        break;
      default:
        if (!CHECKED.has(k) && !ANNOTATIONS.has(k)) out.unchecked.push(at);
    }
  }
  return out;
}

/** Validates `value` against `schema`; collects up to `maxErrors` problems. */
export function validateJsonSchema(schema: JsonSchema | boolean, value: unknown, maxErrors = 20): SchemaValidation {
  const errors: string[] = [];
  walk(schema, value, "$", errors, maxErrors);
  return { ok: errors.length === 0, errors };
}

function walk(schema: JsonSchema | boolean, v: unknown, path: string, errors: string[], max: number): void {
  if (errors.length >= max) return;
  if (schema === true) return;
  if (schema === false) {
    errors.push(`${path}: not allowed`);
    return;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => typeMatches(t, v))) {
      errors.push(`${path}: expected ${types.join(" or ")}, got ${jsonTypeOf(v)}`);
      return;
    }
  }
  if (schema.const !== undefined && !deepEqual(schema.const, v)) errors.push(`${path}: must equal ${JSON.stringify(schema.const)}`);
  if (schema.enum !== undefined && !schema.enum.some((e) => deepEqual(e, v))) {
    errors.push(`${path}: ${short(v)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  }
  if (schema.anyOf !== undefined) {
    const ok = schema.anyOf.some((s) => validateJsonSchema(s, v, 1).ok);
    if (!ok) errors.push(`${path}: matches none of the anyOf alternatives`);
  }
  if (typeof v === "number") {
    if (schema.minimum !== undefined && v < schema.minimum) errors.push(`${path}: ${v} < minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum) errors.push(`${path}: ${v} > maximum ${schema.maximum}`);
  }
  if (typeof v === "string") {
    if (schema.minLength !== undefined && v.length < schema.minLength) errors.push(`${path}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && v.length > schema.maxLength) errors.push(`${path}: longer than ${schema.maxLength}`);
  }
  if (Array.isArray(v)) {
    if (schema.minItems !== undefined && v.length < schema.minItems) errors.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && v.length > schema.maxItems) errors.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items !== undefined) v.forEach((x, i) => walk(schema.items as JsonSchema, x, `${path}[${i}]`, errors, max));
  } else if (v !== null && typeof v === "object") {
    const obj = v as Record<string, unknown>;
    for (const k of schema.required ?? []) {
      if (!Object.prototype.hasOwnProperty.call(obj, k)) errors.push(`${path}: missing required key "${k}"`);
    }
    const props = schema.properties ?? {};
    for (const [k, x] of Object.entries(obj)) {
      if (Object.prototype.hasOwnProperty.call(props, k)) walk(props[k], x, `${path}.${k}`, errors, max);
      else if (schema.additionalProperties === false) errors.push(`${path}: unexpected key "${k}"`);
      else if (typeof schema.additionalProperties === "object") walk(schema.additionalProperties, x, `${path}.${k}`, errors, max);
    }
  }
}

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 37) + "..." : s;
}

export interface InferSchemaOptions {
  /** A key is required when present in at least this share of objects (default 1: in all of them). */
  requiredShare?: number;
  /** Strings become an enum when they take at most this many distinct values... */
  maxEnumValues?: number;
  /** ...and every value was seen at least this many times on average (so free text never becomes an enum). */
  minEnumRepeats?: number;
}

/**
 * Infers a schema that describes `values` (parsed JSON replies): merged types, properties with the keys
 * present in (almost) all objects required, item schemas for arrays, and enums for small closed sets of
 * strings. additionalProperties is left open, as a dataset rarely shows every optional key.
 */
export function inferJsonSchema(values: unknown[], options: InferSchemaOptions = {}): JsonSchema {
  const opts = { requiredShare: options.requiredShare ?? 1, maxEnumValues: options.maxEnumValues ?? 8, minEnumRepeats: options.minEnumRepeats ?? 3 };
  return infer(values, opts);
}

function infer(values: unknown[], opts: Required<InferSchemaOptions>): JsonSchema {
  if (values.length === 0) return {};
  const types = new Set<JsonType>();
  for (const v of values) types.add(jsonTypeOf(v));
  if (types.has("integer") && types.has("number")) types.delete("integer");
  const schema: JsonSchema = {};
  const typeList = [...types].sort();
  schema.type = typeList.length === 1 ? typeList[0] : typeList;

  const objects = values.filter((v): v is Record<string, unknown> => jsonTypeOf(v) === "object") as Record<string, unknown>[];
  if (objects.length > 0) {
    const keyValues = new Map<string, unknown[]>();
    for (const o of objects) {
      for (const [k, x] of Object.entries(o)) {
        let list = keyValues.get(k);
        if (!list) keyValues.set(k, (list = []));
        list.push(x);
      }
    }
    schema.properties = {};
    const required: string[] = [];
    for (const [k, list] of keyValues) {
      schema.properties[k] = infer(list, opts);
      if (list.length >= objects.length * opts.requiredShare - 1e-9) required.push(k);
    }
    if (required.length > 0) schema.required = required;
  }
  const arrays = values.filter(Array.isArray) as unknown[][];
  if (arrays.length > 0) {
    const items = arrays.flat();
    if (items.length > 0) schema.items = infer(items, opts);
  }
  const strings = values.filter((v): v is string => typeof v === "string");
  if (strings.length > 0 && typeList.length === 1) {
    const distinct = new Set(strings);
    if (
      distinct.size <= opts.maxEnumValues &&
      strings.length >= distinct.size * opts.minEnumRepeats &&
      [...distinct].every((s) => s.length <= 40)
    ) {
      schema.enum = [...distinct].sort();
    }
  }
  return schema;
}

/**
 * Parses a reply as JSON. A reply wrapped in one Markdown code fence (```json ... ```) parses too, but
 * `fenced` says so, since a fence is a format difference a user usually wants to know about.
 */
export function parseJsonReply(text: string): { ok: true; value: unknown; fenced: boolean } | { ok: false } {
  const t = text.trim();
  if (t.length === 0) return { ok: false };
  let body = t;
  let fenced = false;
  const m = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(t);
  if (m) {
    body = m[1].trim();
    fenced = true;
  }
  const c = body[0];
  if (c !== "{" && c !== "[") return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body), fenced };
  } catch {
    return { ok: false };
  }
}
