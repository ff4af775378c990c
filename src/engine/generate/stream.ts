/**
 * Streams a completion's text while it is generated, so `tunekit generate` prints as it goes. Emitted
 * pieces always concatenate to a prefix of the final text: incomplete characters are held back (the
 * tokenizer's StreamDecoder), and so is any tail that could be the start of a stop string, since the
 * final text is cut before a stop string.
 */
import { StreamDecoder } from "../../tokenize/streamDecode.js";
import type { Tokenizer } from "../../tokenize/types.js";

export class TextStreamer {
  private readonly decoder: StreamDecoder;
  /** Decoded text so far (complete characters). */
  private text = "";
  /** How much of `text` has been emitted. */
  private emitted = 0;
  private stopped = false;

  constructor(
    tokenizer: Tokenizer,
    private readonly stops: string[],
    private readonly stopTokenIds: number[],
    private readonly emit: (piece: string) => void,
  ) {
    this.decoder = new StreamDecoder(tokenizer, { skipSpecialTokens: true });
  }

  push(id: number): void {
    if (this.stopped || this.stopTokenIds.includes(id)) return;
    this.text += this.decoder.push(id);
    let safe = this.text.length;
    for (const s of this.stops) {
      const at = this.text.indexOf(s, Math.max(0, this.emitted - s.length + 1));
      if (at >= 0) {
        safe = Math.min(safe, at);
        this.stopped = true;
      }
      // Hold back a tail that is a proper prefix of this stop string.
      for (let k = Math.min(s.length - 1, this.text.length); k > 0; k--) {
        if (this.text.endsWith(s.slice(0, k))) {
          safe = Math.min(safe, this.text.length - k);
          break;
        }
      }
    }
    if (safe > this.emitted) {
      this.emit(this.text.slice(this.emitted, safe));
      this.emitted = safe;
    }
  }

  /** Emits whatever of the final text has not been emitted yet. */
  finish(finalText: string): void {
    if (finalText.length > this.emitted && finalText.startsWith(this.text.slice(0, this.emitted))) {
      this.emit(finalText.slice(this.emitted));
      this.emitted = finalText.length;
    }
  }
}
