/**
 * A faithful-enough OpenAI-compatible chat completions server on 127.0.0.1 for tests: the real
 * `openai` SDK talks to it over HTTP. Replies are scripted (a function of the request), usage counts
 * are deterministic (whitespace tokens), and faults can be queued: 429 with retry-after, 500, or a
 * slow response. It records every request and the largest number in flight at once.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ChatRequestBody {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  max_tokens?: number;
  [k: string]: unknown;
}

export type Fault =
  | { status: 429; retryAfter?: string; retryAfterMs?: string }
  | { status: 500 | 503 | 400 | 401 | 403 | 404; message?: string }
  | { delayMs: number }
  /** A 200 whose body is this text (an HTML error page, broken JSON). */
  | { raw: string; contentType?: string }
  /** The connection is closed without an answer. */
  | { drop: true };

export interface FakeChatOptions {
  /** The reply text for a request (default: echoes the last user message). */
  reply?: (body: ChatRequestBody) => string;
  /** Delay every response by this many ms (to observe concurrency). */
  delayMs?: number;
  /** If set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** The finish_reason of a reply (default "stop"). */
  finishReason?: (body: ChatRequestBody, text: string) => string;
  /** Port on 127.0.0.1 (default: any free one). */
  port?: number;
  /** Called when a request arrives, before it is answered (a test may hold it, or kill its client). */
  onRequest?: (body: ChatRequestBody, index: number) => void | Promise<void>;
}

export interface RecordedRequest {
  at: number;
  body: ChatRequestBody;
  authorization?: string;
  /** Status the server answered with. */
  status: number;
}

export interface FakeChatServer {
  url: string;
  /** Base URL for the SDK, e.g. http://127.0.0.1:PORT/v1 */
  baseUrl: string;
  requests: RecordedRequest[];
  maxInFlight: number;
  /** Queues faults answered to the next requests, in order. */
  inject(...faults: Fault[]): void;
  close(): Promise<void>;
}

export const countTokens = (s: string) => (s.trim() === "" ? 0 : s.trim().split(/\s+/).length);

export async function startFakeChat(options: FakeChatOptions = {}): Promise<FakeChatServer> {
  const faults: Fault[] = [];
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const reply = options.reply ?? ((b) => [...b.messages].reverse().find((m) => m.role === "user")?.content ?? "");

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = "";
      req.setEncoding("utf8").on("data", (d) => (s += d)).on("end", () => resolve(s));
    });

  const server: Server = createServer(async (req, res) => {
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: "invalid_request_error", param: null, code: null } });
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const body = JSON.parse(await readBody(req)) as ChatRequestBody;
      const rec: RecordedRequest = { at: Date.now(), body, authorization: req.headers.authorization, status: 200 };
      requests.push(rec);
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        rec.status = 401;
        send(res, 401, { error: { message: "Incorrect API key provided", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
        return;
      }
      let fault = faults.shift();
      if (fault && "delayMs" in fault) {
        const ms = fault.delayMs;
        await new Promise((r) => setTimeout(r, ms));
        fault = undefined;
      }
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      await options.onRequest?.(body, requests.length - 1);
      if (fault && "drop" in fault) {
        rec.status = 0;
        req.socket.destroy();
        return;
      }
      if (fault && "raw" in fault) {
        res.writeHead(200, { "content-type": fault.contentType ?? "application/json" });
        res.end(fault.raw);
        return;
      }
      if (fault && "status" in fault) {
        rec.status = fault.status;
        const headers: Record<string, string> = {};
        if (fault.status === 429) {
          if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
          if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = fault.retryAfterMs;
        }
        const type = fault.status === 429 ? "rate_limit_exceeded" : fault.status >= 500 ? "server_error" : "invalid_request_error";
        send(res, fault.status, { error: { message: ("message" in fault && fault.message) || `injected ${fault.status}`, type, param: null, code: null } }, headers);
        return;
      }
      const text = reply(body);
      const promptTokens = body.messages.reduce((n, m) => n + countTokens(String(m.content ?? "")) + 3, 0);
      const completionTokens = countTokens(text);
      send(res, 200, {
        id: `chatcmpl-${requests.length}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, finish_reason: options.finishReason?.(body, text) ?? "stop", logprobs: null }],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    } finally {
      inFlight--;
    }
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    inject: (...f: Fault[]) => void faults.push(...f),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}

/** Runs the server standalone (for trying the CLI by hand): node --import tsx test/servers/fake-chat.ts */
if (import.meta.url === `file://${process.argv[1]}`) {
  const s = await startFakeChat();
  console.log(s.baseUrl);
}
