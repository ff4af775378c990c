/**
 * Together AI's two-step file upload (the protocol the SDK's `files.upload` implements): POST /files
 * with the file's name, type and purpose answers 302 with a presigned URL (Location) and the new file id
 * (x-together-file-id); the bytes are then PUT to that URL, which takes no API key. Done here because
 * the SDK's own version fails on Node's fetch (see trainer.ts). Only the file's base name is sent.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { toTrainerError } from "../errors.js";
import { fail, ok, type TrainerResult } from "../types.js";

export async function uploadFile(args: {
  baseUrl: string;
  apiKey: string;
  path: string;
  bytes: number;
  purpose: "fine-tune";
  signal?: AbortSignal;
}): Promise<TrainerResult<string>> {
  const params = new URLSearchParams({ file_name: basename(args.path), file_type: "jsonl", purpose: args.purpose });
  try {
    const r = await fetch(`${args.baseUrl}/files?${params}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Bearer ${args.apiKey}` },
      redirect: "manual",
      body: params.toString(),
      ...(args.signal ? { signal: args.signal } : {}),
    });
    if (r.status !== 302) {
      let body: unknown;
      try {
        body = await r.json();
      } catch {
        body = undefined;
      }
      const e = body as { error?: { message?: string; param?: string } } | undefined;
      return fail(toTrainerError({ status: r.status, error: e?.error ?? body, param: e?.error?.param ?? null, message: `upload refused (${r.status})` }, "Together AI", args.apiKey));
    }
    const location = r.headers.get("location");
    const fileId = r.headers.get("x-together-file-id");
    if (!location || !fileId) return fail({ code: "upload_failed", message: "Together AI did not return an upload URL", retryable: true });
    const put = await fetch(location, {
      method: "PUT",
      headers: { "Content-Type": "application/octet-stream", "Content-Length": String(args.bytes) },
      body: Readable.toWeb(createReadStream(args.path)) as ReadableStream,
      duplex: "half",
      ...(args.signal ? { signal: args.signal } : {}),
    } as RequestInit);
    if (put.status !== 200) {
      return fail({ code: "upload_failed", status: put.status, message: `uploading ${args.path} to Together AI failed (${put.status} ${put.statusText})`, retryable: put.status >= 500 });
    }
    return ok(fileId);
  } catch (e) {
    return fail(toTrainerError(e, "Together AI", args.apiKey));
  }
}
