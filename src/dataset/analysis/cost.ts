/**
 * What a hosted fine-tuning run bills: epochs x tokens, at a price the caller brings (the providers'
 * prices live in src/providers/catalog.ts). OpenAI's default epoch rule is kept here because hosted
 * estimates without an explicit epoch count follow it.
 */

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
  /** Sum of per-example tokens, each capped at the per-example limit. */
  datasetTokens: number;
  billedTokens: number;
  pricePerMTok?: number;
  /** USD, when a price is known. */
  cost?: number;
  /** When the price was read (YYYY-MM-DD); absent without a price. */
  pricesAsOf?: string;
}

export function estimateHostedCost(args: {
  examples: number;
  datasetTokens: number;
  model?: string;
  /** USD per 1M trained tokens. */
  pricePerMTok?: number;
  pricesAsOf?: string;
  epochs?: number;
}): HostedCost {
  const epochs = args.epochs ?? defaultEpochs(args.examples);
  const billed = epochs * args.datasetTokens;
  const out: HostedCost = { examples: args.examples, epochs, datasetTokens: args.datasetTokens, billedTokens: billed };
  if (args.model) out.model = args.model;
  if (args.pricePerMTok !== undefined) {
    out.pricePerMTok = args.pricePerMTok;
    out.cost = Math.round((billed / 1e6) * args.pricePerMTok * 10000) / 10000;
    if (args.pricesAsOf) out.pricesAsOf = args.pricesAsOf;
  }
  return out;
}
