/**
 * A small stand-in for the Hugging Face hub on 127.0.0.1, speaking the parts of its protocol that
 * @huggingface/hub uses to download: model info (sha + file list) and `resolve` with range requests,
 * ETag / X-Linked-ETag headers and the hub's X-Error-Code on failures. Tests point HF_ENDPOINT at it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface FakeRepo {
  sha: string;
  files: Record<string, Buffer>;
  /** Needs `Authorization: Bearer <token>`. */
  token?: string;
}

export interface FakeHub {
  url: string;
  repos: Map<string, FakeRepo>;
  /** Every request: method, path and Range header. */
  log: { method: string; path: string; range?: string }[];
  /** Files whose next full-content download is cut after this many bytes (then the socket is destroyed). */
  cutAfter: Map<string, number>;
  close(): Promise<void>;
}

const LFS_MIN = 64; // files at least this big are served as "LFS" (X-Linked-ETag = sha256)

function fail(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "Content-Type": "application/json", "X-Error-Code": code });
  res.end(JSON.stringify({ error: message }));
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const hub: Omit<FakeHub, "url" | "close"> = { repos: new Map(Object.entries(repos)), log: [], cutAfter: new Map() };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const path = decodeURIComponent(url.pathname);
    hub.log.push({ method: req.method ?? "GET", path, ...(req.headers.range ? { range: String(req.headers.range) } : {}) });
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    const m = api ?? resolve;
    if (!m) return fail(res, 404, "NotFound", "not found");
    const repo = hub.repos.get(m[1]);
    if (!repo) return fail(res, 401, "RepoNotFound", "Repository not found");
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      return fail(res, req.headers.authorization ? 403 : 401, "GatedRepo", "Access to this model is restricted");
    }
    const rev = m[2];
    if (rev !== "main" && rev !== "HEAD" && rev !== repo.sha) return fail(res, 404, "RevisionNotFound", "Invalid rev id");
    if (api) {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          _id: "x",
          id: m[1],
          sha: repo.sha,
          private: !!repo.token,
          gated: false,
          downloads: 0,
          likes: 0,
          lastModified: "2024-01-01T00:00:00.000Z",
          siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
        }),
      );
      return;
    }
    const file = repo.files[resolve![3]];
    if (!file) return fail(res, 404, "EntryNotFound", "Entry not found");
    const gitOid = createHash("sha1").update(file).digest("hex");
    const headers: Record<string, string> = { ETag: `"${gitOid}"`, "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes" };
    if (file.length >= LFS_MIN) headers["X-Linked-ETag"] = `"${createHash("sha256").update(file).digest("hex")}"`;
    let start = 0;
    let end = file.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ""));
    if (range) {
      start = Number(range[1]);
      if (range[2] !== "") end = Math.min(end, Number(range[2]));
      headers["Content-Range"] = `bytes ${start}-${end}/${file.length}`;
    }
    const body = file.subarray(start, end + 1);
    headers["Content-Length"] = String(body.length);
    res.writeHead(range ? 206 : 200, headers);
    const cut = hub.cutAfter.get(resolve![3]);
    if (cut !== undefined && body.length > 1) {
      hub.cutAfter.delete(resolve![3]);
      res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    ...hub,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (for "no network"). */
export async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
