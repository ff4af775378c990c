/**
 * One HTTP call to a provider's REST API, for providers without an official SDK (Fireworks) and for the
 * few requests an SDK cannot make (Together's file upload on Node 20). Retries the way the official
 * SDKs do: 408/409/429/5xx and dropped connections, with exponential backoff and jitter, honouring
 * `retry-after-ms` / `retry-after` (seconds or an HTTP date) when the server sends one. What still fails
 * comes back as a TrainerError value (through errors.ts, like the SDKs' exceptions), never thrown.
 */
import { toTrainerError } from "./errors.js";
import { sleep } from "./files.js";
import { fail, ok, type TrainerResult } from "./types.js";

export interface HttpOptions {
  /** The provider's name in messages ("Fireworks"). */
  provider: string;
  /** Masked in every message (the API key). */
  secret?: string;
  /** Retries after the first try (default 4, as the providers' SDKs are configured here). */
  maxRetries?: number;
  /** Per-try timeout in ms (default 120 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HttpRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  /** Built once per try: a stream body can only be sent once. */
  body?: () => RequestInit["body"] | undefined;
  /** Streams need `duplex: "half"` on Node's fetch. */
  streamBody?: boolean;
  /** Redirects are returned as responses (e.g. to drop the key before a presigned URL). */
  manualRedirect?: boolean;
  /** Read the whole body inside the retry loop (a connection dropped mid-body is retried too). */
  buffer?: boolean;
}

export interface HttpResponse {
  response: Response;
  /** The body, when `buffer` was set. */
  text?: string;
}

const RETRY_STATUS = (s: number) => s === 408 || s === 409 || s === 429 || s >= 500;

/** Milliseconds the server asked us to wait, when it said so (capped at 60 s). */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get("retry-after-ms"));
  if (headers.has("retry-after-ms") && Number.isFinite(ms) && ms >= 0) return Math.min(ms, 60_000);
  const ra = headers.get("retry-after");
  if (ra === null) return undefined;
  const secs = Number(ra);
  if (ra.trim() !== "" && Number.isFinite(secs)) return Math.min(Math.max(0, secs * 1000), 60_000);
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.min(Math.max(0, at - Date.now()), 60_000) : undefined;
}

function backoffMs(attempt: number): number {
  // 0.5 s, 1 s, 2 s, 4 s ... capped at 8 s, minus up to 25% jitter (the SDKs' schedule).
  return Math.min(8000, 500 * 2 ** attempt) * (1 - Math.random() * 0.25);
}

async function errorBody(r: Response): Promise<unknown> {
  const text = await r.text().catch(() => "");
  try {
    return JSON.parse(text);
  } catch {
    return text ? { message: text.slice(0, 500) } : undefined;
  }
}

/**
 * Sends the request, retrying what is worth retrying. Returns the final Response when its status is
 * below 400 (2xx, or 3xx with `manualRedirect`), otherwise the error as data.
 */
export async function httpRequest(req: HttpRequest, o: HttpOptions): Promise<TrainerResult<HttpResponse>> {
  const maxRetries = o.maxRetries ?? 4;
  for (let attempt = 0; ; attempt++) {
    if (o.signal?.aborted) return fail({ code: "aborted", message: "the request was cancelled", retryable: false });
    const timeout = AbortSignal.timeout(o.timeoutMs ?? 120_000);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    let r: Response;
    let text: string | undefined;
    try {
      const body = req.body?.();
      r = await fetch(req.url, {
        method: req.method,
        ...(req.headers ? { headers: req.headers } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(req.streamBody ? { duplex: "half" } : {}),
        ...(req.manualRedirect ? { redirect: "manual" as const } : {}),
        signal,
      } as RequestInit);
      if (req.buffer && r.status < 400) text = await r.text();
    } catch (e) {
      const err = toTrainerError(timeout.aborted ? Object.assign(new Error(`timed out after ${o.timeoutMs ?? 120_000} ms`), { name: "TimeoutError" }) : e, o.provider, o.secret);
      if (err.retryable && attempt < maxRetries && !o.signal?.aborted) {
        await sleep(backoffMs(attempt), o.signal);
        continue;
      }
      return fail(err);
    }
    if (r.status < 400) return ok({ response: r, ...(text !== undefined ? { text } : {}) });
    if (RETRY_STATUS(r.status) && attempt < maxRetries) {
      const wait = retryAfterMs(r.headers) ?? backoffMs(attempt);
      await r.body?.cancel().catch(() => {});
      await sleep(wait, o.signal);
      continue;
    }
    const body = await errorBody(r);
    return fail(toTrainerError({ status: r.status, error: body, message: `HTTP ${r.status}` }, o.provider, o.secret));
  }
}

/** `httpRequest` for JSON APIs: sends `json` (if any), parses the answer. */
export async function httpJson<T>(req: Omit<HttpRequest, "body"> & { json?: unknown }, o: HttpOptions): Promise<TrainerResult<T>> {
  const headers = { Accept: "application/json", ...(req.json !== undefined ? { "Content-Type": "application/json" } : {}), ...req.headers };
  const text = req.json !== undefined ? JSON.stringify(req.json) : undefined;
  const r = await httpRequest({ ...req, headers, buffer: true, ...(text !== undefined ? { body: () => text } : {}) }, o);
  if (!r.ok) return r;
  const raw = r.value.text ?? "";
  if (raw.trim() === "") return ok({} as T);
  try {
    return ok(JSON.parse(raw) as T);
  } catch {
    return fail({ code: "bad_response", message: `${o.provider} answered with something that is not JSON (HTTP ${r.value.response.status})`, retryable: true, status: r.value.response.status });
  }
}
