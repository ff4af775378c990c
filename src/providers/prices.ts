/**
 * The shapes of the price and retirement facts each provider declares in its own `catalog.ts`, and the
 * arithmetic on them. Prices are public list prices in USD with the date they were read and where;
 * they change, so every estimate that uses one says its date, and users can override them.
 */

/** USD per 1M trained tokens (tokens x epochs) for base models whose id matches `match`. */
export interface TrainingPrice {
  /** Exact model id, or a RegExp over the lower-cased id. */
  match: string | RegExp;
  perMTok: number;
  /** Which models the row covers, in words ("open models up to 16B, LoRA"). */
  covers: string;
  asOf: string;
  source: string;
}

/** USD per 1M tokens of inference. */
export interface InferencePrice {
  match: string | RegExp;
  inputPerM: number;
  outputPerM: number;
  covers: string;
  asOf: string;
  source: string;
}

/** A date after which a hosted model (and every fine-tune of it) stops answering. */
export interface Retirement {
  match: string | RegExp;
  /** YYYY-MM-DD. */
  shutdownDate: string;
  covers: string;
  asOf: string;
  source: string;
}

/** Normalises a hosted model id for matching: lower case; `ft:BASE:org::id` -> BASE. */
export function baseModelKey(model: string): string {
  let m = model.trim().toLowerCase();
  if (m.startsWith("ft:")) m = m.slice(3).split(":")[0];
  return m;
}

/** The first row whose `match` fits the model (exact string, a dated snapshot of it, or the RegExp). */
export function findRow<T extends { match: string | RegExp }>(rows: readonly T[], model: string): T | undefined {
  const m = baseModelKey(model);
  for (const row of rows) {
    if (typeof row.match === "string") {
      const k = row.match.toLowerCase();
      if (m === k || m.replace(/-\d{4}-\d{2}-\d{2}$/, "") === k) return row;
    } else if (row.match.test(m)) return row;
  }
  return undefined;
}

/** USD for `tokens` at `perMTok`, rounded to 1/100 of a cent. */
export function costOf(tokens: number, perMTok: number): number {
  return Math.round((tokens / 1e6) * perMTok * 10000) / 10000;
}
