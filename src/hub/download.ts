/**
 * Downloads a snapshot through the maintained client (@huggingface/hub) into the cache layout of
 * cache.ts. Only what the local engine needs is fetched: config, tokenizer files and safetensors
 * weights (with the index and shards). A partial download is kept as `blobs/<etag>.incomplete` and
 * resumed with an HTTP range request.
 */
import { createWriteStream, existsSync, promises as fsp } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TunekitError } from "../util/errors.js";
import { linkSnapshotFile, repoCacheFolder } from "./cache.js";
import { hubEndpoint, hubToken } from "./env.js";
import { hubError, type HubErrorContext } from "./errors.js";
import { lockFile } from "./lock.js";
import { COMMIT, type HubSpec, type ResolveOptions } from "./types.js";

/** Files the local engine needs, when the repo has them. Weights are added from the listing. */
export const DEFAULT_MODEL_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

/** The files to fetch: `opts.files`, or config, tokenizer files and the safetensors weights (or their index). */
function wantedFiles(spec: HubSpec, siblings: string[], opts: ResolveOptions): string[] {
  const have = new Set(siblings);
  if (opts.files) {
    const missing = opts.files.filter((f) => !have.has(f));
    if (missing.length) {
      throw new TunekitError("model_file_missing", `${spec.repo} has no ${missing.join(", ")}`, { hint: "check the model's files on its hub page" });
    }
    return [...opts.files];
  }
  if (!have.has("config.json")) {
    throw new TunekitError("missing_model_file", `${spec.repo} has no config.json: it is not a Transformers model`, {
      hint: "pick a Llama-family model repository in Hugging Face format",
    });
  }
  const wanted = DEFAULT_MODEL_FILES.filter((f) => have.has(f));
  if (have.has("model.safetensors")) wanted.push("model.safetensors");
  else if (have.has("model.safetensors.index.json")) wanted.push("model.safetensors.index.json");
  else {
    throw new TunekitError("missing_model_file", `${spec.repo} has no safetensors weights`, {
      hint: have.has("pytorch_model.bin")
        ? "it ships only PyTorch .bin weights; tunekit reads safetensors (look for a safetensors version of the model)"
        : "pick a model repository that ships model.safetensors",
    });
  }
  return wanted;
}

export async function downloadSnapshot(spec: HubSpec, opts: ResolveOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const hub = await import("@huggingface/hub");
  const token = await hubToken(env);
  const hubUrl = hubEndpoint(env);
  const ctx: HubErrorContext = {};
  // Remembers why the last request failed: the client keeps the status but not the hub's error code.
  const trackingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.ok) ctx.lastErrorCode = res.headers.get("x-error-code");
    return res;
  };
  if (token && !token.startsWith("hf_")) {
    throw new TunekitError("hub_auth_required", "HF_TOKEN does not look like a Hugging Face token (it must start with hf_)", {
      hint: "create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN to it",
    });
  }
  const common = { repo: { type: "model" as const, name: spec.repo }, hubUrl, fetch: trackingFetch, ...(token ? { accessToken: token } : {}) };
  const fail = (e: unknown) => hubError(e, spec, ctx, token !== undefined, hubUrl);

  let sha: string;
  let siblings: string[];
  try {
    const info = (await hub.modelInfo({
      name: spec.repo,
      revision: spec.revision,
      hubUrl,
      fetch: trackingFetch,
      ...(token ? { accessToken: token } : {}),
      additionalFields: ["sha", "siblings"],
    } as Parameters<typeof hub.modelInfo>[0])) as unknown as { sha?: string; siblings?: { rfilename: string }[] };
    if (!info.sha) throw new Error("the hub did not return a commit sha");
    sha = info.sha;
    siblings = (info.siblings ?? []).map((s) => s.rfilename);
  } catch (e) {
    throw fail(e);
  }

  const folder = repoCacheFolder(spec.repo, env);
  const snap = join(folder, "snapshots", sha);
  const wanted = wantedFiles(spec, siblings, opts);

  const fetchOne = async (path: string): Promise<void> => {
    const pointer = join(snap, path);
    if (existsSync(pointer)) return;
    let info;
    try {
      info = await hub.fileDownloadInfo({ ...common, path, revision: sha });
    } catch (e) {
      throw fail(e);
    }
    if (!info) throw new TunekitError("model_file_missing", `${spec.repo} has no file ${path} at ${sha}`, { hint: "the repository changed; try again" });
    const blobPath = join(folder, "blobs", normaliseEtag(info.etag));
    await fsp.mkdir(dirname(blobPath), { recursive: true });
    if (!existsSync(blobPath)) {
      // Another tunekit process may be fetching the same blob: one downloads, the other waits.
      const release = await lockFile(`${blobPath}.lock`);
      try {
        if (!existsSync(blobPath)) await downloadBlob(hub, common, path, sha, info, blobPath, opts, fail);
      } finally {
        await release();
      }
    }
    await linkSnapshotFile(pointer, blobPath);
  };

  for (const f of wanted) await fetchOne(f);
  if (wanted.includes("model.safetensors.index.json")) {
    let shards: string[];
    try {
      const idx = JSON.parse(await fsp.readFile(join(snap, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
      shards = [...new Set(Object.values(idx.weight_map))];
    } catch {
      throw new TunekitError("corrupt_model_file", `${spec.repo}: model.safetensors.index.json is not a valid index`, {});
    }
    for (const s of shards) {
      if (s.includes("..") || isAbsolute(s)) throw new TunekitError("corrupt_model_file", `${spec.repo}: index names an invalid shard ${s}`, {});
      await fetchOne(s);
    }
  }
  if (!COMMIT.test(spec.revision) || spec.revision !== sha) {
    await fsp.mkdir(join(folder, "refs", dirname(spec.revision)), { recursive: true });
    await fsp.writeFile(join(folder, "refs", spec.revision), sha);
  }
  return snap;
}

/**
 * Streams one file into `<blob>.incomplete`, resuming from what an earlier attempt left there, and
 * renames it to the blob once its size is right.
 */
async function downloadBlob(
  hub: typeof import("@huggingface/hub"),
  common: { repo: { type: "model"; name: string }; hubUrl: string; fetch: typeof fetch; accessToken?: string },
  path: string,
  sha: string,
  info: { size: number; etag: string; url: string },
  blobPath: string,
  opts: ResolveOptions,
  fail: (e: unknown) => TunekitError,
): Promise<void> {
  const incomplete = `${blobPath}.incomplete`;
  let start = 0;
  try {
    start = (await fsp.stat(incomplete)).size;
  } catch {
    start = 0;
  }
  if (start > info.size) {
    await fsp.rm(incomplete, { force: true });
    start = 0;
  }
  let loaded = start;
  opts.onProgress?.({ file: path, loaded, total: info.size });
  if (start < info.size) {
    try {
      const blob = await hub.downloadFile({ ...common, path, revision: sha, downloadInfo: info as never });
      if (!blob) throw new TunekitError("model_file_missing", `${common.repo.name} has no file ${path}`, {});
      const part = start > 0 ? blob.slice(start) : blob;
      const body = Readable.fromWeb(part.stream() as import("node:stream/web").ReadableStream<Uint8Array>);
      body.on("data", (chunk: Uint8Array) => {
        loaded += chunk.length;
        opts.onProgress?.({ file: path, loaded, total: info.size });
      });
      await pipeline(body, createWriteStream(incomplete, { flags: "a" }));
    } catch (e) {
      throw fail(e);
    }
  }
  const size = (await fsp.stat(incomplete)).size;
  if (size !== info.size) {
    // A server that ignored the range request (or a cut connection) leaves a wrong-sized file.
    if (size > info.size) await fsp.rm(incomplete, { force: true });
    throw new TunekitError("network_unavailable", `the download of ${path} stopped at ${size} of ${info.size} bytes`, {
      hint: "run the command again: the download resumes where it stopped",
    });
  }
  await fsp.rename(incomplete, blobPath);
}
