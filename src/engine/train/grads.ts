/**
 * Gradient bookkeeping across micro-batches. The step graph returns the gradient of the loss SUMMED
 * over weighted tokens; the accumulator adds those sums over all micro-batches of an optimizer step and
 * divides once by the total number of assistant tokens. That makes `--grad-accum 4 --batch-size 1`
 * the same update as `--batch-size 4` (per-micro-batch averaging, a common bug, would weight short
 * examples more).
 */

export class GradAccumulator {
  private readonly sums = new Map<string, Float64Array>();
  /** The only micro-batch's gradients so far, kept as they came (no float64 copy for the common case). */
  private first: Map<string, Float32Array> | undefined;
  private tokens = 0;
  private lossSum = 0;
  private micro = 0;

  /** Adds one micro-batch's summed gradients (the accumulator may keep the arrays), loss sum and token count. */
  add(grads: Map<string, Float32Array>, lossSum: number, tokenCount: number): void {
    this.tokens += tokenCount;
    this.lossSum += lossSum;
    this.micro++;
    if (this.micro === 1) {
      this.first = grads;
      return;
    }
    if (this.first) {
      const first = this.first;
      this.first = undefined;
      this.addToSums(first);
    }
    this.addToSums(grads);
  }

  private addToSums(grads: Map<string, Float32Array>): void {
    for (const [name, g] of grads) {
      let s = this.sums.get(name);
      if (!s) {
        s = new Float64Array(g.length);
        this.sums.set(name, s);
      }
      for (let i = 0; i < g.length; i++) s[i] += g[i];
    }
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
    const { grads, divisor, loss, tokens } = this.takeSums();
    if (divisor !== 1) {
      for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i] / divisor;
    }
    return { grads, loss, tokens };
  }

  /**
   * The gradients and the divisor that makes them per-token means (f32(g / divisor), as AdamW's
   * gradDivisor applies it), then resets. With one micro-batch these are its own float32 sums and the
   * token count, so no pass over them is needed here; with several, the float64 sums already divided
   * (divisor 1).
   */
  takeSums(): { grads: Map<string, Float32Array>; divisor: number; loss: number; tokens: number } {
    const n = this.tokens;
    let grads: Map<string, Float32Array>;
    let divisor = 1;
    if (this.first) {
      grads = this.first;
      if (n > 0) divisor = n;
      else for (const g of grads.values()) g.fill(0);
    } else {
      grads = new Map();
      for (const [name, s] of this.sums) {
        const g = new Float32Array(s.length);
        if (n > 0) for (let i = 0; i < s.length; i++) g[i] = s[i] / n;
        grads.set(name, g);
      }
    }
    const result = { grads, divisor, loss: this.meanLoss(), tokens: n };
    this.first = undefined;
    this.sums.clear();
    this.tokens = 0;
    this.lossSum = 0;
    this.micro = 0;
    return result;
  }
}

/**
 * The global norm of the per-token mean gradients f32(g / divisor) (computed in float64) and the
 * coefficient clipping to `maxNorm` would scale them by (torch.nn.utils.clip_grad_norm_: maxNorm /
 * (norm + 1e-6) as float32 when below 1, else 1): clipGradNorm's numbers without writing the gradients,
 * for AdamW to apply in its own pass.
 */
export function gradClip(grads: Map<string, Float32Array>, divisor: number, maxNorm: number): { norm: number; clip: number } {
  let sq = 0;
  const f = Math.fround;
  for (const g of grads.values()) {
    if (divisor === 1) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    else
      for (let i = 0; i < g.length; i++) {
        const x = f(g[i] / divisor);
        sq += x * x;
      }
  }
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  return { norm, clip: maxNorm > 0 && coef < 1 ? f(coef) : 1 };
}

/**
 * Scales all gradients so their global norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
 * coefficient maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
 */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  const { norm, clip } = gradClip(grads, 1, maxNorm);
  if (clip !== 1) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = Math.fround(g[i] * clip);
  return norm;
}
