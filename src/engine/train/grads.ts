/**
 * Gradient bookkeeping across micro-batches. The step graph returns the gradient of the loss SUMMED
 * over weighted tokens; the accumulator adds those sums over all micro-batches of an optimizer step and
 * divides once by the total number of assistant tokens. That makes `--grad-accum 4 --batch-size 1`
 * the same update as `--batch-size 4` (per-micro-batch averaging, a common bug, would weight short
 * examples more).
 */

export class GradAccumulator {
  private readonly sums = new Map<string, Float64Array>();
  private tokens = 0;
  private lossSum = 0;
  private micro = 0;

  /** Adds one micro-batch's summed gradients, loss sum and token count. */
  add(grads: Map<string, Float32Array>, lossSum: number, tokenCount: number): void {
    for (const [name, g] of grads) {
      let s = this.sums.get(name);
      if (!s) {
        s = new Float64Array(g.length);
        this.sums.set(name, s);
      }
      for (let i = 0; i < g.length; i++) s[i] += g[i];
    }
    this.tokens += tokenCount;
    this.lossSum += lossSum;
    this.micro++;
  }

  get tokenCount(): number {
    return this.tokens;
  }
  get microBatches(): number {
    return this.micro;
  }

  /** Mean loss per assistant token over everything added. */
  meanLoss(): number {
    return this.tokens > 0 ? this.lossSum / this.tokens : Number.NaN;
  }

  /** The per-token mean gradients (float32), then resets for the next optimizer step. */
  take(): { grads: Map<string, Float32Array>; loss: number; tokens: number } {
    const out = new Map<string, Float32Array>();
    const n = this.tokens;
    for (const [name, s] of this.sums) {
      const g = new Float32Array(s.length);
      if (n > 0) for (let i = 0; i < s.length; i++) g[i] = s[i] / n;
      out.set(name, g);
    }
    const result = { grads: out, loss: this.meanLoss(), tokens: n };
    this.sums.clear();
    this.tokens = 0;
    this.lossSum = 0;
    this.micro = 0;
    return result;
  }
}

/** The global L2 norm over all gradients (computed in float64). */
export function globalGradNorm(grads: Map<string, Float32Array>): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  return Math.sqrt(sq);
}

/**
 * Scales all gradients so their global norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  const norm = globalGradNorm(grads);
  if (!(maxNorm > 0)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    const c = Math.fround(coef);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * c);
  }
  return norm;
}
