/** Retrieval: chunk documents, index them in SQLite FTS5 (BM25), retrieve the best chunks for a question. */
export { chunkText, type ChunkOptions, type TextChunk } from "./chunk.js";
export { parseQuestion, type ParsedQuery } from "./query.js";
export { openRagStore, indexDocuments, retrieve, formatRagContext, storeRoot, RAG_EXTENSIONS, type RagStore, type RetrievedChunk, type IndexReport, type IndexOptions } from "./store.js";
