/** The HF_* settings Python's huggingface_hub reads, with the same precedence. */
import { promises as fsp } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ResolveOptions } from "./types.js";

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
}

/** The hub cache folder. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  return join(hfHome(env), "hub");
}

export function isOffline(opts: ResolveOptions, env: NodeJS.ProcessEnv): boolean {
  if (opts.offline) return true;
  const v = (env.HF_HUB_OFFLINE ?? env.TRANSFORMERS_OFFLINE ?? "").toUpperCase();
  return v === "1" || v === "ON" || v === "YES" || v === "TRUE";
}

/** HF_TOKEN (or the legacy variable), else the token file `huggingface-cli login` writes. */
export async function hubToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const t = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (t && t.trim()) return t.trim();
  const file = env.HF_TOKEN_PATH ?? join(hfHome(env), "token");
  try {
    const s = (await fsp.readFile(file, "utf8")).trim();
    return s || undefined;
  } catch {
    return undefined;
  }
}

export function hubEndpoint(env: NodeJS.ProcessEnv): string {
  return (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}
