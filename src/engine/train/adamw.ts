/**
 * AdamW over Float32Array parameters (the LoRA weights), its element loop in a WebAssembly SIMD kernel
 * (adamw-kernel.ts) that holds the moments. It follows torch.optim.AdamW step for step, rounding to
 * float32 after each operation as PyTorch's float32 kernels do, so a committed PyTorch fixture can
 * check it closely:
 *   p <- p * (1 - lr * wd)                         (decoupled weight decay)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */

import { createAdamWKernel } from "./adamw-kernel.js";

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

/** One parameter's place in the kernel's memory (in floats, padded to a multiple of 4). */
interface Slot {
  name: string;
  offset: number;
  length: number;
}

export class AdamW {
  readonly options: AdamWOptions;
  private stepCount = 0;
  private slots: Slot[] = [];
  private total = 0;
  private kernel: ReturnType<typeof createAdamWKernel> | undefined;
  /** Moments restored by load() before the first update laid the memory out. */
  private pending: { m: Map<string, Float32Array>; v: Map<string, Float32Array> } | undefined;

  constructor(options: Partial<AdamWOptions> = {}) {
    this.options = { ...defaultAdamW, ...options };
  }

  get step(): number {
    return this.stepCount;
  }

  /**
   * One update of every parameter in `params` with the matching gradient, at learning rate `lr`.
   * The gradient used is f32(f32(g / gradDivisor) * clip) (defaults 1: g itself), so a caller can
   * leave dividing by the token count and clipping to this pass.
   */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number, scaling: { gradDivisor?: number; clip?: number } = {}): void {
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for ${name}`);
      if (g.length !== p.length) throw new Error(`AdamW: gradient for ${name} has ${g.length} values, parameter ${p.length}`);
    }
    this.layOut(params);
    const { beta1, beta2, eps, weightDecay } = this.options;
    this.stepCount++;
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(beta1, t);
    const bc2 = 1 - Math.pow(beta2, t);
    const mem = new Float32Array(this.kernel!.memory.buffer);
    const n = this.total;
    for (const s of this.slots) {
      mem.set(params.get(s.name)!, s.offset);
      mem.set(grads.get(s.name)!, n + s.offset);
    }
    this.kernel!.run(0, 4 * n, 8 * n, 12 * n, 4 * n, f(beta1), f(1 - beta1), f(beta2), f(1 - beta2), f(1 - lr * weightDecay), f(scaling.clip ?? 1), Math.sqrt(bc2), eps, lr / bc1, scaling.gradDivisor ?? 1);
    for (const s of this.slots) params.get(s.name)!.set(mem.subarray(s.offset, s.offset + s.length));
  }

  /** The optimizer state (live views of its memory; copy before mutating). */
  state(): AdamWState {
    if (this.pending) return { step: this.stepCount, m: this.pending.m, v: this.pending.v };
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const s of this.slots) {
      m.set(s.name, this.view(2, s));
      v.set(s.name, this.view(3, s));
    }
    return { step: this.stepCount, m, v };
  }

  /** Restores a saved state exactly. */
  load(state: AdamWState): void {
    this.stepCount = state.step;
    const copy = (src: Map<string, Float32Array>) => new Map([...src].map(([k, a]) => [k, Float32Array.from(a)]));
    this.pending = { m: copy(state.m), v: copy(state.v) };
    this.slots = [];
    this.total = 0;
  }

  /** Block b (0 p, 1 g, 2 m, 3 v) of one parameter. */
  private view(block: number, s: Slot): Float32Array {
    return new Float32Array(this.kernel!.memory.buffer, 4 * (block * this.total + s.offset), s.length);
  }

  /** Places every parameter in the kernel's memory (again only when the set of parameters changes), keeping the moments. */
  private layOut(params: Map<string, Float32Array>): void {
    const same = this.slots.length === params.size && this.slots.every((s) => params.get(s.name)?.length === s.length);
    if (same && this.kernel) return;
    const old = this.pending ?? this.state();
    const slots: Slot[] = [];
    let total = 0;
    for (const [name, p] of params) {
      slots.push({ name, offset: total, length: p.length });
      total += (p.length + 3) & ~3;
    }
    this.kernel = createAdamWKernel(16 * total);
    this.slots = slots;
    this.total = total;
    this.pending = undefined;
    for (const s of slots) {
      const m = old.m.get(s.name);
      const v = old.v.get(s.name);
      if (m && m.length === s.length) this.view(2, s).set(m);
      if (v && v.length === s.length) this.view(3, s).set(v);
    }
  }
}
