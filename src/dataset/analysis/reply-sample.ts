/**
 * A bounded, deterministic sample of final replies (reservoir sampling with a fixed-seed PRNG), so the
 * reply shape (JSON schema, line template) of a big file can be inferred without keeping every reply.
 */
import { inferReplyShape, type ReplyShape } from "../../shape/index.js";
import { contentText, type SourcedExample } from "../types.js";
import { Reservoir } from "../../util/random.js";

export class ReplySampler {
  private readonly sample: Reservoir<string>;
  constructor(
    capacity = 2000,
    /** Replies longer than this are cut (a shape is visible in the first few KB). */
    maxChars = 4000,
    seed = 12345,
  ) {
    this.sample = new Reservoir<string>(capacity, maxChars, seed);
  }
  add(reply: string): void {
    this.sample.add(reply);
  }
  shape(): ReplyShape {
    return inferReplyShape(this.sample.items());
  }
}

/** The text of the last assistant message (undefined when there is none). */
export function finalReply(ex: SourcedExample): string | undefined {
  const msgs = ex.example.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i].role === "assistant") return contentText(msgs[i].content);
  return undefined;
}
