/** tokenizer.json decoders: token strings -> text pieces (ByteLevel, Metaspace, Sequence, Replace, ByteFallback, Fuse, Strip). */
import { CHAR_TO_BYTE } from "../byteLevel.js";
import { patternRegex } from "./patterns.js";
import { unsupported, type Decoder, type Json } from "./stage.js";

const utf8 = new TextDecoder("utf-8");

export function buildDecoder(d: Json | null | undefined, where: string): Decoder {
  if (!d) return (tokens) => tokens;
  switch (d.type) {
    case "Sequence": {
      const parts = (d.decoders as Json[]).map((x) => buildDecoder(x, where));
      return (tokens) => parts.reduce((acc, f) => f(acc), tokens);
    }
    case "ByteLevel":
      return (tokens) => {
        const bytes: number[] = [];
        for (const t of tokens) {
          const start = bytes.length;
          let ok = true;
          for (const ch of t) {
            const b = CHAR_TO_BYTE.get(ch);
            if (b === undefined) {
              ok = false;
              break;
            }
            bytes.push(b);
          }
          if (!ok) {
            // A token outside the byte table (some added tokens) stands for its own UTF-8 text.
            bytes.length = start;
            for (const b of Buffer.from(t, "utf8")) bytes.push(b);
          }
        }
        return [utf8.decode(Uint8Array.from(bytes))];
      };
    case "Replace": {
      const re = patternRegex(d.pattern, where);
      const content = String(d.content);
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case "ByteFallback":
      return (tokens) => {
        const out: string[] = [];
        let pending: number[] = [];
        const flush = () => {
          if (pending.length === 0) return;
          // Invalid UTF-8 becomes one U+FFFD per byte, as `tokenizers` does.
          const bytes = Uint8Array.from(pending);
          const text = new TextDecoder("utf-8", { fatal: true });
          try {
            out.push(text.decode(bytes));
          } catch {
            out.push("\uFFFD".repeat(pending.length));
          }
          pending = [];
        };
        for (const t of tokens) {
          const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
          if (m) pending.push(parseInt(m[1], 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const c = String(d.content);
      const start = Number(d.start ?? 0);
      const stop = Number(d.stop ?? 0);
      return (tokens) =>
        tokens.map((t) => {
          let s = t;
          for (let k = 0; k < start && s.startsWith(c); k++) s = s.slice(c.length);
          for (let k = 0; k < stop && s.endsWith(c); k++) s = s.slice(0, s.length - c.length);
          return s;
        });
    }
    case "Metaspace": {
      const rep = String(d.replacement ?? "▁");
      const scheme: string = d.prepend_scheme ?? (d.add_prefix_space === false ? "never" : "always");
      return (tokens) =>
        tokens.map((t, i) => {
          let s = t.split(rep).join(" ");
          if (i === 0 && scheme !== "never" && s.startsWith(" ")) s = s.slice(1);
          return s;
        });
    }
    default:
      throw unsupported(where, `decoder ${JSON.stringify(d.type)}`, "supported: ByteLevel, Metaspace, Sequence, Replace, ByteFallback, Fuse, Strip");
  }
}
