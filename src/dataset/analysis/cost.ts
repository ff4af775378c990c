/**
 * What a hosted fine-tuning run bills: OpenAI's default epoch rule and training prices per million
 * tokens. Prices change; users override them with --price-per-mtok or a JSON price file.
 */

/** USD per 1M training tokens, from openai.com/api/pricing as of 2025-06 (PRICES_AS_OF). */
export const TRAINING_PRICES_PER_MTOK: Record<string, number> = {
  "gpt-4o-mini-2024-07-18": 3.0,
  "gpt-4o-2024-08-06": 25.0,
  "gpt-4.1-2025-04-14": 25.0,
  "gpt-4.1-mini-2025-04-14": 5.0,
  "gpt-4.1-nano-2025-04-14": 1.5,
  "gpt-3.5-turbo-0125": 8.0,
};
export const PRICES_AS_OF = "2025-06";

/** Aliases users type ("gpt-4.1-mini", "gpt-4o-mini", "gpt-3.5-turbo") resolved to the table's snapshot names. */
export function trainingPricePerMTok(model: string, overrides: Record<string, number> = {}): number | undefined {
  let m = model.trim().toLowerCase();
  if (m.startsWith("ft:")) m = m.slice(3).split(":")[0];
  const table = { ...TRAINING_PRICES_PER_MTOK, ...lowerKeys(overrides) };
  if (table[m] !== undefined) return table[m];
  // Longest table key that the name is a prefix of, or that is a prefix of the name.
  const keys = Object.keys(table).sort((a, b) => b.length - a.length);
  for (const k of keys) if (k.startsWith(m + "-") || m.startsWith(k)) return table[k];
  return undefined;
}

function lowerKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * OpenAI's default number of epochs for n examples, as the cookbook computes it: 3, raised to
 * min(25, floor(100 / n)) when 3n < 100, lowered to max(1, floor(25000 / n)) when 3n > 25000.
 */
export function defaultEpochs(n: number): number {
  if (n <= 0) return 0;
  if (3 * n < 100) return Math.min(25, Math.floor(100 / n));
  if (3 * n > 25000) return Math.max(1, Math.floor(25000 / n));
  return 3;
}

export interface HostedCost {
  model?: string;
  examples: number;
  epochs: number;
  /** Sum of per-example tokens, each capped at the model's per-example limit. */
  datasetTokens: number;
  billedTokens: number;
  pricePerMTok?: number;
  /** USD, when a price is known. */
  cost?: number;
  pricesAsOf: string;
}

export function estimateHostedCost(args: {
  examples: number;
  datasetTokens: number;
  model?: string;
  pricePerMTok?: number;
  epochs?: number;
  priceOverrides?: Record<string, number>;
}): HostedCost {
  const epochs = args.epochs ?? defaultEpochs(args.examples);
  const billed = epochs * args.datasetTokens;
  const price = args.pricePerMTok ?? (args.model ? trainingPricePerMTok(args.model, args.priceOverrides) : undefined);
  const out: HostedCost = {
    examples: args.examples,
    epochs,
    datasetTokens: args.datasetTokens,
    billedTokens: billed,
    pricesAsOf: PRICES_AS_OF,
  };
  if (args.model) out.model = args.model;
  if (price !== undefined) {
    out.pricePerMTok = price;
    out.cost = Math.round((billed / 1e6) * price * 10000) / 10000;
  }
  return out;
}
