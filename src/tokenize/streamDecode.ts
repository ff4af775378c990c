/**
 * Streaming decode for generation: feed token ids one at a time and get back only text made of
 * complete characters. A byte-level token can end in the middle of a UTF-8 character (an emoji is
 * often 2-4 tokens), and byte-fallback tokens are single bytes; decoding them alone would print
 * U+FFFD. The decoder holds such text back until the character is complete.
 *
 * Method: decode a small window twice, the ids already shown (from `prefixOffset` to `readOffset`) and
 * the same plus the new ones, and emit the difference. Decoding with the same start keeps decoders
 * that strip a leading space (SentencePiece "▁") consistent, and the window keeps the cost linear.
 */
import type { Tokenizer } from "./types.js";

export class StreamDecoder {
  private ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly options: { skipSpecialTokens?: boolean } = {},
  ) {}

  /** Adds one token id; returns the newly completed text ("" while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const newText = this.decodeRange(this.prefixOffset, this.ids.length);
    if (newText.length > prefixText.length && !newText.endsWith("\uFFFD")) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return newText.slice(prefixText.length);
    }
    return "";
  }

  /** Text still held back (an incomplete character at the end of generation decodes as U+FFFD). */
  flush(): string {
    const prefixText = this.decodeRange(this.prefixOffset, this.readOffset);
    const newText = this.decodeRange(this.prefixOffset, this.ids.length);
    this.prefixOffset = this.readOffset = this.ids.length;
    return newText.length > prefixText.length ? newText.slice(prefixText.length) : "";
  }

  /** All ids pushed so far. */
  get tokenIds(): readonly number[] {
    return this.ids;
  }

  private decodeRange(start: number, end: number): string {
    if (end <= start) return "";
    return this.tokenizer.decode(this.ids.slice(start, end), this.options);
  }
}
