/**
 * A small but real TrainStepEngine for testing the training loop on its own: a bigram language model
 * logits = (W + s B A) E[x] with frozen random E [V, d] and W [V, d], LoRA on W, exact analytic
 * gradients of the summed weighted cross-entropy. It learns, so loop behaviour (accumulation, resume,
 * early stopping, divergence) can be checked without the ONNX engine.
 */
import type { StepBatch } from "../../../src/engine/train/batches.js";
import type { StepResult, TrainStepEngine } from "../../../src/engine/train/engine.js";
import type { LoraParamShape } from "../../../src/engine/train/lora-init.js";
import { Rng } from "../../../src/engine/train/rng.js";

export class BigramEngine implements TrainStepEngine {
  readonly paramShapes: LoraParamShape[];
  private readonly E: Float64Array;
  private readonly W: Float64Array;
  /** Set to make run() report a non-finite loss from the given call on (divergence tests). */
  nanFromCall = Infinity;
  calls = 0;

  constructor(
    readonly vocab: number,
    readonly dim: number,
    readonly r: number,
    readonly scale: number,
    seed = 7,
  ) {
    const rng = new Rng(seed);
    this.E = Float64Array.from({ length: vocab * dim }, () => rng.nextFloat() * 2 - 1);
    this.W = Float64Array.from({ length: vocab * dim }, () => (rng.nextFloat() * 2 - 1) * 0.1);
    this.paramShapes = [
      { name: "lm.lora_A", shape: [r, dim] },
      { name: "lm.lora_B", shape: [vocab, r] },
    ];
  }

  private pass(batch: StepBatch, params: Map<string, Float32Array>, wantGrads: boolean): StepResult {
    const { vocab: V, dim: d, r, scale: s } = this;
    const A = params.get("lm.lora_A")!;
    const B = params.get("lm.lora_B")!;
    const gA = new Float64Array(r * d);
    const gB = new Float64Array(V * r);
    let lossSum = 0;
    let tokenCount = 0;
    const logits = new Float64Array(V);
    const u = new Float64Array(r);
    for (let t = 0; t < batch.inputIds.length; t++) {
      const w = batch.lossWeights[t];
      if (w === 0) continue;
      const x = batch.inputIds[t];
      const h = this.E.subarray(x * d, x * d + d);
      for (let j = 0; j < r; j++) {
        let a = 0;
        for (let i = 0; i < d; i++) a += A[j * d + i] * h[i];
        u[j] = a;
      }
      let max = -Infinity;
      for (let o = 0; o < V; o++) {
        let z = 0;
        for (let i = 0; i < d; i++) z += this.W[o * d + i] * h[i];
        for (let j = 0; j < r; j++) z += s * B[o * r + j] * u[j];
        logits[o] = z;
        if (z > max) max = z;
      }
      let den = 0;
      for (let o = 0; o < V; o++) den += Math.exp(logits[o] - max);
      const y = batch.targets[t];
      lossSum += w * (Math.log(den) + max - logits[y]);
      tokenCount += w;
      if (!wantGrads) continue;
      const du = new Float64Array(r);
      for (let o = 0; o < V; o++) {
        const g = w * (Math.exp(logits[o] - max) / den - (o === y ? 1 : 0));
        for (let j = 0; j < r; j++) {
          gB[o * r + j] += s * g * u[j];
          du[j] += s * g * B[o * r + j];
        }
      }
      for (let j = 0; j < r; j++) for (let i = 0; i < d; i++) gA[j * d + i] += du[j] * h[i];
    }
    return {
      lossSum,
      tokenCount,
      grads: new Map([
        ["lm.lora_A", Float32Array.from(gA)],
        ["lm.lora_B", Float32Array.from(gB)],
      ]),
    };
  }

  async run(batch: StepBatch, params: Map<string, Float32Array>): Promise<StepResult> {
    this.calls++;
    const r = this.pass(batch, params, true);
    if (this.calls >= this.nanFromCall) r.lossSum = Number.NaN;
    return r;
  }

  async evalLoss(batch: StepBatch, params: Map<string, Float32Array>) {
    const { lossSum, tokenCount } = this.pass(batch, params, false);
    return { lossSum, tokenCount };
  }

  dispose(): void {}
}
