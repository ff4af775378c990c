/**
 * Turns whatever an HTTP SDK threw (the `openai` and `together-ai` SDKs share Stainless's error shapes:
 * `status`, `error` body, `code`, `param`, `type`) into a TrainerError value with a plain message.
 * Any occurrence of the API key in a message is masked, so an echoing server cannot leak it through us.
 */
import type { TrainerError } from "./types.js";

interface SdkLikeError {
  name?: string;
  message?: string;
  status?: number;
  code?: string | null;
  param?: string | null;
  type?: string | null;
  error?: unknown;
  cause?: unknown;
}

const KEY_ENV: Record<string, string> = {
  OpenAI: "OPENAI_API_KEY",
  "Together AI": "TOGETHER_API_KEY",
  Fireworks: "FIREWORKS_API_KEY",
  "Azure OpenAI": "AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN)",
};

export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join("[redacted]");
}

function bodyMessage(e: SdkLikeError): string | undefined {
  const body = e.error as Record<string, unknown> | undefined;
  if (body && typeof body === "object") {
    if (typeof body.message === "string") return body.message;
    const inner = body.error as Record<string, unknown> | undefined;
    if (inner && typeof inner.message === "string") return inner.message;
  }
  return undefined;
}

/** Maps an SDK exception to a TrainerError. `provider` is used in messages ("OpenAI rejected ..."). */
export function toTrainerError(err: unknown, provider: string, secret?: string): TrainerError {
  const e = (err ?? {}) as SdkLikeError;
  const status = typeof e.status === "number" ? e.status : undefined;
  const raw = redactSecret(bodyMessage(e) ?? e.message ?? String(err), secret);
  // OpenAI's SDK hands over the body's inner `error`; Together's SDK the whole body.
  const body = e.error as Record<string, unknown> | undefined;
  const inner = body?.error as Record<string, unknown> | undefined;
  const param = e.param ?? (body?.param as string | undefined) ?? (inner?.param as string | undefined) ?? null;
  const providerCode = e.code ?? e.type ?? null;
  const envVar = KEY_ENV[provider] ?? "the API key variable";
  if (status === undefined) {
    const name = `${e.name ?? ""} ${(err as object | null)?.constructor?.name ?? ""}`;
    if (name.includes("Abort")) return { code: "aborted", message: "the request was cancelled", retryable: false };
    if (name.includes("Timeout") || name.includes("Connection") || /connection error|timed out|fetch failed|ECONNREFUSED|ECONNRESET|socket|network/i.test(raw)) {
      return { code: "connection", message: `cannot reach ${provider}: ${raw}`, retryable: true };
    }
    return { code: "unknown", message: raw, retryable: false };
  }
  if (status === 401) {
    return { code: "auth", status, message: `${provider} rejected the API key (401): ${raw}. Check ${envVar}.`, retryable: false, providerCode };
  }
  if (status === 403) {
    return { code: "permission", status, message: `${provider} refused access (403): ${raw}. Your account or project may not have access to this model or to fine-tuning.`, retryable: false, providerCode };
  }
  if (status === 429) {
    return { code: "rate_limit", status, message: `${provider} rate limit or quota reached (429), still failing after retries: ${raw}`, retryable: true, providerCode };
  }
  if (status >= 500) {
    return { code: "server", status, message: `${provider} server error (${status}), still failing after retries: ${raw}`, retryable: true, providerCode };
  }
  if (status === 404) {
    return { code: "not_found", status, message: `${provider}: not found (404): ${raw}`, retryable: false, param, providerCode };
  }
  const named = param ? ` (parameter \`${param}\`)` : "";
  return { code: "invalid_request", status, message: `${provider} rejected the request${named}: ${raw}`, retryable: false, param, providerCode };
}
