/** `tunekit rag index DOCS_DIR --store FILE`: builds or refreshes a document store for retrieval. */
import { bool, num, printJson, str, usageError, type Command } from "../command.js";
import { createProgress } from "../progress.js";
import { checkDocumentsFolder, indexDocuments, openRagStore } from "../../rag/store.js";

const command: Command = {
  name: "rag index",
  summary: "index Markdown and text documents for retrieval (SQLite FTS5, BM25)",
  usage: "tunekit rag index DOCS_DIR --store FILE [--chunk-size N] [--overlap N] [--json]",
  details: `Indexes every .md/.markdown/.mdx/.txt file under DOCS_DIR, chunked by headings and paragraphs with overlap.
Run it again after editing documents: changed files are re-chunked, unchanged ones skipped (sha256), deleted
ones removed. A store mirrors one folder.
--json prints {"root","added":[],"updated":[],"unchanged","removed":[],"chunks","documents"} (docs/json.md).`,
  options: {
    store: { type: "string", valueName: "FILE", description: "the document store file (created if missing)" },
    "chunk-size": { type: "string", valueName: "N", description: "maximum characters per chunk", default: "1000" },
    overlap: { type: "string", valueName: "N", description: "characters shared by consecutive chunks", default: "150" },
    json: { type: "boolean", description: "print JSON" },
  },
  positionals: { min: 1, max: 1, names: "DOCS_DIR" },
  async run(ctx) {
    const file = str(ctx, "store");
    if (!file) throw usageError(command, "--store FILE is required");
    const maxChars = num(ctx, command, "chunk-size", { integer: true, min: 100, max: 100_000 })!;
    const overlapChars = num(ctx, command, "overlap", { integer: true, min: 0, max: 50_000 })!;
    if (overlapChars >= maxChars) throw usageError(command, `--overlap (${overlapChars}) must be smaller than --chunk-size (${maxChars})`);
    // Check the folder first: a mistyped DOCS_DIR must not leave a new empty store behind.
    await checkDocumentsFolder(ctx.positionals[0]);
    const store = openRagStore(file);
    const progress = createProgress(ctx.io, { label: "index", unit: "documents" });
    try {
      const report = await indexDocuments(store, ctx.positionals[0], {
        maxChars,
        overlapChars,
        onProgress: (done, total) => {
          progress.setTotal(total);
          progress.update(done);
        },
      });
      progress.finish();
      if (bool(ctx, "json")) {
        printJson(ctx, report);
        return 0;
      }
      const list = (label: string, items: string[]) => {
        if (items.length > 0) ctx.out(`  ${label.padEnd(9)}${items.slice(0, 10).join(", ")}${items.length > 10 ? `, ... (${items.length})` : ""}`);
      };
      ctx.out(`${ctx.color.bold(file)}: ${report.documents} documents, ${report.chunks} chunks (${report.added.length} added, ${report.updated.length} updated, ${report.unchanged} unchanged, ${report.removed.length} removed)`);
      list("added", report.added);
      list("updated", report.updated);
      list("removed", report.removed);
      return 0;
    } finally {
      progress.finish();
      store.close();
    }
  },
};
export default command;
