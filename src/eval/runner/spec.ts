/**
 * The --model syntax: comma-separated key=value pairs, or a bare shorthand.
 *
 *   name=base,endpoint=http://127.0.0.1:11434/v1,model=llama3,system=@prompt.txt
 *   name=tuned,model=ft:gpt-4o-mini-2024-07-18:acme::abc123      (OpenAI; key from OPENAI_API_KEY)
 *   name=tuned,local=./SmolLM2-135M-Instruct,adapter=./runs/r1/adapter
 *   name=tuned,run=./runs/r1                                       (a local training run folder)
 *   name=tuned,job=ftjob-abc123                                    (a job from the tunekit job store)
 *   name=q8,gguf=./model-q8_0.gguf                                 (a GGUF file, run by llama.cpp)
 *   gpt-4o-mini   |   ft:gpt-4o-mini:acme::abc   |   ./model-folder   (shorthands)
 *
 * Keys: name, endpoint (alias url), model, key_env (the environment variable holding the API key),
 * system (text, or @FILE), price_in / price_out (USD per 1M tokens), concurrency, local, adapter, run, job, gguf,
 * rag (a document store whose top chunks are added to this model's prompts).
 * A value may contain commas; only ",key=" with a known key starts a new pair. API keys themselves are
 * never accepted on the command line: only the name of the variable that holds one.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { TunekitError, fsError } from "../../util/errors.js";
import type { Price } from "./types.js";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

const KEYS = ["name", "endpoint", "url", "model", "key_env", "system", "price_in", "price_out", "concurrency", "local", "adapter", "run", "job", "gguf", "rag", "key", "api_key"];

export type ModelSource =
  | { kind: "endpoint"; baseUrl: string; model: string; keyEnv?: string }
  | { kind: "local"; path: string; adapter?: string }
  | { kind: "run"; runDir: string }
  /** A GGUF file run by llama.cpp, optionally with a GGUF LoRA adapter. */
  | { kind: "gguf"; path: string; adapter?: string }
  /** A job in the tunekit job store (tunekit id or provider id): its fine-tuned model or run folder. */
  | { kind: "job"; ref: string };

export interface ModelSpec {
  name: string;
  source: ModelSource;
  system?: string;
  /** Where the system prompt came from (file path), for reports. */
  systemFile?: string;
  price?: Price;
  concurrency?: number;
  /** A document store (tunekit rag index) whose top chunks go into this model's prompts. */
  rag?: string;
  /** The text as given. */
  spec: string;
}

const bad = (spec: string, message: string, hint?: string) =>
  new TunekitError("bad_model_spec", `--model "${spec}": ${message}`, {
    hint: hint ?? 'e.g. --model "name=base,endpoint=http://127.0.0.1:11434/v1,model=llama3" (see `tunekit eval --help`)',
  });

function splitPairs(spec: string): Map<string, string> | undefined {
  const re = new RegExp(`(?:^|,)\\s*(${KEYS.join("|")})\\s*=`, "g");
  const starts = [...spec.matchAll(re)];
  if (starts.length === 0 || starts[0].index !== 0) return undefined;
  const pairs = new Map<string, string>();
  starts.forEach((m, i) => {
    const valueStart = m.index! + m[0].length;
    const end = i + 1 < starts.length ? starts[i + 1].index! : spec.length;
    const key = m[1];
    if (pairs.has(key)) throw bad(spec, `"${key}" given twice`);
    pairs.set(key, spec.slice(valueStart, end).trim());
  });
  return pairs;
}

function positiveNumber(spec: string, key: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < 0) throw bad(spec, `${key} must be a number >= 0, got "${v}"`);
  return n;
}

/** Parses one --model value; `index` names unnamed models ("model1", "model2", ...). */
export function parseModelSpec(spec: string, index: number, cwd: string): ModelSpec {
  const pairs = splitPairs(spec.trim()) ?? new Map<string, string>();
  if (pairs.size === 0) {
    // Shorthands: a hosted model id, or a local folder.
    const s = spec.trim();
    if (s === "") throw bad(spec, "empty model");
    if (/\.gguf$/i.test(s) && existsSync(resolve(cwd, s))) pairs.set("gguf", s);
    else if (existsSync(resolve(cwd, s))) pairs.set("local", s);
    else if (/^\s*\w+\s*=/.test(s)) {
      // "foo=bar" is a misspelt key, not a hosted model id (those never hold "=").
      throw bad(spec, `unknown key "${s.slice(0, s.indexOf("=")).trim()}" (keys: ${KEYS.filter((k) => k !== "key" && k !== "api_key").join(", ")})`);
    } else pairs.set("model", s);
  }
  if (pairs.has("key") || pairs.has("api_key")) {
    // The message repeats the spec: never with the key in it.
    let masked = spec;
    for (const k of [pairs.get("key"), pairs.get("api_key")]) if (k) masked = masked.split(k).join("[redacted]");
    throw bad(masked, "API keys are not accepted on the command line", "put the key in an environment variable and name it with key_env=VAR (default OPENAI_API_KEY for OpenAI)");
  }
  const name = pairs.get("name") ?? `model${index + 1}`;
  if (!/^[\w.@-]{1,40}$/.test(name)) throw bad(spec, `name "${name}" must be 1-40 letters, digits, '.', '-', '_' or '@'`);

  let source: ModelSource;
  const endpoint = pairs.get("endpoint") ?? pairs.get("url");
  if (pairs.has("job")) {
    source = { kind: "job", ref: pairs.get("job")! };
  } else if (pairs.has("gguf")) {
    source = { kind: "gguf", path: resolve(cwd, pairs.get("gguf")!), ...(pairs.has("adapter") ? { adapter: resolve(cwd, pairs.get("adapter")!) } : {}) };
  } else if (pairs.has("run")) {
    source = { kind: "run", runDir: resolve(cwd, pairs.get("run")!) };
  } else if (pairs.has("local")) {
    const path = pairs.get("local")!;
    source = { kind: "local", path: existsSync(resolve(cwd, path)) ? resolve(cwd, path) : path, ...(pairs.has("adapter") ? { adapter: resolve(cwd, pairs.get("adapter")!) } : {}) };
  } else {
    const model = pairs.get("model");
    if (!model) throw bad(spec, "say which model: model=ID (with endpoint=URL for non-OpenAI servers), local=DIR or run=DIR");
    const baseUrl = endpoint ?? OPENAI_BASE_URL;
    try {
      const u = new URL(baseUrl);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
    } catch {
      throw bad(spec, `endpoint "${baseUrl}" is not an http(s) URL`);
    }
    source = { kind: "endpoint", baseUrl, model, ...(pairs.has("key_env") ? { keyEnv: pairs.get("key_env") } : {}) };
  }
  if (pairs.has("adapter") && source.kind !== "local" && source.kind !== "gguf") throw bad(spec, "adapter= goes with local=DIR (a PEFT folder) or gguf=FILE (a GGUF adapter)");

  let system: string | undefined;
  let systemFile: string | undefined;
  const sys = pairs.get("system");
  if (sys !== undefined) {
    if (sys.startsWith("@")) {
      systemFile = resolve(cwd, sys.slice(1));
      try {
        system = readFileSync(systemFile, "utf8").replace(/\s+$/, "");
      } catch (e) {
        throw fsError(e, systemFile);
      }
    } else system = sys;
  }
  const pin = positiveNumber(spec, "price_in", pairs.get("price_in"));
  const pout = positiveNumber(spec, "price_out", pairs.get("price_out"));
  const concurrency = positiveNumber(spec, "concurrency", pairs.get("concurrency"));
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw bad(spec, "concurrency must be an integer >= 1");
  return {
    name,
    source,
    ...(system !== undefined ? { system } : {}),
    ...(systemFile ? { systemFile } : {}),
    ...(pin !== undefined || pout !== undefined ? { price: { inputPerM: pin ?? 0, outputPerM: pout ?? 0 } } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(pairs.has("rag") ? { rag: resolve(cwd, pairs.get("rag")!) } : {}),
    spec,
  };
}

export function parseModelSpecs(specs: string[], cwd: string): ModelSpec[] {
  const out = specs.map((s, i) => parseModelSpec(s, i, cwd));
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.name)) throw bad(m.spec, `two models are named "${m.name}"`, "give each model its own name=...");
    seen.add(m.name);
  }
  return out;
}

/** The API key for an endpoint: from key_env, else OPENAI_API_KEY for OpenAI's own URL. Never logged. */
export function apiKeyFor(source: Extract<ModelSource, { kind: "endpoint" }>, env: NodeJS.ProcessEnv): string | undefined {
  if (source.keyEnv) {
    const v = env[source.keyEnv];
    if (!v) {
      throw new TunekitError("missing_api_key", `the environment variable ${source.keyEnv} (key_env) is not set`, {
        hint: `export ${source.keyEnv}=... before running`,
      });
    }
    return v;
  }
  if (source.baseUrl.replace(/\/+$/, "") === OPENAI_BASE_URL) {
    const v = env.OPENAI_API_KEY;
    if (!v) throw new TunekitError("missing_api_key", "OPENAI_API_KEY is not set", { hint: "export OPENAI_API_KEY=... or point endpoint= at another server" });
    return v;
  }
  return env.TUNEKIT_API_KEY || undefined;
}

/** The name of the variable an endpoint's key is read from (for messages; the key itself is never shown). */
export function apiKeyEnvName(source: Extract<ModelSource, { kind: "endpoint" }>): string {
  if (source.keyEnv) return source.keyEnv;
  return source.baseUrl.replace(/\/+$/, "") === OPENAI_BASE_URL ? "OPENAI_API_KEY" : "TUNEKIT_API_KEY";
}
