/**
 * Splits Markdown and plain text into retrieval chunks that keep where they came from: the heading path
 * ("Refunds > Window") and the character offsets in the original text, so `text === doc.slice(start, end)`
 * always holds. Sections follow Markdown headings (outside code fences; the heading line goes into `heading`, not the
 * text); inside a section, paragraphs
 * are packed up to `maxChars`, consecutive chunks overlap by about `overlapChars`, and a paragraph
 * longer than a chunk is cut at sentence or word boundaries.
 */

export interface ChunkOptions {
  /** Target maximum characters per chunk (default 1000). */
  maxChars?: number;
  /** Characters repeated from the end of one chunk at the start of the next in a section (default 150). */
  overlapChars?: number;
  /** Treat the text as Markdown (headings make sections). Default true. */
  markdown?: boolean;
}

export interface TextChunk {
  /** 0-based position of the chunk in its document. */
  index: number;
  /** Heading path, e.g. "Refund policy > Window"; "" before the first heading or in plain text. */
  heading: string;
  text: string;
  /** Character offsets in the original document: text === doc.slice(start, end). */
  start: number;
  end: number;
}

interface Section {
  heading: string;
  start: number;
  end: number;
}

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$/;
const FENCE = /^[ \t]{0,3}(```|~~~)/;

/** Sections of a Markdown document: each heading line starts one (it belongs to its section's text). */
function sections(doc: string, markdown: boolean): Section[] {
  if (!markdown) return [{ heading: "", start: 0, end: doc.length }];
  const out: Section[] = [];
  const path: string[] = [];
  let inFence = false;
  let current: Section = { heading: "", start: 0, end: doc.length };
  let pos = 0;
  while (pos <= doc.length) {
    const nl = doc.indexOf("\n", pos);
    const lineEnd = nl < 0 ? doc.length : nl;
    const line = doc.slice(pos, lineEnd);
    if (FENCE.test(line)) inFence = !inFence;
    const m = inFence ? null : HEADING.exec(line);
    if (m) {
      current.end = pos;
      if (current.end > current.start) out.push(current);
      const level = m[1].length;
      path.length = level - 1;
      path[level - 1] = m[2].trim();
      // The heading line itself is not chunk text: it is kept (and indexed) as the chunk's heading.
      current = { heading: path.filter((p) => p).join(" > "), start: lineEnd, end: doc.length };
    }
    if (nl < 0) break;
    pos = nl + 1;
  }
  current.end = doc.length;
  if (current.end > current.start) out.push(current);
  return out;
}

/** [start, end) spans of the paragraphs (text between blank lines) in doc[from, to). */
function paragraphs(doc: string, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  const re = /\n[ \t]*\n/g;
  re.lastIndex = from;
  let start = from;
  for (;;) {
    const m = re.exec(doc);
    const end = !m || m.index >= to ? to : m.index;
    const [s, e] = trimSpan(doc, start, end);
    if (e > s) out.push([s, e]);
    if (!m || m.index >= to) break;
    start = m.index + m[0].length;
  }
  return out;
}

function trimSpan(doc: string, s: number, e: number): [number, number] {
  while (s < e && /\s/.test(doc[s])) s++;
  while (e > s && /\s/.test(doc[e - 1])) e--;
  return [s, e];
}

/** A cut point near `target` (not after `limit`): after a sentence end, else at whitespace, else target. */
function cutPoint(doc: string, lo: number, target: number): number {
  const windowStart = Math.max(lo + 1, target - 200);
  for (let i = target; i > windowStart; i--) {
    if (/[.!?。！？]/.test(doc[i - 1]) && /\s/.test(doc[i] ?? " ")) return i;
  }
  for (let i = target; i > windowStart; i--) if (/\s/.test(doc[i - 1])) return i;
  return target;
}

/** Start of the overlap: about `overlap` characters before `end`, moved forward to a word start. */
function overlapStart(doc: string, start: number, end: number, overlap: number): number {
  if (overlap <= 0) return end;
  let s = Math.max(start + 1, end - overlap);
  while (s < end && !/\s/.test(doc[s - 1])) s++;
  while (s < end && /\s/.test(doc[s])) s++;
  return s >= end ? end : s;
}

export function chunkText(doc: string, options: ChunkOptions = {}): TextChunk[] {
  const maxChars = Math.max(50, options.maxChars ?? 1000);
  const overlap = Math.max(0, Math.min(options.overlapChars ?? 150, Math.floor(maxChars / 2)));
  const out: TextChunk[] = [];
  const push = (heading: string, s: number, e: number) => {
    const [ts, te] = trimSpan(doc, s, e);
    if (te > ts) out.push({ index: out.length, heading, text: doc.slice(ts, te), start: ts, end: te });
  };
  for (const sec of sections(doc, options.markdown !== false)) {
    const paras = paragraphs(doc, sec.start, sec.end);
    if (paras.length === 0) continue;
    // Windows over the section: [start, end) grown paragraph by paragraph.
    let start = paras[0][0];
    let end = start;
    for (const [ps, pe] of paras) {
      if (pe - start <= maxChars) {
        end = pe;
        continue;
      }
      if (end > start) {
        push(sec.heading, start, end);
        start = overlapStart(doc, start, end, overlap);
        if (start < ps && pe - start > maxChars) start = ps; // the overlap would not fit with this paragraph
      } else {
        start = ps;
      }
      // A paragraph longer than a chunk: cut it into pieces at sentence/word boundaries.
      while (pe - start > maxChars) {
        const cut = cutPoint(doc, start, start + maxChars);
        push(sec.heading, start, cut);
        const next = overlapStart(doc, start, cut, overlap);
        start = next > start ? next : cut;
      }
      end = pe;
    }
    if (end > start) push(sec.heading, start, end);
  }
  return out;
}
