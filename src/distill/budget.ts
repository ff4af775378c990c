/**
 * `--max-cost`: money this run may spend on new calls (cached answers are free). A call is sent only
 * when what was spent, plus the worst case of every call in flight, plus its own worst case (its
 * input tokens, counted with o200k_base and given a margin for other tokenizers, and all of --max-tokens)
 * stays within the limit.
 */
import type { ChatMessage } from "../chat/types.js";
import { costOf, type Price } from "../eval/runner/types.js";
import { countChatTokens } from "../tokenize/chatTokens.js";
import { getOpenAiTokenizer } from "../tokenize/openai.js";
import { DEFAULT_TOKEN_MODEL } from "../tokenize/limits.js";

export class Budget {
  spent = 0;
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limitUsd: number | undefined) {}

  /**
   * Books `upToUsd` for a call about to be sent. While calls in flight hold the room it needs, it waits
   * for them to settle; false when the call could pass the limit even with nothing in flight.
   */
  async reserve(upToUsd: number): Promise<boolean> {
    for (;;) {
      if (this.limitUsd === undefined) break;
      if (this.spent + upToUsd > this.limitUsd + 1e-12) return false;
      if (this.spent + this.inFlight + upToUsd <= this.limitUsd + 1e-12) break;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    this.inFlight += upToUsd;
    return true;
  }

  /** A call settled: its booking is freed and `usd` (what it really cost) is spent. */
  settle(upToUsd: number, usd: number): void {
    this.inFlight -= upToUsd;
    this.spent += usd;
    for (const w of this.waiters.splice(0)) w();
  }

  get leftUsd(): number | undefined {
    return this.limitUsd === undefined ? undefined : Math.max(0, this.limitUsd - this.spent);
  }
}

/**
 * Input tokens of a chat call, counted with o200k_base plus OpenAI's per-message framing: exact for
 * OpenAI's current models, an estimate for others (their tokenizers differ by some percent).
 */
export function estimateInputTokens(messages: ChatMessage[]): number {
  return countChatTokens({ messages }, getOpenAiTokenizer(DEFAULT_TOKEN_MODEL as "o200k_base"));
}

/** Tokens of a text with the same tokenizer (reference replies, for the expected answer length). */
export function estimateTextTokens(text: string): number {
  return getOpenAiTokenizer(DEFAULT_TOKEN_MODEL as "o200k_base").count(text);
}

/** Other models' tokenizers count a text up to about this much higher than o200k_base does. */
const INPUT_MARGIN = 1.25;

/** What `inputTokens` prompt tokens and `outputTokens` answer tokens cost. 0 without a price (checked earlier). */
export function worstCaseUsd(price: Price | undefined, inputTokens: number, outputTokens: number): number {
  return costOf(price, inputTokens, outputTokens) ?? 0;
}

/** The most one call can cost, as the budget books it: its estimated input with the margin, and every token of --max-tokens. */
export function callUpToUsd(price: Price | undefined, estimatedInputTokens: number, maxTokens: number): number {
  return worstCaseUsd(price, Math.ceil(estimatedInputTokens * INPUT_MARGIN), maxTokens);
}
