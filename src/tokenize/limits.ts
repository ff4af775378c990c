/**
 * Per-example token limits of OpenAI fine-tuning: an example longer than this is truncated by the job.
 *
 * Sources (checked November 2026 from memory of the pages; re-check when OpenAI changes them):
 * - OpenAI fine-tuning guide, "Token limits": gpt-4o-2024-08-06 and gpt-4o-mini-2024-07-18: 65,536
 *   tokens per training example (inference context 128,000); gpt-3.5-turbo-0125 and -1106: 16,385;
 *   gpt-3.5-turbo-0613: 4,096; gpt-4-0613: 8,192; babbage-002 / davinci-002: 16,384.
 * - gpt-4.1 family (gpt-4.1-2025-04-14, gpt-4.1-mini-2025-04-14, gpt-4.1-nano-2025-04-14): 65,536 per
 *   example, the same training context as gpt-4o in the guide's table as we remember it; NOT verified
 *   against the live page from this offline machine. Users can override with an explicit limit.
 * - The openai-cookbook notebook "Chat_finetuning_data_prep" uses 16,385 for gpt-3.5-turbo.
 */

/**
 * What `validate` and `stats` count with when no `--model` is named: OpenAI's o200k_base encoding (its
 * counts are within a few percent of the open models' byte-level BPE tokenizers on English chat), and
 * the per-example limit they enforce: 32,768 tokens, the longest training example Together and
 * Fireworks take for the small (8B) open models. `--model` gives the exact tokenizer and limit.
 */
export const DEFAULT_TOKEN_MODEL = "o200k_base";
export const DEFAULT_EXAMPLE_TOKEN_LIMIT = 32_768;

export interface FineTuneLimit {
  /** Model name prefix the row applies to (longest match wins). */
  model: string;
  /** Maximum tokens per training example. */
  maxTokensPerExample: number;
}

export const OPENAI_FINE_TUNE_LIMITS: readonly FineTuneLimit[] = [
  { model: "gpt-4.1-2025-04-14", maxTokensPerExample: 65_536 },
  { model: "gpt-4.1-mini-2025-04-14", maxTokensPerExample: 65_536 },
  { model: "gpt-4.1-nano-2025-04-14", maxTokensPerExample: 65_536 },
  { model: "gpt-4.1", maxTokensPerExample: 65_536 },
  { model: "gpt-4o-2024-08-06", maxTokensPerExample: 65_536 },
  { model: "gpt-4o-mini-2024-07-18", maxTokensPerExample: 65_536 },
  { model: "gpt-4o", maxTokensPerExample: 65_536 },
  { model: "gpt-4-0613", maxTokensPerExample: 8_192 },
  { model: "gpt-3.5-turbo-0125", maxTokensPerExample: 16_385 },
  { model: "gpt-3.5-turbo-1106", maxTokensPerExample: 16_385 },
  { model: "gpt-3.5-turbo-0613", maxTokensPerExample: 4_096 },
  { model: "gpt-3.5-turbo", maxTokensPerExample: 16_385 },
  { model: "babbage-002", maxTokensPerExample: 16_384 },
  { model: "davinci-002", maxTokensPerExample: 16_384 },
];

/**
 * The per-example token limit for fine-tuning `model` (also for `ft:BASE:org::id` names, which are
 * fine-tuned again on BASE), or undefined if the model is not in the table.
 */
export function fineTuneTokenLimit(model: string): number | undefined {
  let m = model.trim().toLowerCase();
  if (m.startsWith("ft:")) m = m.slice(3).split(":")[0];
  let best: FineTuneLimit | undefined;
  for (const row of OPENAI_FINE_TUNE_LIMITS) {
    if (m.startsWith(row.model) && (!best || row.model.length > best.model.length))
      best = row;
  }
  return best?.maxTokensPerExample;
}
