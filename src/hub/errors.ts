/** Client and network failures of a hub download, as TunekitErrors with a hint. */
import { TunekitError } from "../util/errors.js";
import type { HubSpec } from "./types.js";

export interface HubErrorContext {
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
export function hubError(e: unknown, spec: HubSpec, ctx: HubErrorContext, hasToken: boolean, endpoint: string): TunekitError {
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
