/**
 * The document store for retrieval: one SQLite file holding documents (path, sha256), their chunks
 * (heading, text, offsets) and two FTS5 indexes over the chunks: words with `porter unicode61
 * remove_diacritics 2` (so "cafe" finds "café" and "refunds" finds "refund"), and `trigram` for Chinese/Japanese/Korean text, which
 * has no spaces between words. Ranking is FTS5's BM25, headings weighted above body text.
 *
 * A store mirrors one documents folder: re-indexing replaces the chunks of changed documents (by
 * sha256), skips unchanged ones and drops documents that disappeared.
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { promises as fsp, statSync } from "node:fs";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { TunekitError, fsError } from "../util/errors.js";
import { chunkText, type ChunkOptions } from "./chunk.js";
import { parseQuestion } from "./query.js";

const SCHEMA_VERSION = 1;
export const RAG_EXTENSIONS = [".md", ".markdown", ".mdx", ".txt", ".text"];

export interface RetrievedChunk {
  /** Document path relative to the indexed folder (forward slashes). */
  source: string;
  heading: string;
  text: string;
  start: number;
  end: number;
  /** Higher is better (negated BM25, or fused rank score for mixed CJK queries). */
  score: number;
}

export interface IndexReport {
  root: string;
  added: string[];
  updated: string[];
  unchanged: number;
  removed: string[];
  chunks: number;
  documents: number;
}

export interface RagStore {
  readonly file: string;
  readonly db: Database.Database;
  close(): void;
}

function schema(db: Database.Database): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) throw new TunekitError("store_too_new", "this document store was written by a newer tunekit");
  db.exec(`
    BEGIN IMMEDIATE;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS documents (
      id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, indexed_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS chunks (
      id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
      idx INTEGER NOT NULL, heading TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
    CREATE VIRTUAL TABLE IF NOT EXISTS chunks_words USING fts5(heading, text, tokenize = 'porter unicode61 remove_diacritics 2');
    CREATE VIRTUAL TABLE IF NOT EXISTS chunks_trigrams USING fts5(text, tokenize = 'trigram');
    PRAGMA user_version = ${SCHEMA_VERSION};
    COMMIT;
  `);
}

/**
 * SQLite says only "unable to open database file" (or that the folder is missing): find out why from
 * the file system, so the user hears "it is a directory" or "no such folder" instead of a stack trace.
 */
function storeOpenError(e: unknown, path: string, file: string): unknown {
  const probe = (p: string) => {
    try {
      return statSync(p);
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
  };
  const self = probe(path);
  if (!(self instanceof Error) && self.isDirectory()) return fsError(Object.assign(new Error("EISDIR"), { code: "EISDIR" }), file, "open");
  const parent = probe(dirname(path));
  if (parent instanceof Error) return fsError(parent, dirname(path), "open folder");
  if (!parent.isDirectory()) return fsError(Object.assign(new Error("ENOTDIR"), { code: "ENOTDIR" }), file, "open");
  const mapped = fsError(e, file, "open");
  if (mapped instanceof TunekitError) return mapped;
  return new TunekitError("store_open_failed", `cannot open the document store ${file}: ${(e as Error).message}`, {
    file,
    hint: "check the path and the folder's permissions",
    cause: e,
  });
}

/** Fails unless `docsDir` is a readable folder (checked before a store file is created for it). */
export async function checkDocumentsFolder(docsDir: string): Promise<string> {
  const root = resolve(docsDir);
  const st = await fsp.stat(root).catch((e) => {
    throw fsError(e, docsDir, "read folder");
  });
  if (!st.isDirectory()) throw new TunekitError("not_a_directory", `${docsDir} is not a folder`, { file: docsDir, hint: "pass the folder that holds your Markdown or text documents" });
  return root;
}

export function openRagStore(file: string, options: { create?: boolean } = {}): RagStore {
  const path = resolve(file);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: options.create === false, timeout: 10_000 });
  } catch (e) {
    if (options.create === false) {
      throw new TunekitError("store_not_found", `no document store at ${file}`, { file, hint: "create it with `tunekit rag index DOCS_DIR --store FILE`" });
    }
    throw storeOpenError(e, path, file);
  }
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("foreign_keys = ON");
    schema(db);
  } catch (e) {
    db.close();
    if (e instanceof TunekitError) throw e;
    throw new TunekitError("not_a_store", `${file} is not a tunekit document store: ${(e as Error).message}`, { file });
  }
  return { file: path, db, close: () => db.open && db.close() };
}

async function listDocuments(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    let entries;
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw fsError(e, dir, "read folder");
    }
    for (const ent of entries) {
      if (ent.name.startsWith(".") || ent.name === "node_modules") continue;
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile() && RAG_EXTENSIONS.includes(extname(ent.name).toLowerCase())) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}

export interface IndexOptions extends ChunkOptions {
  onProgress?: (done: number, total: number, path: string) => void;
}

/** Indexes every Markdown/text file under `docsDir` into the store (see the module comment). */
export async function indexDocuments(store: RagStore, docsDir: string, options: IndexOptions = {}): Promise<IndexReport> {
  const root = await checkDocumentsFolder(docsDir);
  const { db } = store;
  const settings = JSON.stringify({ maxChars: options.maxChars ?? 1000, overlapChars: options.overlapChars ?? 150 });
  const previous = db.prepare("SELECT value FROM meta WHERE key = 'chunking'").get() as { value: string } | undefined;
  const rechunkAll = previous !== undefined && previous.value !== settings;
  const files = await listDocuments(root);
  const report: IndexReport = { root, added: [], updated: [], unchanged: 0, removed: [], chunks: 0, documents: files.length };
  const known = new Map((db.prepare("SELECT id, path, sha256 FROM documents").all() as { id: number; path: string; sha256: string }[]).map((d) => [d.path, d]));
  const insertDoc = db.prepare("INSERT INTO documents (path, sha256, bytes, indexed_at) VALUES (?, ?, ?, ?)");
  const insertChunk = db.prepare("INSERT INTO chunks (doc_id, idx, heading, text, start, end) VALUES (?, ?, ?, ?, ?, ?)");
  const insertWords = db.prepare("INSERT INTO chunks_words (rowid, heading, text) VALUES (?, ?, ?)");
  const insertGrams = db.prepare("INSERT INTO chunks_trigrams (rowid, text) VALUES (?, ?)");
  const removeDoc = db.transaction((id: number) => {
    const ids = db.prepare("SELECT id FROM chunks WHERE doc_id = ?").all(id) as { id: number }[];
    const delW = db.prepare("DELETE FROM chunks_words WHERE rowid = ?");
    const delG = db.prepare("DELETE FROM chunks_trigrams WHERE rowid = ?");
    for (const c of ids) {
      delW.run(c.id);
      delG.run(c.id);
    }
    db.prepare("DELETE FROM documents WHERE id = ?").run(id);
  });
  const seen = new Set<string>();
  let done = 0;
  for (const file of files) {
    const rel = relative(root, file).split(sep).join("/");
    seen.add(rel);
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(file);
    } catch (e) {
      throw fsError(e, file, "read");
    }
    const sha = createHash("sha256").update(bytes).digest("hex");
    const old = known.get(rel);
    options.onProgress?.(++done, files.length, rel);
    if (old && old.sha256 === sha && !rechunkAll) {
      report.unchanged++;
      continue;
    }
    const text = bytes.toString("utf8").replace(/\r\n?/g, "\n");
    const markdown = extname(file).toLowerCase() !== ".txt" && extname(file).toLowerCase() !== ".text";
    const chunks = chunkText(text, { ...options, markdown });
    db.transaction(() => {
      if (old) removeDoc(old.id);
      const docId = Number(insertDoc.run(rel, sha, bytes.length, Date.now()).lastInsertRowid);
      for (const c of chunks) {
        const id = Number(insertChunk.run(docId, c.index, c.heading, c.text, c.start, c.end).lastInsertRowid);
        insertWords.run(id, c.heading, c.text);
        insertGrams.run(id, `${c.heading}\n${c.text}`);
      }
    }).immediate();
    (old ? report.updated : report.added).push(rel);
  }
  db.transaction(() => {
    for (const [path, d] of known) {
      if (!seen.has(path)) {
        removeDoc(d.id);
        report.removed.push(path);
      }
    }
    db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('chunking', ?), ('root', ?)").run(settings, root);
  }).immediate();
  report.chunks = (db.prepare("SELECT count(*) AS n FROM chunks").get() as { n: number }).n;
  return report;
}

interface Row {
  id: number;
  path: string;
  heading: string;
  text: string;
  start: number;
  end: number;
  score: number;
}

/**
 * The `k` chunks that best answer `question`, best first, with their sources. `store` is an open store
 * or the path of one (opened read-only for the call).
 */
export function retrieve(store: RagStore | string, question: string, k = 4): RetrievedChunk[] {
  if (typeof store === "string") {
    const s = openRagStore(store, { create: false });
    try {
      return retrieve(s, question, k);
    } finally {
      s.close();
    }
  }
  const { db } = store;
  const q = parseQuestion(question);
  const limit = Math.max(1, Math.floor(k));
  const run = (table: "chunks_words" | "chunks_trigrams", match: string, weights: string): Row[] =>
    db
      .prepare(
        `SELECT c.id, d.path, c.heading, c.text, c.start, c.end, -bm25(${table}${weights}) AS score
         FROM ${table} JOIN chunks c ON c.id = ${table}.rowid JOIN documents d ON d.id = c.doc_id
         WHERE ${table} MATCH ? ORDER BY bm25(${table}${weights}) LIMIT ?`,
      )
      .all(match, limit * 4) as Row[];
  const lists: Row[][] = [];
  if (q.words) lists.push(run("chunks_words", q.words, ", 2.0, 1.0"));
  if (q.trigrams) lists.push(run("chunks_trigrams", q.trigrams, ""));
  let rows: Row[];
  if (lists.length === 1) rows = lists[0];
  else if (lists.length === 0) rows = [];
  else {
    // Reciprocal rank fusion of the word and trigram rankings (mixed-script questions).
    const fused = new Map<number, Row>();
    for (const list of lists) {
      list.forEach((r, i) => {
        const prev = fused.get(r.id);
        const add = 1 / (60 + i);
        fused.set(r.id, prev ? { ...prev, score: prev.score + add } : { ...r, score: add });
      });
    }
    rows = [...fused.values()].sort((a, b) => b.score - a.score);
  }
  return rows.slice(0, limit).map((r) => ({ source: r.path, heading: r.heading, text: r.text, start: r.start, end: r.end, score: r.score }));
}

/**
 * The retrieved chunks as a context block for a prompt, numbered, each with its source and heading,
 * so a model can quote and cite them. Empty string for no chunks.
 */
export function formatRagContext(chunks: RetrievedChunk[]): string {
  if (chunks.length === 0) return "";
  const parts = chunks.map((c, i) => `[${i + 1}] ${c.source}${c.heading ? ` (${c.heading})` : ""}\n${c.text.trim()}`);
  return `Relevant excerpts from the documents (cite them by number):\n\n${parts.join("\n\n")}\n`;
}

/** The folder a store was last indexed from, if recorded. */
export function storeRoot(store: RagStore): string | undefined {
  return (store.db.prepare("SELECT value FROM meta WHERE key = 'root'").get() as { value: string } | undefined)?.value;
}

