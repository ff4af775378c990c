/**
 * tokenizer.json pre-tokenizers: Sequence, ByteLevel, Digits, Split (Isolated/Removed/
 * MergedWithPrevious/MergedWithNext), Metaspace, Whitespace, WhitespaceSplit.
 */
import { patternRegex } from "./patterns.js";
import { unsupported, type Emit, type Json, type PreTokenizer } from "./stage.js";

/** GPT-2's pre-tokenisation regex, used by the ByteLevel pre-tokenizer with use_regex. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export function buildPreTokenizer(p: Json | null | undefined, where: string): { fn: PreTokenizer; byteLevel: boolean } | undefined {
  if (!p) return undefined;
  switch (p.type) {
    case "Sequence": {
      const parts = (p.pretokenizers as Json[]).map((x) => buildPreTokenizer(x, where)).filter((x) => x !== undefined);
      const last: PreTokenizer = (s, atStart, emit) => emit(s, atStart);
      const chain = parts.reduceRight<PreTokenizer>((next, part) => (s, atStart, emit) => part!.fn(s, atStart, (q, qa) => next(q, qa, emit)), last);
      return { fn: chain, byteLevel: parts.some((x) => x!.byteLevel) };
    }
    case "ByteLevel": {
      // The byte-to-character mapping itself happens just before BPE (encodePiece), so caches can be
      // keyed by the raw text.
      const addPrefix = Boolean(p.add_prefix_space);
      const useRegex = p.use_regex !== false;
      const re = new RegExp(GPT2_SPLIT.source, "gu");
      return {
        byteLevel: true,
        fn: (piece, atStart, emit) => {
          if (addPrefix && !piece.startsWith(" ")) piece = " " + piece;
          if (!useRegex) emit(piece, atStart);
          else emitMatches(piece, re, atStart, emit);
        },
      };
    }
    case "Digits": {
      const re = p.individual_digits ? /\p{N}/gu : /\p{N}+/gu;
      return { byteLevel: false, fn: (s, atStart, emit) => splitIsolated(s, re, atStart, emit) };
    }
    case "Split": {
      const re = patternRegex(p.pattern, where);
      const behavior = String(p.behavior);
      if (p.invert) throw unsupported(where, "Split with invert", "Split with invert: false is supported");
      const fns: Record<string, PreTokenizer> = {
        Isolated: (s, a, emit) => splitIsolated(s, re, a, emit),
        Removed: (s, a, emit) => splitRemoved(s, re, a, emit),
        MergedWithPrevious: (s, a, emit) => splitMerged(s, re, "previous", a, emit),
        MergedWithNext: (s, a, emit) => splitMerged(s, re, "next", a, emit),
      };
      const f = fns[behavior];
      if (!f) throw unsupported(where, `Split behavior ${behavior}`, "supported: Isolated, Removed, MergedWithPrevious, MergedWithNext");
      return { byteLevel: false, fn: f };
    }
    case "Metaspace": {
      const rep = String(p.replacement ?? "\u2581");
      const scheme: string = p.prepend_scheme ?? (p.add_prefix_space === false ? "never" : "always");
      const split = p.split !== false;
      return {
        byteLevel: false,
        fn: (s, atStart, emit) => {
          let t = s.split(" ").join(rep);
          // "first": only text at the very start of the input gets the prefix.
          const prepend = scheme === "always" || (scheme === "first" && atStart);
          if (prepend && !t.startsWith(rep)) t = rep + t;
          if (!split) return emit(t, atStart);
          let begin = 0;
          for (let k = 1; k < t.length; k++) {
            if (t.startsWith(rep, k)) {
              emit(t.slice(begin, k), atStart && begin === 0);
              begin = k;
            }
          }
          emit(t.slice(begin), atStart && begin === 0);
        },
      };
    }
    case "Whitespace": {
      const re = /\w+|[^\w\s]+/gu;
      return { byteLevel: false, fn: (s, a, emit) => emitMatches(s, re, a, emit) };
    }
    case "WhitespaceSplit": {
      const re = /\S+/gu;
      return { byteLevel: false, fn: (s, a, emit) => emitMatches(s, re, a, emit) };
    }
    default:
      throw unsupported(where, `pre-tokenizer ${JSON.stringify(p.type)}`, "supported: Sequence, ByteLevel, Digits, Split, Metaspace, Whitespace, WhitespaceSplit");
  }
}

/**
 * Runs `re` (global) over s and calls `fn(start, end)` for each non-empty match, in order. The regex
 * position is kept in a local, so a callback that reuses the same regex cannot disturb the loop.
 */
export function forEachMatch(s: string, re: RegExp, fn: (start: number, end: number) => void): void {
  let pos = 0;
  while (pos <= s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (m === null) break;
    const end = m.index + m[0].length;
    if (end === m.index) {
      pos = end + 1;
      continue;
    }
    pos = end;
    fn(m.index, end);
  }
}

function emitMatches(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  forEachMatch(s, re, (a, b) => emit(a === 0 && b === s.length ? s : s.slice(a, b), atStart && a === 0));
}

function splitIsolated(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (a > last) emit(s.slice(last, a), atStart && last === 0);
    emit(s.slice(a, b), atStart && a === 0);
    last = b;
  });
  if (last < s.length) emit(last === 0 ? s : s.slice(last), atStart && last === 0);
}

function splitRemoved(s: string, re: RegExp, atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (a > last) emit(s.slice(last, a), atStart && last === 0);
    last = b;
  });
  if (last < s.length) emit(last === 0 ? s : s.slice(last), atStart && last === 0);
}

function splitMerged(s: string, re: RegExp, side: "previous" | "next", atStart: boolean, emit: Emit): void {
  let last = 0;
  forEachMatch(s, re, (a, b) => {
    if (side === "previous") {
      emit(s.slice(last, b), atStart && last === 0);
      last = b;
    } else {
      if (a > last) emit(s.slice(last, a), atStart && last === 0);
      last = a;
    }
  });
  if (last < s.length) emit(s.slice(last), atStart && last === 0);
}
