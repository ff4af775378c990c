/** tokenizer.json normalizers: Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip. */
import { patternRegex } from "./patterns.js";
import { unsupported, type Json, type Normalizer } from "./stage.js";

export function buildNormalizer(n: Json | null | undefined, where: string): Normalizer | undefined {
  if (!n) return undefined;
  switch (n.type) {
    case "Sequence": {
      const parts = (n.normalizers as Json[]).map((x) => buildNormalizer(x, where)).filter((x): x is Normalizer => x !== undefined);
      return (s) => parts.reduce((acc, f) => f(acc), s);
    }
    case "Prepend":
      return (s) => (s.length > 0 ? n.prepend + s : s);
    case "Replace": {
      const content = String(n.content);
      if (typeof n.pattern?.String === "string") {
        const from = n.pattern.String as string;
        return (s) => s.split(from).join(content);
      }
      const re = patternRegex(n.pattern, where);
      return (s) => s.replace(re, () => content);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return (s) => s.normalize(n.type);
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Strip":
      return (s) => {
        let r = s;
        if (n.strip_left !== false) r = r.replace(/^\s+/u, "");
        if (n.strip_right !== false) r = r.replace(/\s+$/u, "");
        return r;
      };
    default:
      throw unsupported(where, `normalizer ${JSON.stringify(n.type)}`, "supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip");
  }
}
