/**
 * Similarity of a reply to its reference: exact match, token F1 (SQuAD) and chrF. All scores are in
 * [0, 1]; reports print them as points (x100).
 */
import { answerTokens, normalizeAnswer, wordCount } from "./text.js";

/** 1 when the normalised texts are equal, else 0. */
export function exactMatch(prediction: string, reference: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(reference) ? 1 : 0;
}

/**
 * SQuAD token F1: harmonic mean of precision and recall of the multiset of normalised tokens.
 * Two empty texts score 1; one empty text scores 0.
 */
export function tokenF1(prediction: string, reference: string): number {
  const p = answerTokens(prediction);
  const r = answerTokens(reference);
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

function charNgrams(chars: string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = chars.slice(i, i + n).join("");
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

export interface ChrfOptions {
  /** Longest character n-gram (default 6). */
  order?: number;
  /** Recall weight (default 2: recall counts twice as much as precision). */
  beta?: number;
}

/**
 * chrF (Popović 2015) as sacrebleu 2 computes it: whitespace is removed, and for each n in 1..order
 * with n-grams on both sides the F-beta of clipped n-gram precision and recall is taken; the score is
 * the mean over those orders. Two identical texts score 1, texts with no shared character score 0.
 */
export function chrF(prediction: string, reference: string, options: ChrfOptions = {}): number {
  const order = options.order ?? 6;
  const beta2 = (options.beta ?? 2) ** 2;
  const hyp = Array.from(prediction.replace(/\s+/gu, ""));
  const ref = Array.from(reference.replace(/\s+/gu, ""));
  if (hyp.length === 0 || ref.length === 0) return hyp.length === ref.length ? 1 : 0;
  let sum = 0;
  let orders = 0;
  for (let n = 1; n <= order; n++) {
    const h = charNgrams(hyp, n);
    const r = charNgrams(ref, n);
    let hTotal = 0;
    let rTotal = 0;
    let match = 0;
    for (const c of h.values()) hTotal += c;
    for (const c of r.values()) rTotal += c;
    if (hTotal === 0 || rTotal === 0) continue;
    for (const [g, c] of h) match += Math.min(c, r.get(g) ?? 0);
    orders++;
    const precision = match / hTotal;
    const recall = match / rTotal;
    const denom = beta2 * precision + recall;
    sum += denom > 0 ? ((1 + beta2) * precision * recall) / denom : 0;
  }
  return orders === 0 ? 0 : sum / orders;
}

/** Reply length over reference length in words (Infinity-safe: a blank reference gives null). */
export function lengthRatio(prediction: string, reference: string): number | null {
  const r = wordCount(reference);
  if (r === 0) return null;
  return wordCount(prediction) / r;
}
