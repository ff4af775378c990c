/**
 * Choosing the next token from logits: repetition penalty, temperature, top-k, top-p, with tunekit's
 * own seeded PRNG so the same seed gives the same text on every machine. Temperature 0 is greedy.
 */

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens (0 = off). */
  topK: number;
  /** Keep the smallest set whose probability reaches p (1 = off). */
  topP: number;
  /** > 1 discourages tokens already in the prompt or output (HF/CTRL style). */
  repetitionPenalty: number;
}

/** A small deterministic PRNG (mulberry32) seeded with a 32-bit integer. */
export class SeededRng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** HF-style: positive logits are divided by the penalty, negative ones multiplied (in place). */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= logits.length) continue;
    logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
  }
}

/**
 * The candidate tokens and their probabilities after temperature, top-k and top-p, most likely first.
 * Exposed for tests; `sampleToken` draws from it.
 */
export function candidateDistribution(logits: Float32Array, p: Pick<SamplingParams, "temperature" | "topK" | "topP">): { ids: number[]; probs: number[] } {
  const n = logits.length;
  let order = Array.from({ length: n }, (_, i) => i).filter((i) => logits[i] !== -Infinity);
  order.sort((a, b) => logits[b] - logits[a] || a - b);
  if (p.topK > 0 && p.topK < order.length) order = order.slice(0, p.topK);
  const max = logits[order[0]];
  let probs = order.map((i) => Math.exp((logits[i] - max) / p.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((x) => x / sum);
  if (p.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < p.topP) cum += probs[keep++];
    order = order.slice(0, Math.max(1, keep));
    probs = probs.slice(0, Math.max(1, keep));
    sum = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((x) => x / sum);
  }
  return { ids: order, probs };
}

/** Picks the next token. `seen` is the prompt + output so far (for the repetition penalty). */
export function sampleToken(logits: Float32Array, params: SamplingParams, rng: SeededRng, seen: number[]): number {
  let l = logits;
  if (params.repetitionPenalty !== 1) {
    l = new Float32Array(logits);
    applyRepetitionPenalty(l, seen, params.repetitionPenalty);
  }
  if (params.temperature <= 0) return argmax(l);
  const { ids, probs } = candidateDistribution(l, params);
  const u = rng.next();
  let cum = 0;
  for (let i = 0; i < ids.length; i++) {
    cum += probs[i];
    if (u < cum) return ids[i];
  }
  return ids[ids.length - 1];
}
