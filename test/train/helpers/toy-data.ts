/** Small tokenized datasets for loop tests: a prompt, a separator, then a reply that counts upward. */
import type { TokenizedExample } from "../../../src/engine/train/batches.js";
import { Rng } from "../../../src/engine/train/rng.js";

export function countingExamples(n: number, seed: number, opts: { vocab?: number; step?: number } = {}): TokenizedExample[] {
  const V = opts.vocab ?? 16;
  const inc = opts.step ?? 1;
  const rng = new Rng(seed);
  const out: TokenizedExample[] = [];
  for (let k = 0; k < n; k++) {
    const promptLen = 1 + rng.nextInt(4);
    const replyLen = 2 + rng.nextInt(5);
    const ids = [1];
    const lossMask = [0];
    for (let i = 0; i < promptLen; i++) {
      ids.push(3 + rng.nextInt(V - 3));
      lossMask.push(0);
    }
    ids.push(2);
    lossMask.push(0);
    let x = 3 + rng.nextInt(V - 3);
    for (let i = 0; i < replyLen; i++) {
      ids.push(x);
      lossMask.push(1);
      x = 3 + ((x - 3 + inc) % (V - 3));
    }
    out.push({ ids, lossMask, line: k + 1 });
  }
  return out;
}
