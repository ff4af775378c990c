/**
 * A JSON Schema file given by the user (`eval --schema`, `distill --format json-schema=FILE`): read,
 * parsed, and refused with where it is wrong when it is not a well-formed schema, so a misspelt keyword
 * is an error rather than a check that silently passes everything.
 */
import { readFile } from "node:fs/promises";
import { TunekitError, fsError } from "../util/errors.js";
import { checkJsonSchema, type JsonSchema } from "./json-schema.js";

/** The schema, and the keywords in it that tunekit does not check (see checkJsonSchema). */
export async function readSchemaFile(path: string): Promise<{ schema: JsonSchema; unchecked: string[] }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw fsError(e, path);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TunekitError("bad_schema", `the schema file is not JSON: ${(e as Error).message}`, { file: path, hint: 'write a JSON Schema, e.g. {"type": "object", "required": ["intent"]}' });
  }
  const check = checkJsonSchema(value);
  if (check.errors.length > 0 || typeof value === "boolean") {
    const problems = typeof value === "boolean" ? ["$: a boolean schema does not describe an answer"] : check.errors;
    throw new TunekitError("bad_schema", `the schema file is not a valid JSON Schema: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ""}`, {
      file: path,
      hint: 'fix the schema, e.g. {"type": "object", "properties": {"intent": {"type": "string"}}, "required": ["intent"]}',
    });
  }
  return { schema: value as JsonSchema, unchecked: check.unchecked };
}
