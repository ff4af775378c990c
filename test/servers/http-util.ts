/** Small helpers shared by the fake API servers: start/stop on 127.0.0.1, read bodies, send JSON. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  at: number;
  status: number;
  authorization?: string;
}

export interface Fault {
  method?: string;
  /** Matched against the path (no query). */
  path: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** How many requests it answers before it is used up (default 1). */
  times?: number;
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** A node:http server that can be stopped (dropping open connections, like a crash) and restarted on the same port. */
export class RestartableServer {
  private server?: Server;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly handler: (req: IncomingMessage, res: ServerResponse) => void) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = this.port): Promise<void> {
    const server = createServer(this.handler);
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    const addr = server.address();
    if (addr && typeof addr === "object") this.port = addr.port;
  }

  /** Stops abruptly: open connections are destroyed, as when a server process dies. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get running(): boolean {
    return this.server !== undefined;
  }
}
