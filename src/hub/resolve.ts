/**
 * `--model DIR|ID`: a local folder is used as is; a Hugging Face hub id (`owner/name[@revision]`) is
 * resolved from the Hugging Face cache (cache.ts), downloading what is missing (download.ts) unless
 * offline (env.ts).
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { TunekitError } from "../util/errors.js";
import { findCachedSnapshot } from "./cache.js";
import { downloadSnapshot } from "./download.js";
import { hubCacheDir, isOffline } from "./env.js";
import { parseHubId, type ResolveOptions } from "./types.js";

export type { DownloadProgress, ResolveOptions } from "./types.js";

/**
 * A local folder -> its absolute path; a hub id -> the snapshot folder in the HF cache, downloading
 * what is missing unless offline.
 */
export async function resolveModelDir(spec: string, opts: ResolveOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const local = isAbsolute(spec) ? spec : resolvePath(cwd, spec);
  if (spec.trim() === "") {
    throw new TunekitError("usage", "no model given", { hint: "pass a model folder or a Hugging Face id such as HuggingFaceTB/SmolLM2-135M-Instruct" });
  }
  if (existsSync(local)) {
    if (!statSync(local).isDirectory()) {
      throw new TunekitError("not_a_directory", `${spec} is a file; --model takes a model folder or a hub id`, {
        file: spec,
        hint: "pass the folder that holds config.json and model.safetensors",
      });
    }
    return local;
  }
  const hub = parseHubId(spec);
  const looksLocal = /^(\.{1,2}|~)?[\\/]/.test(spec) || spec.startsWith(".") || !hub;
  if (looksLocal) {
    throw new TunekitError("model_not_found", `no model folder at ${spec}`, {
      file: spec,
      hint: "pass an existing folder with config.json and model.safetensors, or a hub id like owner/name",
    });
  }
  const cached = await findCachedSnapshot(hub!, opts);
  if (isOffline(opts, env)) {
    if (cached) return cached;
    throw new TunekitError("model_not_cached", `${spec} is not in the Hugging Face cache (${hubCacheDir(env)}) and offline mode is on`, {
      hint: "run once with network access (unset HF_HUB_OFFLINE) to download it, or pass a local folder",
    });
  }
  try {
    return await downloadSnapshot(hub!, opts, env);
  } catch (e) {
    // No network but a complete cached copy: use it, as huggingface_hub does.
    if (e instanceof TunekitError && e.code === "network_unavailable" && cached) return cached;
    throw e;
  }
}
