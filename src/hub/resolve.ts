/**
 * `--model DIR|ID`: a local folder is used as is; a Hugging Face hub id (`owner/name[@revision]`) is
 * downloaded through the maintained client (@huggingface/hub) into the standard HF cache layout that
 * Python's huggingface_hub uses too:
 *
 *   $HF_HUB_CACHE/models--owner--name/blobs/<etag>            file contents
 *   $HF_HUB_CACHE/models--owner--name/snapshots/<sha>/<file>  relative symlinks into blobs/
 *   $HF_HUB_CACHE/models--owner--name/refs/<revision>         the commit sha the revision pointed at
 *
 * so later runs (and HF_HUB_OFFLINE=1) resolve from the cache without the network. Only what the local
 * engine needs is fetched: config, tokenizer files and safetensors weights (with the index and shards).
 * A partial download is kept as `blobs/<etag>.incomplete` and resumed with an HTTP range request.
 */
import { createWriteStream, existsSync, promises as fsp, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, relative, resolve as resolvePath } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TunekitError } from "../util/errors.js";

export interface DownloadProgress {
  file: string;
  loaded: number;
  total?: number;
}

export interface ResolveOptions {
  /** Never touch the network (also HF_HUB_OFFLINE=1). */
  offline?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  /** Files to fetch instead of the default set (config, tokenizer files, safetensors). */
  files?: string[];
  /** Environment to read HF_* variables from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Working folder for relative paths (default process.cwd()). */
  cwd?: string;
}

/** Files the local engine needs, when the repo has them. Weights are added from the listing. */
export const DEFAULT_MODEL_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
];

const HUB_ID = /^([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)(?:@([\w./-]+))?$/;
const COMMIT = /^[0-9a-f]{40}$/;

export interface HubSpec {
  repo: string;
  revision: string;
}

/** Parses `owner/name[@revision]`; undefined when `spec` does not look like a hub id. */
export function parseHubId(spec: string): HubSpec | undefined {
  const m = HUB_ID.exec(spec);
  if (!m || m[1] === "." || m[1] === "..") return undefined;
  return { repo: `${m[1]}/${m[2]}`, revision: m[3] ?? "main" };
}

/** The hub cache folder, with the same precedence as Python's huggingface_hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HUGGINGFACE_HUB_CACHE) return env.HUGGINGFACE_HUB_CACHE;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
  return join(home, "hub");
}

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
}

export function repoCacheFolder(repo: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(hubCacheDir(env), `models--${repo.split("/").join("--")}`);
}

function isOffline(opts: ResolveOptions, env: NodeJS.ProcessEnv): boolean {
  if (opts.offline) return true;
  const v = (env.HF_HUB_OFFLINE ?? env.TRANSFORMERS_OFFLINE ?? "").toUpperCase();
  return v === "1" || v === "ON" || v === "YES" || v === "TRUE";
}

/** HF_TOKEN (or the legacy variable), else the token file `huggingface-cli login` writes. */
async function hubToken(env: NodeJS.ProcessEnv): Promise<string | undefined> {
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

interface HubErrorContext {
  /** X-Error-Code of the last failed response (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound). */
  lastErrorCode?: string | null;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"]);

function isNetworkError(e: unknown): boolean {
  for (let x: unknown = e, i = 0; x && i < 5; x = (x as { cause?: unknown }).cause, i++) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    const msg = String((x as { message?: unknown }).message ?? x);
    if (/fetch failed|terminated|socket hang up|other side closed|network/i.test(msg)) return true;
  }
  return false;
}

/** Turns a client or network error into a TunekitError with a hint. */
function hubError(e: unknown, spec: HubSpec, ctx: HubErrorContext, hasToken: boolean, endpoint: string): TunekitError {
  if (e instanceof TunekitError) return e;
  const status = (e as { statusCode?: number }).statusCode;
  const id = `${spec.repo}${spec.revision === "main" ? "" : "@" + spec.revision}`;
  const code = ctx.lastErrorCode ?? undefined;
  if (status === undefined && isNetworkError(e)) {
    return new TunekitError("network_unavailable", `cannot reach the Hugging Face hub (${endpoint}) to download ${id}`, {
      hint: "check your connection (or HF_ENDPOINT / proxy settings); a model downloaded once runs offline from the cache, or pass a local folder",
      cause: e,
    });
  }
  if (code === "GatedRepo" || ((status === 401 || status === 403) && code !== "RepoNotFound")) {
    return new TunekitError("hub_auth_required", `${id} needs a Hugging Face token with access to it`, {
      hint: hasToken
        ? "your token (HF_TOKEN) has no access: accept the model's licence on its hub page, or use a token with read access"
        : "set HF_TOKEN to a read token (https://huggingface.co/settings/tokens); gated models also need their licence accepted",
      cause: e,
    });
  }
  if (code === "RevisionNotFound") {
    return new TunekitError("revision_not_found", `${spec.repo} has no revision "${spec.revision}"`, {
      hint: "check the branch, tag or commit after @",
      cause: e,
    });
  }
  if (status === 404 || status === 401 || code === "RepoNotFound") {
    return new TunekitError("model_not_found", `no model ${spec.repo} on the Hugging Face hub (and no local folder with that name)`, {
      hint: hasToken
        ? "check the spelling (owner/name); private models need a token with access"
        : "check the spelling (owner/name); if it is private, set HF_TOKEN",
      cause: e,
    });
  }
  return new TunekitError("hub_error", `the Hugging Face hub failed while fetching ${id}: ${(e as Error).message ?? String(e)}`, {
    hint: "try again later",
    cause: e,
  });
}

function normaliseEtag(etag: string): string {
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

async function downloadSnapshot(spec: HubSpec, opts: ResolveOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const hub = await import("@huggingface/hub");
  const token = await hubToken(env);
  const hubUrl = (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
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
  const have = new Set(siblings);
  let wanted: string[];
  if (opts.files) {
    const missing = opts.files.filter((f) => !have.has(f));
    if (missing.length) {
      throw new TunekitError("model_file_missing", `${spec.repo} has no ${missing.join(", ")}`, { hint: "check the model's files on its hub page" });
    }
    wanted = [...opts.files];
  } else {
    if (!have.has("config.json")) {
      throw new TunekitError("missing_model_file", `${spec.repo} has no config.json: it is not a Transformers model`, {
        hint: "pick a Llama-family model repository in Hugging Face format",
      });
    }
    wanted = DEFAULT_MODEL_FILES.filter((f) => have.has(f));
    if (have.has("model.safetensors")) wanted.push("model.safetensors");
    else if (have.has("model.safetensors.index.json")) wanted.push("model.safetensors.index.json");
    else {
      throw new TunekitError("missing_model_file", `${spec.repo} has no safetensors weights`, {
        hint: have.has("pytorch_model.bin")
          ? "it ships only PyTorch .bin weights; tunekit reads safetensors (look for a safetensors version of the model)"
          : "pick a model repository that ships model.safetensors",
      });
    }
  }

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
    await fsp.mkdir(dirname(pointer), { recursive: true });
    if (!existsSync(blobPath)) {
      // Another tunekit process may be fetching the same blob: one downloads, the other waits.
      const release = await lockFile(`${blobPath}.lock`);
      try {
        if (!existsSync(blobPath)) await downloadBlob(hub, common, path, sha, info, blobPath, opts, fail);
      } finally {
        await release();
      }
    }
    await fsp.rm(pointer, { force: true });
    await fsp.symlink(relative(dirname(pointer), blobPath), pointer);
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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An exclusive lock file holding the owner's pid; waits while a live process holds it and takes over
 * a lock whose owner is gone (a killed download). Returns the release function.
 */
async function lockFile(lockPath: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, "wx");
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => fsp.rm(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number((await fsp.readFile(lockPath, "utf8").catch(() => "")).trim());
    if (owner > 0 && owner !== process.pid && !processAlive(owner)) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
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
