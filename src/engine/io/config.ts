/**
 * Hugging Face config.json -> ModelConfig: the model's family (models/families/) reads it; anything the
 * engine cannot run is refused with a message naming the architecture or the field.
 */
import { promises as fsp } from "node:fs";
import { TunekitError, fsError } from "../../util/errors.js";
import { parseWithFamily } from "../models/families/index.js";
import type { ModelConfig } from "../types.js";

export { SUPPORTED_ARCHITECTURES_TEXT } from "../models/families/index.js";

function bad(file: string | undefined, message: string): TunekitError {
  return new TunekitError("invalid_model_config", message, { file, hint: "check the model's config.json" });
}

/** Normalises a parsed config.json. `file` is used in error messages. */
export function parseModelConfig(raw: Record<string, unknown>, file?: string): ModelConfig {
  return parseWithFamily(raw, file);
}

/** Reads and normalises `config.json` at `path`. */
export async function readModelConfig(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await fsp.readFile(path, "utf8");
  } catch (e) {
    const err = fsError(e, path);
    if (err instanceof TunekitError && err.code === "file_not_found") {
      throw new TunekitError("missing_model_file", `the model folder has no config.json (${path})`, {
        file: path,
        hint: "a Hugging Face model folder needs config.json, model.safetensors (or an index) and tokenizer.json",
      });
    }
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(path, `${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw bad(path, `${path} must hold a JSON object`);
  return parseModelConfig(raw as Record<string, unknown>, path);
}
