/** Rotary embedding frequencies (HF "default" and "llama3" rope types), computed once in JS. */
import type { ModelConfig } from "../types.js";

/** inv_freq[i] = theta^(-2i/D) for i < D/2, with llama3 frequency scaling when configured. */
export function ropeInvFreq(c: ModelConfig): Float64Array {
  const D = c.headDim;
  const half = D / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(c.ropeTheta, (2 * i) / D);
  const s = c.ropeScaling;
  if (!s) return inv;
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
