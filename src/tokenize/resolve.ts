/**
 * `--model` for anything that needs a tokenizer: an OpenAI model or encoding name, a local Hugging
 * Face model folder, or a hub id (only the tokenizer files are fetched, through src/hub/resolve.ts).
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { TunekitError } from "../util/errors.js";
import { resolveModelDir, type DownloadProgress } from "../hub/resolve.js";
import { parseHubId } from "../hub/types.js";
import { loadTokenizerFromDir } from "./hf.js";
import { OPENAI_MODEL_PATTERNS_HELP, openAiEncodingForModel, getOpenAiTokenizer } from "./openai.js";
import type { Tokenizer } from "./types.js";

export interface ResolveTokenizerOptions {
  offline?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Tokenizer files to fetch for a hub id, most complete set first (repos differ in what they ship). */
const HUB_FILE_SETS = [
  ["tokenizer.json", "tokenizer_config.json", "config.json", "chat_template.jinja"],
  ["tokenizer.json", "tokenizer_config.json", "config.json"],
  ["tokenizer.json", "tokenizer_config.json"],
  ["tokenizer.json"],
];

export async function resolveTokenizer(modelSpec: string, options: ResolveTokenizerOptions = {}): Promise<Tokenizer> {
  const spec = modelSpec.trim();
  if (spec === "o200k_base" || spec === "cl100k_base") return getOpenAiTokenizer(spec);
  const cwd = options.cwd ?? process.cwd();
  const local = isAbsolute(spec) ? spec : resolvePath(cwd, spec);
  if (spec !== "" && existsSync(local)) {
    if (!statSync(local).isDirectory())
      throw new TunekitError("not_a_directory", `${spec} is a file; a model folder or name was expected`, { file: spec, hint: acceptedHint });
    return loadTokenizerFromDir(local);
  }
  const enc = openAiEncodingForModel(spec);
  if (enc !== undefined) return getOpenAiTokenizer(enc);
  if (spec !== "" && parseHubId(spec) !== undefined && !/^\.{0,2}\//.test(spec)) {
    let lastError: unknown;
    for (const files of HUB_FILE_SETS) {
      try {
        const dir = await resolveModelDir(spec, { offline: options.offline, onProgress: options.onProgress, cwd, env: options.env, files });
        return await loadTokenizerFromDir(dir);
      } catch (e) {
        lastError = e;
        // A repo without one of the optional files: try a smaller set. Anything else is final.
        if (!(e instanceof TunekitError && (e.code === "model_file_missing" || e.code === "model_not_cached"))) throw e;
      }
    }
    throw lastError;
  }
  throw new TunekitError("unknown_model", `unknown model: ${JSON.stringify(modelSpec)}`, { hint: acceptedHint });
}

const acceptedHint = `pass ${OPENAI_MODEL_PATTERNS_HELP}; a local Hugging Face model folder with tokenizer.json; or a Hugging Face hub id such as HuggingFaceTB/SmolLM2-135M-Instruct`;
