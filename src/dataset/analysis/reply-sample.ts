/**
 * A bounded, deterministic sample of final replies (reservoir sampling with a fixed-seed PRNG), so the
 * reply shape (JSON schema, line template) of a big file can be inferred without keeping every reply.
 */
import { inferReplyShape, type ReplyShape } from "../../shape/index.js";
import { contentText, type SourcedExample } from "../types.js";

export class ReplySampler {
  private readonly sample: string[] = [];
  private seen = 0;
  private state: number;
  constructor(
    private readonly capacity = 2000,
    /** Replies longer than this are cut (a shape is visible in the first few KB). */
    private readonly maxChars = 4000,
    seed = 12345,
  ) {
    this.state = seed >>> 0 || 1;
  }
  private rand(): number {
    // xorshift32: deterministic, no Math.random.
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 4294967296;
  }
  add(reply: string): void {
    const r = reply.length > this.maxChars ? reply.slice(0, this.maxChars) : reply;
    this.seen++;
    if (this.sample.length < this.capacity) this.sample.push(r);
    else {
      const j = Math.floor(this.rand() * this.seen);
      if (j < this.capacity) this.sample[j] = r;
    }
  }
  shape(): ReplyShape {
    return inferReplyShape(this.sample);
  }
}

/** The text of the last assistant message (undefined when there is none). */
export function finalReply(ex: SourcedExample): string | undefined {
  const msgs = ex.example.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i].role === "assistant") return contentText(msgs[i].content);
  return undefined;
}
