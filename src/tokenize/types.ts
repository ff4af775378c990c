/**
 * What the rest of tunekit needs from a tokenizer. Implementations: OpenAI encodings (o200k_base,
 * cl100k_base) and Hugging Face tokenizer.json files.
 */
export interface Tokenizer {
  /** e.g. "o200k_base" or the model folder / hub id. */
  readonly name: string;
  readonly vocabSize: number;
  /** Token ids for `text`. Special tokens written in the text are recognised only when `allowSpecial`. */
  encode(text: string, options?: { addSpecialTokens?: boolean; allowSpecial?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
  /** Number of tokens in `text` (may be faster than encode().length). */
  count(text: string): number;
  /**
   * Like count, for texts that are likely to recur whole (system prompts, tool definitions): an
   * implementation may remember their counts. Optional; callers fall back to count.
   */
  countRepeated?(text: string): number;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  /** Ids that end generation (EOS and, for chat models, the end-of-turn token). */
  readonly stopTokenIds: number[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}
