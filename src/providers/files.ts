/**
 * Data files before upload: hashing and sizing (the sha256 is the skip-upload key), the training and
 * validation pair prepared one after the other, and the upload that is skipped when the provider still
 * holds the same bytes from an earlier run.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import { fail, ok, type PreparedData, type PreparedFile, type PrepareOptions, type TrainerResult, type TrainingData } from "./types.js";

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** sha256File as a result: an unreadable file is a `file_read` error, not a throw. */
export async function hashDataFile(path: string, options: PrepareOptions = {}): Promise<TrainerResult<{ sha256: string; bytes: number }>> {
  options.onProgress?.("hashing", path);
  try {
    return ok(await sha256File(path));
  } catch (e) {
    return fail({ code: "file_read", message: `cannot read ${path}: ${(e as Error).message}`, retryable: false });
  }
}

/** The training file, then the validation file when there is one, each through `one`; the first failure ends it. */
export async function prepareEach(data: TrainingData, one: (path: string) => Promise<TrainerResult<PreparedFile>>): Promise<TrainerResult<PreparedData>> {
  const training = await one(data.trainingFile);
  if (!training.ok) return training;
  if (!data.validationFile) return ok({ training: training.value });
  const validation = await one(data.validationFile);
  if (!validation.ok) return validation;
  return ok({ training: training.value, validation: validation.value });
}

/**
 * Deletes each remote file through `remove`; a file the provider no longer has counts as deleted.
 * Returns the ids that are gone; other failures leave their ids out.
 */
export async function deleteEach(fileIds: string[], remove: (id: string) => Promise<TrainerResult<unknown>>): Promise<TrainerResult<string[]>> {
  const deleted: string[] = [];
  for (const id of fileIds) {
    const r = await remove(id);
    if (r.ok || r.error.code === "not_found") deleted.push(id);
  }
  return ok(deleted);
}

/** How one provider uploads a file, and what it says of a file it holds. */
export interface FileUploader {
  provider: string;
  baseUrl: string;
  /** For messages: "OpenAI", "Together AI". */
  label: string;
  /** The largest file the provider takes (its capabilities' maxFileBytes). */
  maxBytes?: number;
  /** Whether an earlier upload is still usable there: ok(false) when it is gone or failed processing. */
  stillUsable(remoteFileId: string): Promise<TrainerResult<boolean>>;
  upload(path: string, bytes: number): Promise<TrainerResult<{ remoteFileId: string; filename: string }>>;
  /** Waits until the provider has processed the file. */
  ready(remoteFileId: string, path: string): Promise<TrainerResult<true>>;
}

/**
 * Uploads `path` unless the upload cache knows the same bytes at this provider and the provider still
 * holds them; a file the provider fails to process is forgotten, so the next run uploads it again.
 */
export async function uploadOnce(up: FileUploader, path: string, options: PrepareOptions = {}): Promise<TrainerResult<PreparedFile>> {
  const hashed = await hashDataFile(path, options);
  if (!hashed.ok) return hashed;
  const { sha256, bytes } = hashed.value;
  if (up.maxBytes !== undefined && bytes > up.maxBytes) {
    return fail({ code: "invalid_file", message: `${path} is ${bytes} bytes; ${up.label} accepts at most ${formatBytes(up.maxBytes)} per file`, retryable: false });
  }
  const cache = options.cache;
  const cached = cache?.findUploadedFile(up.provider, up.baseUrl, "fine-tune", sha256);
  if (cached) {
    const usable = await up.stillUsable(cached.remoteFileId);
    if (!usable.ok && usable.error.code !== "not_found") return usable;
    if (usable.ok && usable.value) {
      options.onProgress?.("reused", path);
      const ready = await up.ready(cached.remoteFileId, path);
      if (!ready.ok) return ready;
      return ok({ path, sha256, bytes, remoteFileId: cached.remoteFileId, reused: true });
    }
    cache!.forgetUploadedFile(up.provider, up.baseUrl, "fine-tune", sha256);
  }
  options.onProgress?.("uploading", path);
  const uploaded = await up.upload(path, bytes);
  if (!uploaded.ok) return uploaded;
  const { remoteFileId, filename } = uploaded.value;
  cache?.recordUploadedFile({ provider: up.provider, baseUrl: up.baseUrl, purpose: "fine-tune", sha256, remoteFileId, filename, bytes });
  const ready = await up.ready(remoteFileId, path);
  if (!ready.ok) {
    cache?.forgetUploadedFile(up.provider, up.baseUrl, "fine-tune", sha256);
    return ready;
  }
  return ok({ path, sha256, bytes, remoteFileId, reused: false });
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${+(n / 2 ** 30).toFixed(1)} GB` : `${Math.round(n / 2 ** 20)} MB`;
}

export async function fileSize(path: string): Promise<number> {
  return (await fsp.stat(path)).size;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
