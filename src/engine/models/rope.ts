/** Rotary embedding frequencies (HF "default", "linear" and "llama3" rope types), computed once in JS. */
import type { RopeSpec } from "../types.js";

/** inv_freq[i] = theta^(-2i/D) for i < D/2, with the spec's frequency scaling. */
export function ropeInvFreq(rope: RopeSpec, headDim: number): Float64Array {
  const D = headDim;
  const half = D / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(rope.theta, (2 * i) / D);
  const s = rope.scaling;
  if (!s) return inv;
  if (s.type === "linear") {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
    return inv;
  }
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen < highWavelen) continue; // high frequencies unchanged
    if (wavelen > lowWavelen) {
      inv[i] = inv[i] / s.factor;
    } else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
    }
  }
  return inv;
}

/** A key that is equal for equal specs (layers sharing a rope share its tables). */
export function ropeKey(rope: RopeSpec): string {
  return JSON.stringify(rope);
}
