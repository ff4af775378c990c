/**
 * AdamW over Float32Array parameters (the LoRA weights: a few hundred thousand numbers, so JS is fast
 * enough). It follows torch.optim.AdamW step for step, rounding to float32 after each operation as
 * PyTorch's float32 kernels do, so a committed PyTorch fixture can check it closely:
 *   p <- p * (1 - lr * wd)                         (decoupled weight decay)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const defaultAdamW: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** What a checkpoint keeps of the optimizer. */
export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

const f = Math.fround;

export class AdamW {
  readonly options: AdamWOptions;
  private stepCount = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  constructor(options: Partial<AdamWOptions> = {}) {
    this.options = { ...defaultAdamW, ...options };
  }

  get step(): number {
    return this.stepCount;
  }

  /** One update of every parameter in `params` with the matching gradient, at learning rate `lr`. */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.options;
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(beta2, t);
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    const decay = f(1 - lr * weightDecay);
    const a1 = f(1 - beta1);
    const a2 = f(1 - beta2);
    const b1 = f(beta1);
    const b2 = f(beta2);
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for ${name}`);
      if (g.length !== p.length) throw new Error(`AdamW: gradient for ${name} has ${g.length} values, parameter ${p.length}`);
      let m = this.m.get(name);
      let v = this.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.m.set(name, m);
        this.v.set(name, v);
      }
      for (let i = 0; i < p.length; i++) {
        const gi = g[i];
        const pi = weightDecay !== 0 ? f(p[i] * decay) : p[i];
        const mi = f(f(m[i] * b1) + f(gi * a1));
        const vi = f(f(v[i] * b2) + f(f(gi * gi) * a2));
        m[i] = mi;
        v[i] = vi;
        const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
        p[i] = f(pi - f(stepSize * f(mi / denom)));
      }
    }
  }

  /** The optimizer state (live references; copy before mutating). */
  state(): AdamWState {
    return { step: this.stepCount, m: this.m, v: this.v };
  }

  /** Restores a saved state exactly. */
  load(state: AdamWState): void {
    this.stepCount = state.step;
    this.m.clear();
    this.v.clear();
    for (const [k, a] of state.m) this.m.set(k, Float32Array.from(a));
    for (const [k, a] of state.v) this.v.set(k, Float32Array.from(a));
  }
}
