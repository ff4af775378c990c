/**
 * Text normalisation shared by the similarity metrics. SQuAD-style: lower case, punctuation and the
 * articles a/an/the removed, whitespace collapsed, so "The answer." and "answer" compare equal.
 */

const PUNCT = /[\p{P}\p{S}]/gu;
const ARTICLES = /\b(a|an|the)\b/g;

export function normalizeAnswer(s: string): string {
  return s.normalize("NFKC").toLowerCase().replace(PUNCT, " ").replace(ARTICLES, " ").replace(/\s+/g, " ").trim();
}

/** Tokens of the normalised text (whitespace split); [] for blank text. */
export function answerTokens(s: string): string[] {
  const n = normalizeAnswer(s);
  return n === "" ? [] : n.split(" ");
}

/** Plain words (for length ratios): whitespace-separated, no normalisation beyond trimming. */
export function wordCount(s: string): number {
  const t = s.trim();
  return t === "" ? 0 : t.split(/\s+/).length;
}
