/**
 * Together AI's two-step file upload (the protocol the SDK's `files.upload` implements): POST /files
 * with the file's name, type and purpose answers 302 with a presigned URL (Location) and the new file id
 * (x-together-file-id); the bytes are then PUT to that URL, which takes no API key. Done here because
 * the SDK's own version fails on Node's fetch (see trainer.ts); retries are the shared HTTP helper's.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { httpRequest } from "../http.js";
import { fail, ok, type TrainerResult } from "../types.js";

export async function uploadFile(args: {
  baseUrl: string;
  apiKey: string;
  path: string;
  bytes: number;
  purpose: "fine-tune";
  signal?: AbortSignal;
}): Promise<TrainerResult<string>> {
  const http = { provider: "Together AI", secret: args.apiKey, ...(args.signal ? { signal: args.signal } : {}) };
  const params = new URLSearchParams({ file_name: basename(args.path), file_type: "jsonl", purpose: args.purpose });
  const created = await httpRequest(
    {
      method: "POST",
      url: `${args.baseUrl}/files?${params}`,
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Bearer ${args.apiKey}` },
      body: () => params.toString(),
      manualRedirect: true,
    },
    http,
  );
  if (!created.ok) return created;
  const r = created.value.response;
  await r.body?.cancel().catch(() => {});
  const location = r.headers.get("location");
  const fileId = r.headers.get("x-together-file-id");
  if (r.status !== 302 || !location || !fileId) return fail({ code: "upload_failed", message: `Together AI did not return an upload URL (HTTP ${r.status})`, retryable: true });
  const put = await httpRequest(
    {
      method: "PUT",
      url: location,
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(args.bytes) },
      body: () => Readable.toWeb(createReadStream(args.path)) as ReadableStream,
      streamBody: true,
    },
    http,
  );
  if (!put.ok) return fail({ ...put.error, code: put.error.code === "connection" ? "connection" : "upload_failed", message: `uploading ${args.path} to Together AI failed: ${put.error.message}` });
  await put.value.response.body?.cancel().catch(() => {});
  return ok(fileId);
}
