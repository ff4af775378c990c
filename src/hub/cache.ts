/**
 * The Hugging Face cache layout, shared with Python's huggingface_hub:
 *
 *   $HF_HUB_CACHE/models--owner--name/blobs/<etag>            file contents
 *   $HF_HUB_CACHE/models--owner--name/snapshots/<sha>/<file>  relative symlinks into blobs/
 *   $HF_HUB_CACHE/models--owner--name/refs/<revision>         the commit sha the revision pointed at
 *
 * so later runs (and HF_HUB_OFFLINE=1) resolve from the cache without the network.
 */
import { randomBytes } from "node:crypto";
import { existsSync, promises as fsp } from "node:fs";
import { dirname, join, relative } from "node:path";
import { hubCacheDir } from "./env.js";
import { COMMIT, type HubSpec, type ResolveOptions } from "./types.js";

export function repoCacheFolder(repo: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(hubCacheDir(env), `models--${repo.split("/").join("--")}`);
}

/** Weights files a snapshot needs: model.safetensors, or the index and every shard it names. */
async function missingWeights(dir: string): Promise<string[] | undefined> {
  if (existsSync(join(dir, "model.safetensors"))) return [];
  const index = join(dir, "model.safetensors.index.json");
  if (!existsSync(index)) return undefined;
  try {
    const parsed = JSON.parse(await fsp.readFile(index, "utf8")) as { weight_map?: Record<string, string> };
    const shards = [...new Set(Object.values(parsed.weight_map ?? {}))];
    return shards.filter((s) => !existsSync(join(dir, s)));
  } catch {
    return undefined;
  }
}

/** The cached snapshot for `spec`, when it is complete enough to run offline. */
export async function findCachedSnapshot(spec: HubSpec, opts: ResolveOptions = {}): Promise<string | undefined> {
  const env = opts.env ?? process.env;
  const folder = repoCacheFolder(spec.repo, env);
  let sha: string | undefined;
  if (COMMIT.test(spec.revision)) sha = spec.revision;
  else {
    try {
      sha = (await fsp.readFile(join(folder, "refs", spec.revision), "utf8")).trim();
    } catch {
      return undefined;
    }
  }
  const snap = join(folder, "snapshots", sha);
  if (opts.files) return opts.files.every((f) => existsSync(join(snap, f))) ? snap : undefined;
  if (!existsSync(join(snap, "config.json"))) return undefined;
  const missing = await missingWeights(snap);
  return missing !== undefined && missing.length === 0 ? snap : undefined;
}

/**
 * Points the snapshot file `pointer` at `blob` (a relative symlink). The link is made under a unique
 * temporary name and renamed over `pointer`, which replaces any earlier link in one step: two processes
 * (or two calls in one process) linking the same file at once both succeed and leave one correct link.
 */
export async function linkSnapshotFile(pointer: string, blob: string): Promise<void> {
  await fsp.mkdir(dirname(pointer), { recursive: true });
  const tmp = `${pointer}.${process.pid}.${randomBytes(4).toString("hex")}.link`;
  await fsp.symlink(relative(dirname(pointer), blob), tmp);
  try {
    await fsp.rename(tmp, pointer);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
