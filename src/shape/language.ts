/**
 * A cheap language guess for consistency checks (is every reply in the same language?): the script for
 * non-Latin text, common function words for Latin-script languages. Good for "en vs de vs es", not a
 * general language identifier; "und" when unsure.
 */

const STOPWORDS: Record<string, string[]> = {
  en: ["the", "and", "is", "to", "of", "you", "your", "it", "for", "that", "with", "this", "are", "in", "be", "we", "can", "not", "will", "have", "a", "i", "on", "at", "my", "or", "as", "but", "if", "was", "please"],
  de: ["der", "die", "und", "ist", "das", "nicht", "sie", "ich", "zu", "mit", "ein", "eine", "den", "es", "auf", "für", "wir", "ihr", "bitte", "sich"],
  fr: ["le", "la", "les", "et", "est", "vous", "pas", "une", "des", "pour", "que", "dans", "nous", "votre", "sur", "avec", "ce", "il", "je", "du"],
  es: ["el", "la", "los", "las", "y", "es", "que", "de", "en", "por", "para", "su", "una", "con", "no", "usted", "se", "del", "lo", "su"],
  pt: ["o", "a", "os", "as", "e", "é", "que", "de", "em", "para", "você", "uma", "com", "não", "do", "da", "seu", "sua", "por", "se"],
  it: ["il", "la", "e", "è", "che", "di", "per", "non", "una", "con", "del", "della", "sono", "lo", "gli", "le", "si", "ci", "suo", "anche"],
  nl: ["de", "het", "en", "is", "een", "van", "niet", "je", "u", "met", "op", "voor", "dat", "zijn", "ik", "we", "uw", "te", "er", "ook"],
};

const WORD_LANG = new Map<string, string[]>();
for (const [lang, words] of Object.entries(STOPWORDS)) {
  for (const w of words) {
    const l = WORD_LANG.get(w);
    if (l) l.push(lang);
    else WORD_LANG.set(w, [lang]);
  }
}

const SCRIPTS: [RegExp, string][] = [
  [/[\u3040-\u30ff]/g, "ja"],
  [/[\uac00-\ud7af]/g, "ko"],
  [/[\u4e00-\u9fff]/g, "zh"],
  [/[\u0400-\u04ff]/g, "ru"],
  [/[\u0600-\u06ff]/g, "ar"],
  [/[\u0590-\u05ff]/g, "he"],
  [/[\u0900-\u097f]/g, "hi"],
  [/[\u0e00-\u0e7f]/g, "th"],
  [/[\u0370-\u03ff]/g, "el"],
];

/** ISO 639-1 code of the text's most likely language, or "und". Looks at the first 600 characters. */
export function guessLanguage(text: string): string {
  const t = text.length > 600 ? text.slice(0, 600) : text;
  // Non-ASCII text: check the scripts first (a cheap test keeps plain English off this path).
  let ascii = true;
  for (let i = 0; i < t.length; i++) {
    if (t.charCodeAt(i) > 127) {
      ascii = false;
      break;
    }
  }
  if (!ascii) {
    const letters = (t.match(/\p{L}/gu) ?? []).length;
    if (letters === 0) return "und";
    for (const [re, lang] of SCRIPTS) {
      const n = (t.match(re) ?? []).length;
      if (n / letters > 0.3) return lang;
    }
  }
  const scores: Record<string, number> = {};
  let words = 0;
  const lower = t.toLowerCase();
  const add = (w: string) => {
    words++;
    const langs = WORD_LANG.get(w);
    if (langs) for (const lang of langs) scores[lang] = (scores[lang] ?? 0) + 1;
  };
  if (ascii) {
    let start = -1;
    for (let i = 0; i <= lower.length; i++) {
      const c = i < lower.length ? lower.charCodeAt(i) : 32;
      const letter = c >= 97 && c <= 122;
      if (letter && start < 0) start = i;
      else if (!letter && start >= 0) {
        add(lower.slice(start, i));
        start = -1;
      }
    }
  } else {
    for (const w of lower.match(/\p{L}+/gu) ?? []) add(w);
  }
  if (words === 0) return "und";
  let best = "und";
  let bestScore = 0;
  let second = 0;
  for (const [lang, s] of Object.entries(scores)) {
    if (s > bestScore) {
      second = bestScore;
      bestScore = s;
      best = lang;
    } else if (s > second) second = s;
  }
  // Too few function words (code, lists of names, one-word replies): don't guess.
  if (bestScore < 2 || bestScore < words * 0.08 || bestScore === second) return "und";
  return best;
}
