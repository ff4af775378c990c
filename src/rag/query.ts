/**
 * Turns a user's question into a safe FTS5 MATCH expression. User text never reaches MATCH as syntax:
 * it is split into words (letters and digits only), each word becomes a quoted string, and the words
 * are OR-ed so BM25 ranks chunks by how many (and how rare) of them they contain. Quotes, AND/OR/NOT,
 * `*`, `-`, `:` and parentheses in the question are therefore plain text, never operators.
 *
 * Han, Hiragana, Katakana and Hangul are written without spaces, so words cannot be found by
 * splitting; those runs are searched in a trigram index with every 3-character piece of the run.
 */

const STOPWORDS = new Set(
  "a an and are as at be but by can could did do does for from had has have how i if in into is it its may me my no not of on or our should so than that the their them then there these they this to was we were what when where which who why will with would you your".split(
    " ",
  ),
);

const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;

const quote = (term: string) => `"${term.replace(/"/g, '""')}"`;

export interface ParsedQuery {
  /** MATCH expression for the word index (unicode61), or undefined when there are no words. */
  words?: string;
  /** MATCH expression for the trigram index (CJK), or undefined. */
  trigrams?: string;
}

export function parseQuestion(question: string): ParsedQuery {
  const text = question.normalize("NFKC");
  const words = (text.replace(CJK_RUN, " ").match(/[\p{L}\p{N}]+/gu) ?? []).map((w) => w.toLowerCase());
  const content = words.filter((w) => !STOPWORDS.has(w));
  const chosen = [...new Set(content.length > 0 ? content : words)];
  const grams = new Set<string>();
  for (const run of text.match(CJK_RUN) ?? []) {
    const chars = [...run];
    if (chars.length < 3) continue; // trigram search needs 3 characters; shorter runs cannot be matched
    for (let i = 0; i + 3 <= chars.length; i++) grams.add(chars.slice(i, i + 3).join(""));
  }
  return {
    ...(chosen.length > 0 ? { words: chosen.map(quote).join(" OR ") } : {}),
    ...(grams.size > 0 ? { trigrams: [...grams].map(quote).join(" OR ") } : {}),
  };
}
