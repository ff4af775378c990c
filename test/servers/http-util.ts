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
  /** Drop the connection instead of answering (a network failure mid-request). */
  drop?: boolean;
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

/** A ustar archive of the given files (what providers' download endpoints hand out, before compression). */
export function tarPack(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of Object.entries(files)) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, "utf8");
    h.write("0000644\0", 100);
    h.write("0000000\0", 108);
    h.write("0000000\0", 116);
    h.write(data.length.toString(8).padStart(11, "0") + "\0", 124);
    h.write("00000000000\0", 136);
    h.write("        ", 148);
    h.write("0", 156);
    h.write("ustar\0", 257);
    h.write("00", 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/**
 * A valid Zstandard frame holding `data` in raw (stored) blocks: what any zstd decoder reads, written
 * here without a compressor (Node 20 has none).
 */
export function zstdFrame(data: Buffer): Buffer {
  const BLOCK = 128 * 1024;
  // Magic; frame header: no content size, no checksum, window 2^17 (Window_Descriptor exponent 7).
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])];
  let off = 0;
  do {
    const n = Math.min(BLOCK, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    const header = last | (0 << 1) | (n << 3); // Block_Type 0 = raw
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff]), data.subarray(off, off + n));
    off += n;
  } while (off < data.length);
  return Buffer.concat(parts);
}
